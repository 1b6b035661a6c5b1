#pragma once
// Invariants: the FHIRPath constraints of the definitions (ElementDefinition.constraint) on every element
// of a resource: the element's own (ele-1, obs-7, pat-1, ...) and those of its type (per-1 on a Period,
// ref-1 on a Reference, dom-2 on a resource). An error-severity constraint that fails gives an error, a
// warning-severity one a warning.
//
// They are gathered during the structural walk (collect(), which visits every element anyway) and
// evaluated after it, only when the structure is sound: FHIRPath navigates the structure it assumes.
//  - ele-1 ("a value or children") holds for almost every element and is checked natively on the spot,
//    when the definitions state it in its standard form (tests check the native check agrees with the
//    FHIRPath);
//  - ext-1 is enforced by the structural validator itself.

#include <string>
#include <vector>

#include "fhir/definitions/element_definition.hpp"
#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/json/value.hpp"
#include "fhir/outcome.hpp"
#include "fhir/validation/constraint_evaluator.hpp"

namespace fhir::validation {

struct pending_invariant {
  const definitions::constraint* constraint;
  fhirpath::node node;
  std::string path;
  const json::value* resource;       // %resource
  const json::value* root_resource;  // %rootResource: the container of a contained resource
};

// The constraints on one element (`definition`, and the root of its type's definition when its children
// come from there), as `node` at `path`: ele-1 is checked now (a failure goes to `issues`), the others
// are appended to `pending`.
void collect_invariants(const definitions::element_definition& definition, const definitions::element_definition* type_root,
                        const fhirpath::node& node, const std::string& path, const json::value& resource,
                        const json::value& root_resource, std::vector<pending_invariant>& pending, std::vector<issue>& issues);

// Evaluates what collect_invariants() gathered.
void evaluate_invariants(const std::vector<pending_invariant>& pending, const constraint_evaluator& evaluator,
                         fhirpath::environment& env, std::vector<issue>& issues);

// The native ele-1: a primitive value, or any child besides the id.
bool ele_1_holds(const fhirpath::node& node);

}  // namespace fhir::validation
