#pragma once
// Evaluates ElementDefinition constraints (FHIRPath invariants) on instance nodes, for the invariant
// validator (the base definitions) and the profile validator (what profiles add). Expressions are
// compiled once per distinct text and shared; evaluate() is thread-safe.

#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/outcome.hpp"

namespace fhir::validation {

class constraint_evaluator {
 public:
  explicit constraint_evaluator(const definitions::registry& definitions) : defs_(definitions) {}

  // Evaluates `c` on `node` (found at `path`, in `resource`, itself in `root_resource`); appends an issue
  // when it fails (its severity; the key as message id) or cannot be evaluated (a warning).
  void evaluate(const definitions::constraint& c, const fhirpath::item& node, const std::string& path,
                const json::value& resource, const json::value& root_resource, fhirpath::environment& env,
                std::vector<issue>& issues) const;

  // The compiled expression for a text, or nullptr when it does not compile (`why` says why).
  const fhirpath::expression* compiled(const std::string& text, std::string* why = nullptr) const;

 private:
  struct entry {
    std::unique_ptr<fhirpath::expression> expression;
    std::string error;
  };
  const definitions::registry& defs_;
  mutable std::shared_mutex mutex_;
  mutable std::unordered_map<std::string, entry> cache_;  // guarded by mutex_
};

}  // namespace fhir::validation
