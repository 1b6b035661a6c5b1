// Our UK Core definitions (profiles/uk-core) must judge resources as the official ones do: the official
// definitions in ../shared/ukcore, loaded as a package, and ours give the same verdict and the same error
// locations on every official example of the five profiled types and on invalid variants of them.
#include <catch2/catch.hpp>

#include <functional>
#include <set>
#include <sstream>

#include "fhir/json/parse.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "profiles/definition_set.hpp"
#include "tests/support/test_data.hpp"

namespace {

using fhir::json::value;

struct verdict {
  bool valid = true;
  std::set<std::string> error_locations;
  std::string text;
};

verdict judge(const fhir::validation::resource_validator& v, const value& resource) {
  verdict out;
  std::ostringstream text;
  for (const auto& i : v.validate(resource)) {
    text << "[" << fhir::to_code(i.severity) << " " << i.message_id << " @ " << i.expression << "] " << i.diagnostics << "\n";
    if (i.severity != fhir::severity::error) continue;
    out.valid = false;
    out.error_locations.insert(i.expression);
  }
  out.text = text.str();
  return out;
}

fhir::validation::validation_options server_options() {
  return fhir::validation::validation_options{.default_profiles = fhir::profiles::uk_core_default_profiles()};
}

const fhir::validation::resource_validator& ours() {
  static const fhir::validation::resource_validator v(fhir::profiles::r4_uk_core(), server_options());
  return v;
}

// The official definitions, or nullptr when ../shared is absent (outside CI).
const fhir::validation::resource_validator* official() {
  static const auto dir = fhir::testing::shared_data("ukcore");
  if (!dir) return nullptr;
  static const auto definitions = [] {
    auto loaded = fhir::profiles::load_definitions({.uk_core = false, .packages = {*dir}});
    REQUIRE(loaded.ok());
    return std::move(*loaded);
  }();
  static const fhir::validation::resource_validator v(*definitions, server_options());
  return &v;
}

// Edits on a parsed resource by a slash-separated path of member names and array indexes.
value* at(value& root, std::string_view path) {
  value* current = &root;
  while (!path.empty() && current) {
    auto slash = path.find('/');
    std::string_view step = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (current->is_array()) {
      std::size_t index = std::stoul(std::string(step));
      current = index < current->as_array().size() ? &current->as_array()[index] : nullptr;
    } else {
      current = current->find(step);
    }
  }
  REQUIRE(current);
  return current;
}
value parse(std::string_view text) {
  auto parsed = fhir::json::parse(text);
  REQUIRE(parsed.ok());
  return std::move(*parsed);
}
std::function<void(value&)> set(std::string parent, std::string key, std::string json) {
  return [=](value& r) { at(r, parent)->set(key, parse(json)); };
}
std::function<void(value&)> remove(std::string parent, std::string key) {
  return [=](value& r) { at(r, parent)->erase(key); };
}
std::function<void(value&)> append(std::string array, std::string json) {
  return [=](value& r) { at(r, array)->as_array().push_back(parse(json)); };
}
std::function<void(value&)> both(std::function<void(value&)> a, std::function<void(value&)> b) {
  return [=](value& r) { a(r); b(r); };
}

struct variant {
  std::string name;
  std::string example;  // the official example it starts from
  std::function<void(value&)> edit;
};

const std::string nhs = R"({"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"})";
const std::string birth_sex = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-BirthSex";
const std::string ethnic = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory";

// Each breaks one UK Core (or base) rule; both definition sets must reject it at the same place.
const std::vector<variant>& variants() {
  static const std::vector<variant> list = {
      {"NHS number identifier without a value (nhsNumber.value 1..1)", "UKCore-Patient-RichardSmith-Example.json",
       remove("identifier/0", "value")},
      {"two NHS numbers (nhsNumber slice 0..1)", "UKCore-Patient-RichardSmith-Example.json", append("identifier", nhs)},
      {"NHS number that fails Modulus 11", "UKCore-Patient-RichardSmith-Example.json",
       set("identifier/0", "value", R"("9434765918")")},
      {"NHS number verification status outside its required value set", "UKCore-Patient-RichardSmith-Example.json",
       set("identifier/0/extension/0/valueCodeableConcept/coding/0", "code", R"("99")")},
      {"NHS number verification status twice (0..1)", "UKCore-Patient-RichardSmith-Example.json",
       append("identifier/0/extension",
              R"({"url":"https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                  "valueCodeableConcept":{"coding":[{"system":"https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland","code":"02"}]}})")},
      {"ethnic category twice (0..1)", "UKCore-Patient-RichardSmith-Example.json",
       append("extension", R"({"url":")" + ethnic + R"(","valueCodeableConcept":{"coding":[{"system":"https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland","code":"A"}]}})")},
      {"ethnic category with a value of the wrong type", "UKCore-Patient-RichardSmith-Example.json",
       both(remove("extension/0", "valueCodeableConcept"), set("extension/0", "valueString", R"("Irish")"))},
      {"birth sex outside its required value set", "UKCore-Patient-RichardSmith-Example.json",
       append("extension", R"({"url":")" + birth_sex + R"(","valueCodeableConcept":{"coding":[{"system":"http://hl7.org/fhir/administrative-gender","code":"other-ish"}]}})")},
      {"contact preference method twice (0..1)", "UKCore-Patient-RichardSmith-Example.json",
       append("extension/1/extension", R"({"url":"PreferredContactMethod","valueCodeableConcept":{"coding":[{"system":"https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredContactMethod","code":"3"}]}})")},
      {"contact rank of the wrong type", "UKCore-Patient-RichardSmith-Example.json",
       both(remove("contact/0/extension/0", "valuePositiveInt"), set("contact/0/extension/0", "valueString", R"("first")"))},
      {"gender outside the required administrative-gender value set", "UKCore-Patient-RichardSmith-Example.json",
       set("", "gender", R"("f")")},
      {"language proficiency twice on one communication (0..1)", "UKCore-Patient-Sn-MultipleLanguages-Example.json",
       append("communication/0/extension", R"({"url":"http://hl7.org/fhir/StructureDefinition/patient-proficiency","extension":[{"url":"level","valueCoding":{"system":"http://terminology.hl7.org/CodeSystem/v3-LanguageAbilityProficiency","code":"G"}}]})")},
      {"allergy without code (UK Core makes it 1..1)", "UKCore-AllergyIntolerance-Amoxicillin-Example.json", remove("", "code")},
      {"allergy reaction without manifestation (base 1..*)", "UKCore-AllergyIntolerance-Amoxicillin-Example.json",
       remove("reaction/0", "manifestation")},
      {"allergy confirmed but entered-in-error clinical status (ait-2)", "UKCore-AllergyIntolerance-Amoxicillin-Example.json",
       set("verificationStatus/coding/0", "code", R"("entered-in-error")")},
      {"allergy patient that is not a Patient", "UKCore-AllergyIntolerance-Amoxicillin-Example.json",
       set("patient", "reference", R"("Practitioner/UKCore-Practitioner-ConsultantSandraGose-Example")")},
      {"medication statement identifier without a system (UK Core 1..1)", "UKCore-MedicationStatement-Amoxicillin-Example.json",
       remove("identifier/0", "system")},
      {"medication statement identifier without a value (UK Core 1..1)", "UKCore-MedicationStatement-Amoxicillin-Example.json",
       remove("identifier/0", "value")},
      {"medication statement status outside its required value set", "UKCore-MedicationStatement-Amoxicillin-Example.json",
       set("", "status", R"("ongoing")")},
      {"medication statement subject that is a Practitioner", "UKCore-MedicationStatement-Amoxicillin-Example.json",
       set("subject", "reference", R"("Practitioner/p1")")},
      {"observation without status", "UKCore-Observation-VitalSigns-BodyWeight-Example.json", remove("", "status")},
      {"observation with a value and a data absent reason (obs-6)", "UKCore-Observation-VitalSigns-BodyWeight-Example.json",
       set("", "dataAbsentReason", R"({"coding":[{"system":"http://terminology.hl7.org/CodeSystem/data-absent-reason","code":"unknown"}]})")},
      {"observation quantity with a comparator code outside its value set", "UKCore-Observation-VitalSigns-BodyWeight-Example.json",
       set("valueQuantity", "comparator", R"("~")")},
      {"observation with an unknown modifier extension", "UKCore-Observation-VitalSigns-BodyWeight-Example.json",
       set("", "modifierExtension", R"([{"url":"http://example.org/fhir/StructureDefinition/not-really","valueBoolean":true}])")},
      {"consent without policy or policy rule (ppc-1)", "UKCore-Consent-ForInformationAccess-Example.json", remove("", "policy")},
      {"consent with an unknown status", "UKCore-Consent-ForInformationAccess-Example.json", set("", "status", R"("maybe")")},
      {"consent patient reference to a missing contained resource", "UKCore-Consent-ForInformationAccess-Example.json",
       set("patient", "reference", R"("#nobody")")},
  };
  return list;
}

const std::set<std::string> profiled_types = {"Patient", "MedicationStatement", "AllergyIntolerance", "Observation", "Consent"};

}  // namespace

TEST_CASE("our UK Core definitions agree with the official ones on every official example", "[profiles][ukcore][agreement]") {
  const auto* reference = official();
  if (!reference) return;
  auto dir = fhir::testing::shared_data("ukcore/examples");
  REQUIRE(dir);
  std::size_t compared = 0;
  for (const auto& file : fhir::testing::json_files(*dir)) {
    value resource = parse(fhir::testing::read_file(file));
    if (!profiled_types.contains(*resource.find_string("resourceType"))) continue;
    verdict theirs = judge(*reference, resource);
    verdict mine = judge(ours(), resource);
    INFO(file.filename().string() << "\nofficial:\n" << theirs.text << "ours:\n" << mine.text);
    CHECK(mine.valid == theirs.valid);
    CHECK(mine.error_locations == theirs.error_locations);
    ++compared;
  }
  CHECK(compared == 70);
}

TEST_CASE("our UK Core definitions agree with the official ones on invalid variants", "[profiles][ukcore][agreement]") {
  const auto* reference = official();
  if (!reference) return;
  auto dir = fhir::testing::shared_data("ukcore/examples");
  REQUIRE(dir);
  for (const variant& v : variants()) {
    value resource = parse(fhir::testing::read_file(*dir / v.example));
    v.edit(resource);
    verdict theirs = judge(*reference, resource);
    verdict mine = judge(ours(), resource);
    INFO(v.name << "\nofficial:\n" << theirs.text << "ours:\n" << mine.text);
    CHECK_FALSE(theirs.valid);
    CHECK_FALSE(mine.valid);
    CHECK(mine.error_locations == theirs.error_locations);
  }
}
