// Snapshot generation from differentials (fhir/definitions/snapshot_generator.hpp), through the registry.
#include <catch2/catch.hpp>

#include "fhir/definitions/r4.hpp"
#include "fhir/json/parse.hpp"
#include "tests/fhir/definitions_fixture.hpp"

using fhir::definitions::binding_strength;
using fhir::definitions::discriminator_type;
using fhir::definitions::slicing_rules;
using fhir::testing::registry_with;

namespace {

std::string profile(std::string_view type, std::string_view url, std::string_view elements) {
  return fmt::format(R"({{"resourceType":"StructureDefinition","url":"{}","name":"T","status":"active",
    "kind":"resource","abstract":false,"type":"{}","baseDefinition":"http://hl7.org/fhir/StructureDefinition/{}",
    "derivation":"constraint","differential":{{"element":[{}]}}}})",
                     url, type, type, elements);
}

}  // namespace

TEST_CASE("a differential's slice gets the sliced element's children, with its own constraints", "[fhir][snapshot]") {
  auto defs = registry_with({profile("Patient", "http://example.org/P", R"(
    {"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"value","path":"system"}],"rules":"closed"}},
    {"id":"Patient.identifier:nhs","path":"Patient.identifier","sliceName":"nhs","max":"1"},
    {"id":"Patient.identifier:nhs.system","path":"Patient.identifier.system","min":1,"fixedUri":"https://fhir.nhs.uk/Id/nhs-number"},
    {"id":"Patient.identifier:nhs.value","path":"Patient.identifier.value","min":1,"constraint":[{"key":"x-1","severity":"error","human":"ten","expression":"length() = 10"}]},
    {"id":"Patient.gender","path":"Patient.gender","min":1})")});
  const auto* p = defs->find_structure("http://example.org/P");
  REQUIRE(p);
  const auto* identifier = p->find_by_id("Patient.identifier");
  REQUIRE(identifier);
  REQUIRE(identifier->slicing);
  CHECK(identifier->slicing->rules == slicing_rules::closed);
  REQUIRE(identifier->slicing->discriminators.size() == 1);
  CHECK(identifier->slicing->discriminators[0].type == discriminator_type::value);
  REQUIRE(identifier->slices.size() == 1);
  const auto* slice = identifier->slices[0];
  CHECK(slice->slice_name == "nhs");
  CHECK(slice->min == 0);  // a new slice is optional unless the differential says otherwise
  CHECK(slice->max == 1);
  CHECK(slice->sliced == identifier);
  const auto* system = p->find_by_id("Patient.identifier:nhs.system");
  REQUIRE(system);
  CHECK(system->min == 1);
  CHECK(system->fixed.as_string() == "https://fhir.nhs.uk/Id/nhs-number");
  CHECK(system->base_element == defs->find_type("Identifier")->find_by_id("Identifier.system"));
  // Every child of Identifier is there, unchanged where the differential is silent.
  const auto* period = p->find_by_id("Patient.identifier:nhs.period");
  REQUIRE(period);
  CHECK(period->max == 1);
  const auto* value = p->find_by_id("Patient.identifier:nhs.value");
  REQUIRE(value);
  bool inherited = false, added = false;
  for (const auto& c : value->constraints) {
    inherited |= c.key == "ele-1";
    added |= c.key == "x-1";
  }
  CHECK(inherited);
  CHECK(added);
  CHECK(p->find_by_id("Patient.gender")->min == 1);
  CHECK(p->find_by_id("Patient.gender")->base_element == defs->find_type("Patient")->find_by_id("Patient.gender"));
}

TEST_CASE("extension slices are sliced by url and unfold from the extension's definition", "[fhir][snapshot]") {
  auto defs = registry_with({profile("Patient", "http://example.org/P", R"(
    {"id":"Patient.extension:birthPlace","path":"Patient.extension","sliceName":"birthPlace","min":1,
     "type":[{"code":"Extension","profile":["http://hl7.org/fhir/StructureDefinition/patient-birthPlace"]}]},
    {"id":"Patient.extension:birthPlace.value[x]","path":"Patient.extension.value[x]","short":"where"})")});
  const auto* p = defs->find_structure("http://example.org/P");
  REQUIRE(p);
  const auto* extension = p->find_by_id("Patient.extension");
  REQUIRE(extension->slicing);
  REQUIRE(extension->slicing->discriminators.size() == 1);
  CHECK(extension->slicing->discriminators[0].path == "url");
  CHECK(extension->slicing->rules == slicing_rules::open);
  const auto* url = p->find_by_id("Patient.extension:birthPlace.url");
  REQUIRE(url);
  CHECK(url->fixed.as_string() == "http://hl7.org/fhir/StructureDefinition/patient-birthPlace");
  const auto* value = p->find_by_id("Patient.extension:birthPlace.value[x]");
  REQUIRE(value);
  REQUIRE(value->types.size() == 1);
  CHECK(value->types[0].code == "Address");
}

TEST_CASE("a binding that only sets the strength keeps the inherited value set", "[fhir][snapshot]") {
  auto defs = registry_with({profile("Observation", "http://example.org/O", R"(
    {"id":"Observation.bodySite","path":"Observation.bodySite","binding":{"strength":"preferred"}},
    {"id":"Observation.valueQuantity","path":"Observation.valueQuantity","min":1})")});
  const auto* o = defs->find_structure("http://example.org/O");
  REQUIRE(o);
  const auto* body_site = o->find_by_id("Observation.bodySite");
  REQUIRE(body_site->binding);
  CHECK(body_site->binding->strength == binding_strength::preferred);
  CHECK(body_site->binding->value_set == "http://hl7.org/fhir/ValueSet/body-site");
  // `valueQuantity` in a differential constrains value[x] to Quantity.
  const auto* value = o->find_by_id("Observation.value[x]");
  REQUIRE(value);
  CHECK(value->min == 1);
  REQUIRE(value->types.size() == 1);
  CHECK(value->types[0].code == "Quantity");
}

TEST_CASE("profiles on profiles are generated in order, whatever the order they are added in", "[fhir][snapshot]") {
  auto defs = registry_with({
      fmt::format(R"({{"resourceType":"StructureDefinition","url":"http://example.org/child","name":"C","status":"active",
        "kind":"resource","abstract":false,"type":"Patient","baseDefinition":"http://example.org/parent",
        "derivation":"constraint","differential":{{"element":[{{"id":"Patient.birthDate","path":"Patient.birthDate","min":1}}]}}}})"),
      profile("Patient", "http://example.org/parent", R"({"id":"Patient.gender","path":"Patient.gender","min":1})")});
  const auto* child = defs->find_structure("http://example.org/child");
  REQUIRE(child);
  CHECK(child->find_by_id("Patient.gender")->min == 1);
  CHECK(child->find_by_id("Patient.birthDate")->min == 1);
}

TEST_CASE("a differential that cannot apply fails with the element named", "[fhir][snapshot]") {
  auto unknown_element = fhir::testing::try_registry_with({profile("Patient", "http://example.org/P",
                                                                   R"({"id":"Patient.shoeSize","path":"Patient.shoeSize","min":1})")});
  REQUIRE_FALSE(unknown_element.ok());
  CHECK_THAT(unknown_element.error().summary(), Catch::Contains("Patient.shoeSize"));
  auto unknown_base = fhir::testing::try_registry_with(
      {R"({"resourceType":"StructureDefinition","url":"http://example.org/X","name":"X","status":"active","kind":"resource",
         "abstract":false,"type":"Patient","baseDefinition":"http://example.org/nowhere","derivation":"constraint",
         "differential":{"element":[{"id":"Patient","path":"Patient"}]}})"});
  REQUIRE_FALSE(unknown_base.ok());
  CHECK_THAT(unknown_base.error().summary(), Catch::Contains("http://example.org/nowhere"));
}
