#pragma once
// `fhir-server fhirpath EXPRESSION [FILE]`: evaluates an expression for people exploring FHIRPath.

#include <ostream>
#include <string>

namespace server::cli {

// Writes the result collection as a JSON array of {"type", "value"} to `out`, or the error to `err`.
// Returns the exit status: 0 on success, 1 on a syntax, input or evaluation error.
int run_fhirpath(const std::string& expression, const std::string& file, std::ostream& out, std::ostream& err);

}  // namespace server::cli
