#pragma once
// The official UK Core examples that this server rejects, each with the reason and the exact errors it
// gives (message id, location). Every test that feeds UK Core examples to the server skips these.

#include <string>
#include <utility>
#include <vector>

namespace fhir::testing {

struct ukcore_exception {
  std::string file;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> errors;  // (message id, FHIRPath) in order
};

const std::vector<ukcore_exception>& ukcore_exceptions();
const ukcore_exception* find_ukcore_exception(const std::string& file);

}  // namespace fhir::testing
