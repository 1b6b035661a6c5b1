#pragma once
// Terminology bindings (terminologies.html#binding): a coded value against the value set an element is
// bound to, and codes against the local code systems they claim.
//  - required: a code outside the value set is an error (code-invalid);
//  - extensible: a warning; preferred: information;
//  - example bindings and value sets that cannot be expanded locally are not checked (see
//    terminology_service: SNOMED CT filters need a terminology server, and guessing would reject valid
//    data).

#include <string>
#include <string_view>
#include <vector>

#include "fhir/definitions/element_definition.hpp"
#include "fhir/json/value.hpp"
#include "fhir/outcome.hpp"
#include "fhir/terminology/terminology_service.hpp"

namespace fhir::validation {

class binding_checker {
 public:
  explicit binding_checker(const terminology::terminology_service& terminology) : terminology_(terminology) {}

  // Checks `value` of FHIR type `type_code` (code, Coding, CodeableConcept, Quantity, string, uri) at
  // `path` against `binding`; `where` names the definition for messages (a profile, or empty).
  void check(const definitions::binding& binding, std::string_view type_code, const json::value& value,
             const std::string& path, std::string_view where, std::vector<issue>& issues) const;

  // A Coding (or a Quantity's system/code) naming a complete local code system must use one of its codes.
  void check_code_system(const json::value& coding, const std::string& path, std::vector<issue>& issues) const;

 private:
  const terminology::terminology_service& terminology_;
};

}  // namespace fhir::validation
