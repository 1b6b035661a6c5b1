#pragma once
// Invariants: the FHIRPath constraints of the definitions (ElementDefinition.constraint), evaluated on
// every element of a resource: the element's own constraints (ele-1, obs-7, ...) and those of its type
// (per-1 on a Period, ref-1 on a Reference, dom-2 on a resource). An error-severity constraint that
// fails gives an error; a warning-severity one a warning.
//
// ext-1 is not evaluated here: the structural validator already enforces it for every extension.
// validate() is thread-safe.

#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/json/value.hpp"
#include "fhir/outcome.hpp"
#include "fhir/validation/constraint_evaluator.hpp"

namespace fhir::validation {

class invariant_validator {
 public:
  invariant_validator(const definitions::registry& definitions, const constraint_evaluator& evaluator)
      : defs_(definitions), evaluator_(evaluator) {}

  // Assumes the resource is structurally valid (validate_structure found no errors).
  std::vector<issue> validate(const json::value& resource) const;

 private:
  const definitions::registry& defs_;
  const constraint_evaluator& evaluator_;
};

}  // namespace fhir::validation
