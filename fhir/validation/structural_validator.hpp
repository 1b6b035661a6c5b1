#pragma once
// Structural validation of a resource against the base StructureDefinition of its type, as FHIR JSON:
//  - FHIR's JSON rules: no null (except to align primitive arrays with their `_name` extensions), no empty
//    objects, arrays or strings, no duplicate property names;
//  - element names (unknown elements), cardinality (min/max), single values vs arrays;
//  - element types, including choice types (`value[x]` as exactly one `valueQuantity` etc.), complex types,
//    backbone elements, content references, contained and nested resources;
//  - primitive formats by the regexes, lengths and ranges of the R4 definitions, plus calendar validity of
//    dates; `_name` primitive extensions with array alignment;
//  - extensions: exactly one of value[x] or nested extensions (the url is required by cardinality).
// Every issue names its element with a FHIRPath expression, e.g. `Patient.identifier[0].system`.
//
// Thread-safe: it only reads the registry.

#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/json/value.hpp"
#include "fhir/outcome.hpp"
#include "fhir/validation/invariants.hpp"

namespace fhir::validation {

class element_rules;

// Validates `resource` (any resource type the registry defines). Returns the issues found; the resource
// is structurally valid when none has severity error.
std::vector<issue> validate_structure(const definitions::registry& definitions, const json::value& resource);

// What the walk finds beyond the structure: the element rules' issues (bindings, references,
// extensions, ele-1, ...) and the invariants to evaluate once the structure is known to be sound.
struct rule_output {
  std::vector<issue> issues;
  std::vector<pending_invariant> invariants;
};

// The same walk, applying `rules` to every element and gathering every element's invariants on the way.
std::vector<issue> validate_structure(const definitions::registry& definitions, const json::value& resource,
                                      const element_rules* rules, rule_output& out);

}  // namespace fhir::validation
