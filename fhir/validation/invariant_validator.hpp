#pragma once
// Invariants: the FHIRPath constraints of the definitions (ElementDefinition.constraint), evaluated on
// every element of a resource: the element's own constraints (ele-1, obs-7, ...) and those of its type
// (per-1 on a Period, ref-1 on a Reference, dom-2 on a resource). An error-severity constraint that
// fails gives an error; a warning-severity one a warning.
//
// ext-1 is not evaluated here: the structural validator already enforces it for every extension.
// Expressions are compiled once per distinct text and shared; validate() is thread-safe.

#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/json/value.hpp"
#include "fhir/outcome.hpp"

namespace fhir::validation {

class invariant_validator {
 public:
  explicit invariant_validator(const definitions::registry& definitions);

  // Assumes the resource is structurally valid (validate_structure found no errors).
  std::vector<issue> validate(const json::value& resource) const;

 private:
  // The compiled expression for a constraint, or nullptr when it does not compile (reported once).
  const fhirpath::expression* compiled(const std::string& expression, std::vector<issue>& issues,
                                       const definitions::constraint& c) const;

  const definitions::registry& defs_;
  mutable std::shared_mutex mutex_;
  mutable std::unordered_map<std::string, std::unique_ptr<fhirpath::expression>> cache_;  // guarded by mutex_
};

}  // namespace fhir::validation
