#pragma once
// The rules of the base specification (and of this server) that apply to each element as the structural
// validator walks a resource, beyond its structure:
//  - terminology bindings of the base definitions, and codes of local code systems;
//  - references: form, target types, contained targets;
//  - extensions: the url names a known definition (else the configured policy), the definition allows
//    the place it is used (context) and its modifier status, and the extension conforms to it;
//  - type profiles the base definitions name (SimpleQuantity);
//  - NHS numbers (https://fhir.nhs.uk/Id/nhs-number): ten digits passing the Modulus 11 check, in any
//    Identifier (Patient.identifier, Reference.identifier, ...).

#include <string>
#include <string_view>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/json/value.hpp"
#include "fhir/outcome.hpp"
#include "fhir/validation/profile_validator.hpp"
#include "fhir/validation/validation_options.hpp"

namespace fhir::validation {

// One occurrence of an element in an instance, with where it sits.
struct element_site {
  const definitions::element_definition& element;  // its definition in the base specification
  const definitions::type_ref* type;               // its type here (nullptr for a backbone element)
  const definitions::type_info* type_info;
  const json::value* value;                        // nullptr for a primitive with only extensions
  const json::value* extension;                    // a primitive's `_name` half
  const std::string& path;                         // FHIRPath: "Patient.contact[0].telecom[1]"
  std::string_view host_path;                      // definition path of what holds it: "Patient.contact"
  // The same from the nearest datatype, in two parts: "ContactPoint" + ".system" (or "HumanName" + "").
  std::string_view host_type_root;
  std::string_view host_type_rest;
  const definitions::type_info* host_type;         // the type of what holds it
  const std::string* host_extension_url;           // when held by an extension: that extension's url
  const json::value& resource;                     // the resource it is in
  const json::value& container;                    // the resource whose contained list `#id` resolves in
};

class element_rules {
 public:
  element_rules(const definitions::registry& definitions, const profile_validator& profiles, const binding_checker& bindings,
                const reference_checker& references, const validation_options& options)
      : defs_(definitions),
        profiles_(profiles),
        bindings_(bindings),
        references_(references),
        options_(options),
        types_{definitions.find_type_info("code"),           definitions.find_type_info("string"),
               definitions.find_type_info("uri"),            definitions.find_type_info("Coding"),
               definitions.find_type_info("CodeableConcept"), definitions.find_type_info("Reference"),
               definitions.find_type_info("Identifier"),     definitions.find_type_info("Extension")} {}

  void check(const element_site& site, std::vector<issue>& issues) const;

 private:
  void extension(const element_site& site, std::vector<issue>& issues) const;
  bool context_allows(const definitions::structure_definition& extension, const element_site& site) const;
  void identifier(const element_site& site, std::vector<issue>& issues) const;

  // The FHIR types the rules single out, resolved once.
  struct known_types {
    const definitions::type_info* code = nullptr;
    const definitions::type_info* string = nullptr;
    const definitions::type_info* uri = nullptr;
    const definitions::type_info* coding = nullptr;
    const definitions::type_info* codeable_concept = nullptr;
    const definitions::type_info* reference = nullptr;
    const definitions::type_info* identifier = nullptr;
    const definitions::type_info* extension = nullptr;
  };

  const definitions::registry& defs_;
  const profile_validator& profiles_;
  const binding_checker& bindings_;
  const reference_checker& references_;
  const validation_options& options_;
  known_types types_;
};

}  // namespace fhir::validation
