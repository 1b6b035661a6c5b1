#pragma once
// Validation against a profile (a StructureDefinition with derivation = constraint): what the profile
// adds to the base definition the structural validator already checked.
//  - cardinality tightened (min/max), types restricted (value[x] to fewer types), maxLength;
//  - fixed[x] (equal) and pattern[x] (contained);
//  - bindings that differ from the base (required: error; extensible: warning; preferred: information);
//  - constraints the profile adds (FHIRPath);
//  - slicing: each repetition is assigned to a slice by the discriminators (value, pattern, exists, type,
//    profile), then each slice's min/max, closed slicing (no other repetitions), ordered slicing;
//  - type profiles (an element that must conform to a datatype profile or extension definition) and
//    targetProfiles of references.
// Issues name the instance location as FHIRPath ("Patient.identifier[0].system") and the profile.
//
// Thread-safe: it only reads the registry and shared caches.

#include <string>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/fhirpath/value.hpp"
#include "fhir/json/value.hpp"
#include "fhir/outcome.hpp"
#include "fhir/terminology/terminology_service.hpp"
#include "fhir/validation/binding_checker.hpp"
#include "fhir/validation/constraint_evaluator.hpp"
#include "fhir/validation/environment_pool.hpp"
#include "fhir/validation/reference_checker.hpp"

namespace fhir::validation {

class profile_validator {
 public:
  profile_validator(const definitions::registry& definitions, const terminology::terminology_service& terminology,
                    const constraint_evaluator& constraints);

  // Validates a resource against a profile of its type.
  void validate(const json::value& resource, const definitions::structure_definition& profile, std::vector<issue>& issues) const;

  // Validates one element of `resource` (the node at `path`) against a profile of the element's type:
  // an extension definition, a datatype profile.
  void validate_element(const fhirpath::node& element, const definitions::structure_definition& profile, const std::string& path,
                        const json::value& resource, std::vector<issue>& issues) const;

  // Does the node conform to the profile (no errors)? For conformsTo() and profile discriminators.
  bool conforms(const fhirpath::node& element, const definitions::structure_definition& profile, const json::value& resource) const;

  const definitions::registry& definitions() const { return defs_; }
  // FHIRPath environments set up for validation (memberOf, conformsTo, lenient as()).
  environment_pool& environments() const { return environments_; }

 private:
  friend class profile_walker;
  std::optional<bool> member_of(const fhirpath::item& coded, std::string_view url) const;

  const definitions::registry& defs_;
  const terminology::terminology_service& terminology_;
  const constraint_evaluator& constraints_;
  binding_checker bindings_;
  reference_checker references_;
  mutable environment_pool environments_;
};

}  // namespace fhir::validation
