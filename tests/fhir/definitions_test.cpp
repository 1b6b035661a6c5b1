#include <catch2/catch.hpp>

#include "fhir/definitions/r4.hpp"

using fhir::definitions::r4;

TEST_CASE("the embedded R4 definitions load and link", "[fhir][definitions]") {
  const auto& defs = r4();
  CHECK(defs.structure_count() > 600);  // resources, types, core profiles and extensions
  CHECK(defs.is_resource_type("Patient"));
  CHECK(defs.is_resource_type("Bundle"));
  CHECK_FALSE(defs.is_resource_type("DomainResource"));
  CHECK_FALSE(defs.is_resource_type("Resource"));
  CHECK_FALSE(defs.is_resource_type("HumanName"));
  CHECK(defs.resource_types().size() == 147);  // every non-abstract resource StructureDefinition of R4
  CHECK(defs.search_parameters().size() > 1000);
  CHECK(defs.find_value_set("http://hl7.org/fhir/ValueSet/administrative-gender") != nullptr);
  CHECK(defs.find_code_system("http://hl7.org/fhir/administrative-gender") != nullptr);
  CHECK(defs.find_compartment_definition("Patient") != nullptr);
}

TEST_CASE("element trees are linked from the snapshot", "[fhir][definitions]") {
  const auto& defs = r4();
  const auto* patient = defs.find_type("Patient");
  REQUIRE(patient);
  const auto& root = patient->root();
  CHECK(root.properties.contains("birthDate"));
  CHECK(root.properties.contains("deceasedBoolean"));
  CHECK(root.properties.contains("deceasedDateTime"));
  CHECK_FALSE(root.properties.contains("deceased"));
  CHECK(root.properties.at("id").type->code == "id");  // the Resource.id errata
  const auto* contact = root.properties.at("contact").element;
  CHECK(contact->is_repeating());
  CHECK(contact->properties.contains("relationship"));

  const auto* questionnaire = defs.find_type("Questionnaire");
  const auto* item = questionnaire->root().properties.at("item").element;
  const auto* nested = item->properties.at("item").element;
  CHECK(nested->content_target == item);
}

TEST_CASE("primitive types carry the regex and inherited facets of their definitions", "[fhir][definitions]") {
  const auto& defs = r4();
  const auto* integer = defs.find_primitive("integer");
  const auto* positive = defs.find_primitive("positiveInt");
  const auto* code = defs.find_primitive("code");
  const auto* date = defs.find_primitive("date");
  REQUIRE((integer && positive && code && date));
  CHECK(integer->form() == fhir::definitions::json_form::number);
  CHECK(positive->form() == fhir::definitions::json_form::number);
  CHECK(defs.find_primitive("boolean")->form() == fhir::definitions::json_form::boolean);
  CHECK(code->form() == fhir::definitions::json_form::string);
  CHECK(positive->max_value() == 2147483647);  // inherited from integer
  CHECK(code->max_length() == 1048576);          // inherited from string
  CHECK(date->is_temporal());
  CHECK_FALSE(code->is_temporal());
  CHECK(code->matches_regex("final"));
  CHECK_FALSE(code->matches_regex(" final"));
  CHECK(positive->matches_regex("12"));
  CHECK_FALSE(positive->matches_regex("0"));
  CHECK(defs.find_primitive("Quantity") == nullptr);
}
