// Profile validation and the element rules (fhir/validation/profile_validator.hpp, slice_matcher.hpp,
// element_rules.hpp, binding_checker.hpp, reference_checker.hpp, resource_reader.hpp), over R4 plus the
// profiles, extension definitions and terminology written below. Each rule has a valid and an invalid case.
#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>

#include "fhir/json/parse.hpp"
#include "fhir/validation/nhs_number.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "tests/fhir/definitions_fixture.hpp"

namespace {

namespace fv = fhir::validation;
using fhir::severity;

constexpr std::string_view nhs = "https://fhir.nhs.uk/Id/nhs-number";

// Profiles (P: of Patient, O: of Observation), each about one rule.
constexpr std::string_view p_cardinality = "http://example.org/P/cardinality",
                           p_gender_versionless = "http://example.org/P/gender-versionless",
                           p_closed = "http://example.org/P/closed", p_ordered = "http://example.org/P/ordered",
                           p_open_at_end = "http://example.org/P/open-at-end", p_exists = "http://example.org/P/exists",
                           p_profile_slices = "http://example.org/P/profile-slices", p_typed = "http://example.org/P/typed",
                           p_typed_one = "http://example.org/P/typed-one", p_max_length = "http://example.org/P/max-length",
                           p_constraints = "http://example.org/P/constraints", p_extensions = "http://example.org/P/extensions",
                           p_extension_value = "http://example.org/P/extension-value";
constexpr std::string_view o_quantity = "http://example.org/O/quantity", o_fixed = "http://example.org/O/fixed",
                           o_pattern = "http://example.org/O/pattern", o_category = "http://example.org/O/category",
                           o_type_slices = "http://example.org/O/type-slices", o_bindings = "http://example.org/O/bindings",
                           o_snomed = "http://example.org/O/snomed", o_subject = "http://example.org/O/subject";

// A differential-only profile of a resource (kind "resource") or datatype (kind "complex-type").
std::string profile(std::string_view type, std::string_view url, std::string_view elements, std::string_view kind = "resource") {
  return fmt::format(R"({{"resourceType":"StructureDefinition","url":"{}","name":"T","status":"active",
    "kind":"{}","abstract":false,"type":"{}","baseDefinition":"http://hl7.org/fhir/StructureDefinition/{}",
    "derivation":"constraint","differential":{{"element":[{}]}}}})",
                     url, kind, type, type, elements);
}

// An extension allowed on Patient, its url fixed.
std::string extension_definition(std::string_view url, std::string_view elements) {
  return fmt::format(R"({{"resourceType":"StructureDefinition","url":"{}","name":"E","status":"active",
    "kind":"complex-type","abstract":false,"context":[{{"type":"element","expression":"Patient"}}],"type":"Extension",
    "baseDefinition":"http://hl7.org/fhir/StructureDefinition/Extension","derivation":"constraint",
    "differential":{{"element":[{},{{"id":"Extension.url","path":"Extension.url","fixedUri":"{}"}}]}}}})",
                     url, elements, url);
}

const fhir::definitions::registry& definitions() {
  static const auto registry = fhir::testing::registry_with({
      R"json({"resourceType":"CodeSystem","url":"http://example.org/cs/colours","status":"active","content":"complete",
        "concept":[{"code":"red"},{"code":"green"},{"code":"blue"}]})json",
      R"json({"resourceType":"ValueSet","url":"http://example.org/vs/red-green","status":"active",
        "compose":{"include":[{"system":"http://example.org/cs/colours","concept":[{"code":"red"},{"code":"green"}]}]}})json",
      R"json({"resourceType":"ValueSet","url":"http://example.org/vs/clinical-findings","status":"active",
        "compose":{"include":[{"system":"http://snomed.info/sct","filter":[{"property":"concept","op":"is-a","value":"404684003"}]}]}})json",
      extension_definition("http://example.org/ext/colour", R"json(
        {"id":"Extension.value[x]","path":"Extension.value[x]","min":1,"type":[{"code":"code"}],
         "binding":{"strength":"required","valueSet":"http://example.org/vs/red-green"}})json"),
      extension_definition("http://example.org/ext/modifier", R"json(
        {"id":"Extension","path":"Extension","isModifier":true,"isModifierReason":"It negates the resource"},
        {"id":"Extension.value[x]","path":"Extension.value[x]","type":[{"code":"boolean"}]})json"),
      extension_definition("http://example.org/ext/complex", R"json(
        {"id":"Extension.extension:part","path":"Extension.extension","sliceName":"part","min":1,"max":"1"},
        {"id":"Extension.extension:part.url","path":"Extension.extension.url","fixedUri":"part"},
        {"id":"Extension.extension:part.value[x]","path":"Extension.extension.value[x]","type":[{"code":"string"}]})json"),
      profile("Identifier", "http://example.org/SD/nhs-identifier", R"json(
        {"id":"Identifier.system","path":"Identifier.system","min":1,"fixedUri":"https://fhir.nhs.uk/Id/nhs-number"},
        {"id":"Identifier.value","path":"Identifier.value","min":1})json", "complex-type"),
      profile("Identifier", "http://example.org/SD/mrn-identifier", R"json(
        {"id":"Identifier.system","path":"Identifier.system","min":1,"fixedUri":"http://example.org/mrn"},
        {"id":"Identifier.value","path":"Identifier.value","min":1})json", "complex-type"),
      profile("Patient", p_cardinality, R"json(
        {"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"value","path":"system"}],"rules":"open"}},
        {"id":"Patient.identifier:nhs","path":"Patient.identifier","sliceName":"nhs"},
        {"id":"Patient.identifier:nhs.system","path":"Patient.identifier.system","min":1,"fixedUri":"https://fhir.nhs.uk/Id/nhs-number"},
        {"id":"Patient.identifier:nhs.value","path":"Patient.identifier.value","min":1},
        {"id":"Patient.name","path":"Patient.name","max":"1"},
        {"id":"Patient.gender","path":"Patient.gender","min":1,
         "binding":{"strength":"required","valueSet":"http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1"}})json"),
      profile("Patient", p_gender_versionless, R"json(
        {"id":"Patient.gender","path":"Patient.gender",
         "binding":{"strength":"required","valueSet":"http://hl7.org/fhir/ValueSet/administrative-gender"}})json"),
      profile("Patient", p_closed, R"json(
        {"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"value","path":"system"}],"rules":"closed"}},
        {"id":"Patient.identifier:nhs","path":"Patient.identifier","sliceName":"nhs","min":1,"max":"1"},
        {"id":"Patient.identifier:nhs.system","path":"Patient.identifier.system","fixedUri":"https://fhir.nhs.uk/Id/nhs-number"},
        {"id":"Patient.identifier:mrn","path":"Patient.identifier","sliceName":"mrn"},
        {"id":"Patient.identifier:mrn.system","path":"Patient.identifier.system","fixedUri":"http://example.org/mrn"})json"),
      profile("Patient", p_ordered, R"json(
        {"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"value","path":"system"}],"ordered":true,"rules":"open"}},
        {"id":"Patient.identifier:first","path":"Patient.identifier","sliceName":"first"},
        {"id":"Patient.identifier:first.system","path":"Patient.identifier.system","fixedUri":"http://example.org/first"},
        {"id":"Patient.identifier:second","path":"Patient.identifier","sliceName":"second"},
        {"id":"Patient.identifier:second.system","path":"Patient.identifier.system","fixedUri":"http://example.org/second"})json"),
      profile("Patient", p_open_at_end, R"json(
        {"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"value","path":"system"}],"rules":"openAtEnd"}},
        {"id":"Patient.identifier:first","path":"Patient.identifier","sliceName":"first"},
        {"id":"Patient.identifier:first.system","path":"Patient.identifier.system","fixedUri":"http://example.org/first"})json"),
      profile("Patient", p_exists, R"json(
        {"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"exists","path":"period"}],"rules":"open"}},
        {"id":"Patient.identifier:dated","path":"Patient.identifier","sliceName":"dated","min":1,"max":"1"},
        {"id":"Patient.identifier:dated.period","path":"Patient.identifier.period","min":1},
        {"id":"Patient.identifier:undated","path":"Patient.identifier","sliceName":"undated","max":"1"},
        {"id":"Patient.identifier:undated.period","path":"Patient.identifier.period","max":"0"})json"),
      profile("Patient", p_profile_slices, R"json(
        {"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"profile","path":"$this"}],"rules":"closed"}},
        {"id":"Patient.identifier:nhs","path":"Patient.identifier","sliceName":"nhs",
         "type":[{"code":"Identifier","profile":["http://example.org/SD/nhs-identifier"]}]})json"),
      profile("Patient", p_typed, R"json(
        {"id":"Patient.identifier","path":"Patient.identifier",
         "type":[{"code":"Identifier","profile":["http://example.org/SD/nhs-identifier","http://example.org/SD/mrn-identifier"]}]})json"),
      profile("Patient", p_typed_one, R"json(
        {"id":"Patient.identifier","path":"Patient.identifier",
         "type":[{"code":"Identifier","profile":["http://example.org/SD/nhs-identifier"]}]})json"),
      profile("Patient", p_max_length, R"json({"id":"Patient.name.family","path":"Patient.name.family","maxLength":5})json"),
      profile("Patient", p_constraints, R"json(
        {"id":"Patient","path":"Patient","constraint":[
          {"key":"test-1","severity":"error","human":"A name is required","expression":"name.exists()"},
          {"key":"test-2","severity":"warning","human":"A birth date is expected","expression":"birthDate.exists()"}]},
        {"id":"Patient.name","path":"Patient.name","constraint":[
          {"key":"test-3","severity":"error","human":"A family name is required","expression":"family.exists()"}]})json"),
      profile("Patient", p_extensions, R"json(
        {"id":"Patient.extension:colour","path":"Patient.extension","sliceName":"colour","min":1,"max":"1",
         "type":[{"code":"Extension","profile":["http://example.org/ext/colour"]}]})json"),
      profile("Patient", p_extension_value, R"json(
        {"id":"Patient.extension:colour","path":"Patient.extension","sliceName":"colour",
         "type":[{"code":"Extension","profile":["http://example.org/ext/colour"]}]},
        {"id":"Patient.extension:colour.value[x]","path":"Patient.extension.value[x]","short":"The colour"})json"),
      profile("Observation", o_quantity, R"json(
        {"id":"Observation.value[x]","path":"Observation.value[x]","min":1,"type":[{"code":"Quantity"}]})json"),
      profile("Observation", o_fixed, R"json(
        {"id":"Observation.status","path":"Observation.status","fixedCode":"final"},
        {"id":"Observation.code","path":"Observation.code",
         "fixedCodeableConcept":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]}})json"),
      profile("Observation", o_pattern, R"json(
        {"id":"Observation.code","path":"Observation.code",
         "patternCodeableConcept":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]}})json"),
      profile("Observation", o_category, R"json(
        {"id":"Observation.category","path":"Observation.category","slicing":{"discriminator":[{"type":"pattern","path":"$this"}],"rules":"open"}},
        {"id":"Observation.category:vitalSigns","path":"Observation.category","sliceName":"vitalSigns","min":1,"max":"1",
         "patternCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}})json"),
      profile("Observation", o_type_slices, R"json(
        {"id":"Observation.value[x]","path":"Observation.value[x]","slicing":{"discriminator":[{"type":"type","path":"$this"}],"rules":"closed"}},
        {"id":"Observation.value[x]:valueQuantity","path":"Observation.value[x]","sliceName":"valueQuantity","type":[{"code":"Quantity"}]})json"),
      profile("Observation", o_bindings, R"json(
        {"id":"Observation.code","path":"Observation.code","binding":{"strength":"required","valueSet":"http://example.org/vs/red-green"}},
        {"id":"Observation.method","path":"Observation.method","binding":{"strength":"extensible","valueSet":"http://example.org/vs/red-green"}},
        {"id":"Observation.bodySite","path":"Observation.bodySite","binding":{"strength":"preferred","valueSet":"http://example.org/vs/red-green"}},
        {"id":"Observation.value[x]","path":"Observation.value[x]","binding":{"strength":"example","valueSet":"http://example.org/vs/red-green"}})json"),
      profile("Observation", o_snomed, R"json(
        {"id":"Observation.code","path":"Observation.code","binding":{"strength":"required","valueSet":"http://example.org/vs/clinical-findings"}})json"),
      profile("Observation", o_subject, R"json(
        {"id":"Observation.subject","path":"Observation.subject",
         "type":[{"code":"Reference","targetProfile":["http://hl7.org/fhir/StructureDefinition/Patient"]}]})json"),
  });
  return *registry;
}

const fv::resource_validator& plain() {
  static const fv::resource_validator v(definitions());
  return v;
}
const fv::resource_validator& strict() {
  static const fv::resource_validator v(definitions(), fv::validation_options{.unknown_extensions = fv::unknown_extension_policy::error});
  return v;
}
const fv::resource_validator& with_defaults() {
  static const fv::resource_validator v(definitions(), fv::validation_options{.default_profiles = {{"Patient", std::string(p_cardinality)}}});
  return v;
}

fhir::json::value parse(std::string_view text) {
  auto parsed = fhir::json::parse(text);
  INFO(text);
  REQUIRE(parsed.ok());
  return std::move(parsed).value();
}

std::vector<fhir::issue> validate(const std::string& text, const fv::resource_validator& v = plain()) { return v.validate(parse(text)); }

// The issues of `text` validated against the profile `url` (requested, as $validate?profile= does).
std::vector<fhir::issue> against(std::string_view url, const std::string& text) {
  return plain().check(parse(text), {std::string(url)}).issues;
}

std::string patient(std::string_view members = {}) {
  return fmt::format(R"({{"resourceType":"Patient"{}{}}})", members.empty() ? "" : ",", members);
}

std::string observation(std::string_view members = {}, std::string_view code = R"({"text":"reading"})") {
  return fmt::format(R"({{"resourceType":"Observation","status":"final","code":{}{}{}}})", code, members.empty() ? "" : ",", members);
}

std::string identifiers(std::initializer_list<std::pair<std::string_view, std::string_view>> system_values) {
  std::string out = R"("identifier":[)";
  for (const auto& [system, value] : system_values)
    out += fmt::format(R"({}{{"system":"{}","value":"{}"}})", out.ends_with('[') ? "" : ",", system, value);
  return out + "]";
}

std::string describe(const std::vector<fhir::issue>& issues) {
  std::ostringstream out;
  for (const auto& i : issues)
    out << "[" << fhir::to_code(i.severity) << " " << i.message_id << " @ " << i.expression << "] " << i.diagnostics << "\n";
  return out.str();
}

bool has(const std::vector<fhir::issue>& issues, std::string_view id, std::string_view expression, severity level = severity::error) {
  return std::any_of(issues.begin(), issues.end(),
                     [&](const fhir::issue& i) { return i.message_id == id && i.expression == expression && i.severity == level; });
}

// Any issue with this message id, wherever it is and however severe.
bool has_id(const std::vector<fhir::issue>& issues, std::string_view id) {
  return std::any_of(issues.begin(), issues.end(), [&](const fhir::issue& i) { return i.message_id == id; });
}

std::size_t count_at(const std::vector<fhir::issue>& issues, std::string_view expression, std::string_view id = {}) {
  return static_cast<std::size_t>(std::count_if(issues.begin(), issues.end(), [&](const fhir::issue& i) {
    return i.expression == expression && (id.empty() || i.message_id == id);
  }));
}

std::vector<std::string> lines(const std::vector<fhir::issue>& issues) {
  std::vector<std::string> out;
  for (const auto& i : issues)
    out.push_back(fmt::format("{} {} {} @ {}: {}", fhir::to_code(i.severity), fhir::to_code(i.type), i.message_id, i.expression, i.diagnostics));
  return out;
}

}  // namespace

// ---- cardinality, types, fixed/pattern, maxLength, constraints -------------------------------------------

TEST_CASE("a profile tightens the cardinality of top-level elements", "[fhir][validation][profiles]") {
  SECTION("min") {
    auto missing = against(p_cardinality, patient());
    auto present = against(p_cardinality, patient(R"("gender":"female")"));
    INFO(describe(missing) << "--\n" << describe(present));
    CHECK(has(missing, "profile-cardinality-min", "Patient.gender"));
    CHECK_FALSE(has_id(present, "profile-cardinality-min"));
    CHECK_FALSE(fhir::has_errors(present));
  }
  SECTION("max") {
    auto two = against(p_cardinality, patient(R"("gender":"female","name":[{"family":"A"},{"family":"B"}])"));
    auto one = against(p_cardinality, patient(R"("gender":"female","name":[{"family":"A"}])"));
    INFO(describe(two) << "--\n" << describe(one));
    CHECK(has(two, "profile-cardinality-max", "Patient.name"));
    CHECK_FALSE(has_id(one, "profile-cardinality-max"));
    CHECK_FALSE(fhir::has_errors(one));
  }
}

TEST_CASE("a profile tightens cardinality inside a slice", "[fhir][validation][profiles]") {
  auto without_value = against(p_cardinality, patient(fmt::format(R"("gender":"male","identifier":[{{"system":"{}"}}])", nhs)));
  auto with_value = against(p_cardinality, patient(R"("gender":"male",)" + identifiers({{nhs, "9434765919"}})));
  auto other_system = against(p_cardinality, patient(R"("gender":"male","identifier":[{"system":"http://example.org/mrn"}])"));
  INFO(describe(without_value) << "--\n" << describe(with_value) << "--\n" << describe(other_system));
  CHECK(has(without_value, "profile-cardinality-min", "Patient.identifier[0].value"));
  CHECK(count_at(without_value, "Patient.identifier[0].value") == 1);
  CHECK_FALSE(fhir::has_errors(with_value));
  CHECK_FALSE(fhir::has_errors(other_system));  // not the nhs slice: its value is optional
}

TEST_CASE("what the base definitions already check is not reported again by a profile", "[fhir][validation][profiles]") {
  SECTION("a binding the profile restates") {
    auto issues = against(p_cardinality, patient(R"("gender":"robot")"));
    INFO(describe(issues));
    CHECK(has(issues, "binding-code", "Patient.gender"));
    CHECK(count_at(issues, "Patient.gender") == 1);
  }
  SECTION("base cardinality") {
    auto issues = against(o_fixed, R"({"resourceType":"Observation","code":{"text":"x"}})");
    INFO(describe(issues));
    CHECK(has(issues, "cardinality-min", "Observation.status"));
    CHECK(count_at(issues, "Observation.status") == 1);
  }
  SECTION("one profile claimed, defaulted and requested") {
    auto text = patient(fmt::format(R"("meta":{{"profile":["{}"]}})", p_cardinality));
    auto issues = with_defaults().check(parse(text), {std::string(p_cardinality)}).issues;
    INFO(describe(issues));
    CHECK(has(issues, "profile-cardinality-min", "Patient.gender"));
    CHECK(count_at(issues, "Patient.gender") == 1);
  }
}

TEST_CASE("a profile restating a base binding without its version does not repeat the finding", "[fhir][validation][profiles]") {
  // Patient.gender is bound to administrative-gender|4.0.1 in R4; the profile names the same value set.
  auto issues = against(p_gender_versionless, patient(R"("gender":"robot")"));
  INFO(describe(issues));
  CHECK(has(issues, "binding-code", "Patient.gender"));
  CHECK(count_at(issues, "Patient.gender", "binding-code") == 1);
}

TEST_CASE("a profile restricts the types of a choice element", "[fhir][validation][profiles]") {
  auto as_string = against(o_quantity, observation(R"("valueString":"high")"));
  auto quantity = against(o_quantity, observation(R"("valueQuantity":{"value":5,"unit":"mg"})"));
  auto none = against(o_quantity, observation());
  INFO(describe(as_string) << "--\n" << describe(quantity) << "--\n" << describe(none));
  CHECK(has(as_string, "profile-type-not-allowed", "Observation.value.ofType(string)"));
  CHECK_FALSE(has_id(as_string, "profile-cardinality-min"));  // present, if of the wrong type
  CHECK_FALSE(fhir::has_errors(quantity));
  CHECK(has(none, "profile-cardinality-min", "Observation.value"));
}

TEST_CASE("fixed[x] must match exactly, on a primitive and on a complex type", "[fhir][validation][profiles]") {
  const std::string fixed_code = R"({"coding":[{"code":"8867-4","system":"http://loinc.org"}]})";  // member order is free
  auto exact = against(o_fixed, observation({}, fixed_code));
  INFO(describe(exact));
  CHECK_FALSE(fhir::has_errors(exact));

  auto status = against(o_fixed, R"({"resourceType":"Observation","status":"amended","code":)" + fixed_code + "}");
  auto text = against(o_fixed, observation({}, R"({"coding":[{"system":"http://loinc.org","code":"8867-4"}],"text":"HR"})"));
  auto display = against(o_fixed, observation({}, R"({"coding":[{"system":"http://loinc.org","code":"8867-4","display":"HR"}]})"));
  auto other = against(o_fixed, observation({}, R"({"coding":[{"system":"http://loinc.org","code":"8310-5"}]})"));
  INFO(describe(status) << "--\n" << describe(text) << "--\n" << describe(display) << "--\n" << describe(other));
  CHECK(has(status, "profile-fixed", "Observation.status"));
  CHECK_FALSE(has(status, "profile-fixed", "Observation.code"));
  CHECK(has(text, "profile-fixed", "Observation.code"));
  CHECK(has(display, "profile-fixed", "Observation.code"));
  CHECK(has(other, "profile-fixed", "Observation.code"));
}

TEST_CASE("pattern[x] must be contained in the value", "[fhir][validation][profiles]") {
  auto more = against(o_pattern, observation({}, R"({"coding":[{"system":"http://snomed.info/sct","code":"364075005"},
      {"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"})"));
  auto other = against(o_pattern, observation({}, R"({"coding":[{"system":"http://loinc.org","code":"8310-5"}]})"));
  auto text_only = against(o_pattern, observation({}, R"({"text":"Heart rate"})"));
  INFO(describe(more) << "--\n" << describe(other) << "--\n" << describe(text_only));
  CHECK_FALSE(fhir::has_errors(more));
  CHECK(has(other, "profile-pattern", "Observation.code"));
  CHECK(has(text_only, "profile-pattern", "Observation.code"));
}

TEST_CASE("maxLength added by a profile counts characters, not bytes", "[fhir][validation][profiles]") {
  auto five = against(p_max_length, patient(R"("name":[{"family":"M\u00fcll\u00eb"}])"));  // 5 characters, 7 bytes
  auto six = against(p_max_length, patient(R"("name":[{"family":"M\u00fcller"}])"));
  INFO(describe(five) << "--\n" << describe(six));
  CHECK_FALSE(has_id(five, "profile-max-length"));
  CHECK(has(six, "profile-max-length", "Patient.name[0].family"));
}

TEST_CASE("constraints a profile adds fail with their key and severity", "[fhir][validation][profiles]") {
  auto bare = against(p_constraints, patient(R"("active":true)"));
  auto complete = against(p_constraints, patient(R"("name":[{"family":"Smith"}],"birthDate":"1970-01-01")"));
  auto given_only = against(p_constraints, patient(R"("name":[{"given":["Jo"]}],"birthDate":"1970-01-01")"));
  INFO(describe(bare) << "--\n" << describe(complete) << "--\n" << describe(given_only));
  CHECK(has(bare, "test-1", "Patient", severity::error));
  CHECK(has(bare, "test-2", "Patient", severity::warning));
  CHECK_FALSE(has_id(complete, "test-1"));
  CHECK_FALSE(has_id(complete, "test-2"));
  CHECK_FALSE(has_id(complete, "test-3"));
  CHECK(has(given_only, "test-3", "Patient.name[0]", severity::error));
  CHECK_FALSE(has_id(given_only, "test-1"));
}

// ---- slicing ---------------------------------------------------------------------------------------------

TEST_CASE("value discriminator, closed slicing and slice cardinality", "[fhir][validation][profiles][slicing]") {
  auto valid = against(p_closed, patient(identifiers({{nhs, "9434765919"}, {"http://example.org/mrn", "123"}})));
  auto unmatched = against(p_closed, patient(identifiers({{nhs, "9434765919"}, {"http://example.org/other", "x"}})));
  auto missing = against(p_closed, patient(identifiers({{"http://example.org/mrn", "123"}})));
  auto twice = against(p_closed, patient(identifiers({{nhs, "9434765919"}, {nhs, "9912003888"}})));
  INFO(describe(valid) << "--\n" << describe(unmatched) << "--\n" << describe(missing) << "--\n" << describe(twice));
  CHECK_FALSE(fhir::has_errors(valid));
  CHECK(has(unmatched, "profile-slice-closed", "Patient.identifier[1]"));
  CHECK_FALSE(has(unmatched, "profile-slice-closed", "Patient.identifier[0]"));
  CHECK(has(missing, "profile-cardinality-min", "Patient.identifier"));
  CHECK_FALSE(has_id(missing, "profile-slice-closed"));
  CHECK(has(twice, "profile-cardinality-max", "Patient.identifier"));
}

TEST_CASE("ordered and openAtEnd slicing", "[fhir][validation][profiles][slicing]") {
  constexpr std::string_view first = "http://example.org/first", second = "http://example.org/second", other = "http://example.org/other";
  SECTION("ordered") {
    auto in_order = against(p_ordered, patient(identifiers({{first, "1"}, {other, "x"}, {second, "2"}})));
    auto reversed = against(p_ordered, patient(identifiers({{second, "2"}, {first, "1"}})));
    INFO(describe(in_order) << "--\n" << describe(reversed));
    CHECK_FALSE(fhir::has_errors(in_order));
    CHECK(has(reversed, "profile-slice-order", "Patient.identifier[1]"));
  }
  SECTION("openAtEnd") {
    auto at_end = against(p_open_at_end, patient(identifiers({{first, "1"}, {other, "x"}})));
    auto before = against(p_open_at_end, patient(identifiers({{other, "x"}, {first, "1"}})));
    INFO(describe(at_end) << "--\n" << describe(before));
    CHECK_FALSE(fhir::has_errors(at_end));
    CHECK(has(before, "profile-slice-open-at-end", "Patient.identifier[1]"));
  }
}

TEST_CASE("pattern discriminator", "[fhir][validation][profiles][slicing]") {
  const std::string vital = R"({"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}],"text":"Vital signs"})";
  const std::string lab = R"({"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]})";
  auto matched = against(o_category, observation(fmt::format(R"("category":[{},{}])", lab, vital)));
  auto unmatched = against(o_category, observation(fmt::format(R"("category":[{}])", lab)));
  auto twice = against(o_category, observation(fmt::format(R"("category":[{},{}])", vital, vital)));
  INFO(describe(matched) << "--\n" << describe(unmatched) << "--\n" << describe(twice));
  CHECK_FALSE(fhir::has_errors(matched));
  CHECK(has(unmatched, "profile-cardinality-min", "Observation.category"));
  CHECK(has(twice, "profile-cardinality-max", "Observation.category"));
}

TEST_CASE("exists discriminator", "[fhir][validation][profiles][slicing]") {
  const std::string dated = R"({"system":"http://example.org/mrn","value":"1","period":{"start":"2020-01-01"}})";
  const std::string undated = R"({"system":"http://example.org/mrn","value":"2"})";
  auto both = against(p_exists, patient(fmt::format(R"("identifier":[{},{}])", undated, dated)));
  auto undated_only = against(p_exists, patient(fmt::format(R"("identifier":[{}])", undated)));
  auto dated_twice = against(p_exists, patient(fmt::format(R"("identifier":[{},{}])", dated, dated)));
  INFO(describe(both) << "--\n" << describe(undated_only) << "--\n" << describe(dated_twice));
  CHECK_FALSE(fhir::has_errors(both));  // one in each slice
  CHECK(has(undated_only, "profile-cardinality-min", "Patient.identifier"));
  CHECK(has(dated_twice, "profile-cardinality-max", "Patient.identifier"));
}

TEST_CASE("type discriminator on a choice element", "[fhir][validation][profiles][slicing]") {
  auto quantity = against(o_type_slices, observation(R"("valueQuantity":{"value":72})"));
  auto as_string = against(o_type_slices, observation(R"("valueString":"72")"));
  INFO(describe(quantity) << "--\n" << describe(as_string));
  CHECK_FALSE(fhir::has_errors(quantity));
  CHECK(has(as_string, "profile-slice-closed", "Observation.value.ofType(string)"));
}

TEST_CASE("profile discriminator and type profiles", "[fhir][validation][profiles][slicing]") {
  SECTION("a repetition belongs to the slice whose profile it conforms to") {
    auto conforming = against(p_profile_slices, patient(identifiers({{nhs, "9434765919"}})));
    auto other_system = against(p_profile_slices, patient(identifiers({{"http://example.org/mrn", "1"}})));
    auto no_value = against(p_profile_slices, patient(fmt::format(R"("identifier":[{{"system":"{}"}}])", nhs)));
    INFO(describe(conforming) << "--\n" << describe(other_system) << "--\n" << describe(no_value));
    CHECK_FALSE(fhir::has_errors(conforming));
    CHECK(has(other_system, "profile-slice-closed", "Patient.identifier[0]"));
    CHECK(has(no_value, "profile-slice-closed", "Patient.identifier[0]"));
  }
  SECTION("an element must conform to one of its type's profiles") {
    auto nhs_number = against(p_typed, patient(identifiers({{nhs, "9434765919"}})));
    auto mrn = against(p_typed, patient(identifiers({{"http://example.org/mrn", "1"}})));
    auto neither = against(p_typed, patient(identifiers({{"http://example.org/other", "1"}})));
    auto not_the_one = against(p_typed_one, patient(identifiers({{"http://example.org/other", "1"}})));
    INFO(describe(nhs_number) << "--\n" << describe(mrn) << "--\n" << describe(neither) << "--\n" << describe(not_the_one));
    CHECK_FALSE(fhir::has_errors(nhs_number));
    CHECK_FALSE(fhir::has_errors(mrn));
    CHECK(has(neither, "profile-none-matched", "Patient.identifier[0]"));
    CHECK(has(not_the_one, "profile-fixed", "Patient.identifier[0].system"));
  }
}

// ---- extensions ------------------------------------------------------------------------------------------

TEST_CASE("extension slices are matched by url and counted", "[fhir][validation][profiles][extensions]") {
  const std::string red = R"({"url":"http://example.org/ext/colour","valueCode":"red"})";
  const std::string green = R"({"url":"http://example.org/ext/colour","valueCode":"green"})";
  const std::string other = R"({"url":"http://example.org/ext/nowhere","valueString":"x"})";
  auto one = against(p_extensions, patient(fmt::format(R"("extension":[{},{}])", other, red)));
  auto none = against(p_extensions, patient(fmt::format(R"("extension":[{}])", other)));
  auto two = against(p_extensions, patient(fmt::format(R"("extension":[{},{}])", red, green)));
  auto wrong_code = against(p_extensions, patient(R"("extension":[{"url":"http://example.org/ext/colour","valueCode":"purple"}])"));
  INFO(describe(one) << "--\n" << describe(none) << "--\n" << describe(two) << "--\n" << describe(wrong_code));
  CHECK_FALSE(fhir::has_errors(one));
  CHECK(has(none, "profile-cardinality-min", "Patient.extension"));
  CHECK(has(two, "profile-cardinality-max", "Patient.extension"));
  // The extension is checked against its definition once, not again for the slice.
  CHECK(count_at(wrong_code, "Patient.extension[0].value.ofType(code)", "binding-code") == 1);
}

TEST_CASE("an extension slice constraining inside the extension does not repeat the definition's findings",
          "[fhir][validation][profiles][extensions]") {
  auto issues = against(p_extension_value, patient(R"("extension":[{"url":"http://example.org/ext/colour","valueCode":"purple"}])"));
  INFO(describe(issues));
  CHECK(has(issues, "binding-code", "Patient.extension[0].value.ofType(code)"));
  CHECK(count_at(issues, "Patient.extension[0].value.ofType(code)", "binding-code") == 1);
}

TEST_CASE("sub-extensions of a complex extension are slices with fixed urls", "[fhir][validation][extensions]") {
  auto complex = [](std::string_view parts) {
    return validate(patient(fmt::format(R"("extension":[{{"url":"http://example.org/ext/complex","extension":[{}]}}])", parts)));
  };
  auto valid = complex(R"({"url":"part","valueString":"x"})");
  auto missing = complex(R"({"url":"other","valueString":"y"})");
  auto twice = complex(R"({"url":"part","valueString":"x"},{"url":"part","valueString":"y"})");
  auto wrong_type = complex(R"({"url":"part","valueInteger":1})");
  INFO(describe(valid) << "--\n" << describe(missing) << "--\n" << describe(twice) << "--\n" << describe(wrong_type));
  CHECK_FALSE(fhir::has_errors(valid));
  CHECK(has(missing, "profile-cardinality-min", "Patient.extension[0].extension"));
  CHECK(has(twice, "profile-cardinality-max", "Patient.extension[0].extension"));
  CHECK(has(wrong_type, "profile-type-not-allowed", "Patient.extension[0].extension[0].value.ofType(integer)"));
}

TEST_CASE("unknown extensions follow the policy, unknown modifier extensions are rejected", "[fhir][validation][extensions]") {
  const std::string unknown = patient(R"("extension":[{"url":"http://example.org/ext/nowhere","valueString":"x"}])");
  auto lenient = validate(unknown);
  auto rejected = validate(unknown, strict());
  auto known = validate(patient(R"("extension":[{"url":"http://example.org/ext/colour","valueCode":"red"}])"), strict());
  auto modifier = validate(patient(R"("modifierExtension":[{"url":"http://example.org/ext/nowhere","valueBoolean":true}])"));
  INFO(describe(lenient) << "--\n" << describe(rejected) << "--\n" << describe(known) << "--\n" << describe(modifier));
  CHECK(has(lenient, "extension-unknown", "Patient.extension[0]", severity::warning));
  CHECK_FALSE(fhir::has_errors(lenient));
  CHECK(has(rejected, "extension-unknown", "Patient.extension[0]", severity::error));
  CHECK_FALSE(has_id(known, "extension-unknown"));
  CHECK_FALSE(fhir::has_errors(known));
  CHECK(has(modifier, "extension-unknown", "Patient.modifierExtension[0]", severity::error));
}

TEST_CASE("an extension used outside its context gives a warning", "[fhir][validation][extensions]") {
  const std::string colour = R"("extension":[{"url":"http://example.org/ext/colour","valueCode":"red"}])";
  auto on_patient = validate(patient(colour));
  auto on_observation = validate(observation(colour));
  auto on_name = validate(patient(fmt::format(R"("name":[{{"family":"A",{}}}])", colour)));
  INFO(describe(on_patient) << "--\n" << describe(on_observation) << "--\n" << describe(on_name));
  CHECK_FALSE(has_id(on_patient, "extension-context"));
  CHECK(has(on_observation, "extension-context", "Observation.extension[0]", severity::warning));
  CHECK_FALSE(fhir::has_errors(on_observation));
  CHECK(has(on_name, "extension-context", "Patient.name[0].extension[0]", severity::warning));
}

TEST_CASE("modifier extensions belong in modifierExtension and others in extension", "[fhir][validation][extensions]") {
  const std::string modifier = R"({"url":"http://example.org/ext/modifier","valueBoolean":true})";
  const std::string colour = R"({"url":"http://example.org/ext/colour","valueCode":"red"})";
  auto right = validate(patient(fmt::format(R"("modifierExtension":[{}],"extension":[{}])", modifier, colour)));
  auto modifier_in_extension = validate(patient(fmt::format(R"("extension":[{}])", modifier)));
  auto plain_in_modifier = validate(patient(fmt::format(R"("modifierExtension":[{}])", colour)));
  INFO(describe(right) << "--\n" << describe(modifier_in_extension) << "--\n" << describe(plain_in_modifier));
  CHECK_FALSE(has_id(right, "extension-modifier"));
  CHECK_FALSE(fhir::has_errors(right));
  CHECK(has(modifier_in_extension, "extension-modifier", "Patient.extension[0]"));
  CHECK(has(plain_in_modifier, "extension-modifier", "Patient.modifierExtension[0]"));
}

TEST_CASE("an extension is checked against its definition: value type and binding", "[fhir][validation][extensions]") {
  auto red = validate(patient(R"("extension":[{"url":"http://example.org/ext/colour","valueCode":"red"}])"));
  auto purple = validate(patient(R"("extension":[{"url":"http://example.org/ext/colour","valueCode":"purple"}])"));
  auto as_string = validate(patient(R"("extension":[{"url":"http://example.org/ext/colour","valueString":"red"}])"));
  INFO(describe(red) << "--\n" << describe(purple) << "--\n" << describe(as_string));
  CHECK_FALSE(fhir::has_errors(red));
  CHECK(has(purple, "binding-code", "Patient.extension[0].value.ofType(code)"));
  CHECK(has(as_string, "profile-type-not-allowed", "Patient.extension[0].value.ofType(string)"));
  CHECK_FALSE(has_id(as_string, "profile-cardinality-min"));
}

// ---- bindings and code systems ---------------------------------------------------------------------------

TEST_CASE("binding strengths: required errs, extensible warns, preferred informs, example is silent",
          "[fhir][validation][bindings]") {
  auto coded = [](std::string_view code) {
    return fmt::format(R"({{"coding":[{{"system":"http://example.org/cs/colours","code":"{}"}}]}})", code);
  };
  auto resource = [&](std::string_view code) {
    return observation(fmt::format(R"("method":{},"bodySite":{},"valueCodeableConcept":{})", coded(code), coded(code), coded(code)),
                       coded(code));
  };
  auto inside = against(o_bindings, resource("red"));
  auto outside = against(o_bindings, resource("blue"));  // a colour, but not in the value set
  INFO(describe(inside) << "--\n" << describe(outside));
  CHECK_FALSE(has_id(inside, "binding-code"));
  CHECK(has(outside, "binding-code", "Observation.code", severity::error));
  CHECK(has(outside, "binding-code", "Observation.method", severity::warning));
  CHECK(has(outside, "binding-code", "Observation.bodySite", severity::information));
  CHECK(count_at(outside, "Observation.value.ofType(CodeableConcept)") == 0);
  CHECK_FALSE(has_id(outside, "code-unknown"));
}

TEST_CASE("text alone, value sets beyond local terminology, and codes of local code systems", "[fhir][validation][bindings]") {
  SECTION("a CodeableConcept with only text") {
    auto issues = against(o_bindings, observation(R"("method":{"text":"by eye"})", R"({"text":"blue-ish"})"));
    INFO(describe(issues));
    CHECK(has(issues, "binding-no-code", "Observation.code"));
    CHECK_FALSE(has_id(issues, "binding-code"));
    CHECK(count_at(issues, "Observation.method") == 0);  // text satisfies an extensible binding
  }
  SECTION("a value set that needs a terminology server") {
    for (std::string_view code : {"22298006", "999999999"}) {
      auto issues = against(o_snomed, observation({}, fmt::format(R"({{"coding":[{{"system":"http://snomed.info/sct","code":"{}"}}]}})", code)));
      INFO(code << "\n" << describe(issues));
      CHECK_FALSE(has_id(issues, "binding-code"));
      CHECK_FALSE(fhir::has_errors(issues));
    }
  }
  SECTION("a code a complete local code system does not define") {
    auto purple = validate(observation({}, R"({"coding":[{"system":"http://example.org/cs/colours","code":"purple"}]})"));
    auto red = validate(observation({}, R"({"coding":[{"system":"http://example.org/cs/colours","code":"red"}]})"));
    INFO(describe(purple) << "--\n" << describe(red));
    CHECK(has(purple, "code-unknown", "Observation.code.coding[0].code"));
    CHECK_FALSE(has_id(red, "code-unknown"));
  }
}

// ---- references ------------------------------------------------------------------------------------------

TEST_CASE("reference forms", "[fhir][validation][references]") {
  for (std::string_view ok : {"Patient/123", "Patient/123/_history/2", "https://example.org/fhir/Patient/123",
                              "urn:uuid:53fefa32-fcbb-4ff8-8a92-55ee120877b7"}) {
    auto issues = validate(observation(fmt::format(R"("subject":{{"reference":"{}"}})", ok)));
    INFO(ok << "\n" << describe(issues));
    CHECK_FALSE(fhir::has_errors(issues));
  }
  for (std::string_view bad : {"Patient/a_b", "Patient/", "Foo/1", "abc"}) {
    auto issues = validate(observation(fmt::format(R"("subject":{{"reference":"{}"}})", bad)));
    INFO(bad << "\n" << describe(issues));
    CHECK(has(issues, "reference-format", "Observation.subject.reference"));
  }
}

TEST_CASE("reference target types: the base definition's and a profile's", "[fhir][validation][references]") {
  auto to = [](std::string_view reference) { return observation(fmt::format(R"("subject":{{"reference":"{}"}})", reference)); };
  auto practitioner = validate(to("Practitioner/1"));
  auto group = validate(to("Group/1"));
  auto group_in_profile = against(o_subject, to("Group/1"));
  auto patient_in_profile = against(o_subject, to("Patient/1"));
  INFO(describe(practitioner) << "--\n" << describe(group) << "--\n" << describe(group_in_profile) << "--\n" << describe(patient_in_profile));
  CHECK(has(practitioner, "reference-target-type", "Observation.subject"));
  CHECK_FALSE(has_id(group, "reference-target-type"));
  CHECK(has(group_in_profile, "reference-target-type", "Observation.subject"));
  CHECK_FALSE(has_id(patient_in_profile, "reference-target-type"));
  CHECK_FALSE(fhir::has_errors(patient_in_profile));
}

TEST_CASE("contained references resolve in the container", "[fhir][validation][references]") {
  auto missing = validate(observation(R"("subject":{"reference":"#x"})"));
  auto present = validate(observation(R"("contained":[{"resourceType":"Patient","id":"x","active":true}],"subject":{"reference":"#x"})"));
  INFO(describe(missing) << "--\n" << describe(present));
  CHECK(has(missing, "reference-contained-missing", "Observation.subject.reference"));
  CHECK_FALSE(has_id(present, "reference-contained-missing"));
  CHECK_FALSE(fhir::has_errors(present));
}

// ---- NHS numbers -----------------------------------------------------------------------------------------

TEST_CASE("is_valid_nhs_number: ten digits with a Modulus 11 check digit", "[fhir][validation][nhs]") {
  static_assert(fv::is_valid_nhs_number("9434765919"));
  static_assert(fv::is_valid_nhs_number("9912003888"));
  static_assert(!fv::is_valid_nhs_number("9434765918"));
  static_assert(!fv::is_valid_nhs_number("1234567890"));  // the check value is 10: no such number
  for (std::string_view ok : {"9434765919", "9912003888", "4010232137", "9876543210"}) {
    INFO(ok);
    CHECK(fv::is_valid_nhs_number(ok));
  }
  for (std::string_view bad : {"9434765918", "943476591", "94347659190", "943 476 5919", "94347659A9", "", "1234567890", "1234567891"}) {
    INFO(bad);
    CHECK_FALSE(fv::is_valid_nhs_number(bad));
  }
}

TEST_CASE("NHS numbers are checked in every Identifier", "[fhir][validation][nhs]") {
  SECTION("Patient.identifier") {
    for (std::string_view ok : {"9434765919", "9912003888"}) {
      auto issues = validate(patient(identifiers({{nhs, ok}})));
      INFO(ok << "\n" << describe(issues));
      CHECK_FALSE(has_id(issues, "nhs-number-invalid"));
    }
    for (std::string_view bad : {"9434765918", "943476591", "943 476 5919", "94347659A9", "1234567890"}) {
      auto issues = validate(patient(identifiers({{nhs, bad}})));
      INFO(bad << "\n" << describe(issues));
      CHECK(has(issues, "nhs-number-invalid", "Patient.identifier[0].value"));
    }
    auto other_system = validate(patient(identifiers({{"http://example.org/mrn", "1234567890"}})));
    CHECK_FALSE(has_id(other_system, "nhs-number-invalid"));
  }
  SECTION("Reference.identifier") {
    auto subject = [](std::string_view value) {
      return observation(fmt::format(R"("subject":{{"identifier":{{"system":"{}","value":"{}"}}}})", nhs, value));
    };
    auto valid = validate(subject("9434765919"));
    auto invalid = validate(subject("9434765918"));
    INFO(describe(valid) << "--\n" << describe(invalid));
    CHECK_FALSE(has_id(valid, "nhs-number-invalid"));
    CHECK(has(invalid, "nhs-number-invalid", "Observation.subject.identifier.value"));
  }
}

// ---- which profiles apply --------------------------------------------------------------------------------

TEST_CASE("meta.profile: known profiles are validated, others reported", "[fhir][validation][profiles][meta]") {
  auto claiming = [](std::string_view url, std::string_view more = {}) {
    return validate(patient(fmt::format(R"("meta":{{"profile":["{}"]}}{})", url, more)));
  };
  auto known = claiming(p_cardinality);
  auto known_valid = claiming(p_cardinality, R"(,"gender":"other")");
  auto unknown = claiming("http://example.org/P/nowhere");
  auto other_type = claiming(o_quantity);
  INFO(describe(known) << "--\n" << describe(known_valid) << "--\n" << describe(unknown) << "--\n" << describe(other_type));
  CHECK(has(known, "profile-cardinality-min", "Patient.gender"));
  CHECK_FALSE(fhir::has_errors(known_valid));
  CHECK(has(unknown, "profile-unknown", "Patient.meta.profile[0]", severity::warning));
  CHECK_FALSE(fhir::has_errors(unknown));
  CHECK(has(other_type, "profile-type-mismatch", "Patient.meta.profile[0]"));
}

TEST_CASE("default profiles apply without meta.profile, requested profiles must be known", "[fhir][validation][profiles][meta]") {
  auto defaulted = validate(patient(), with_defaults());
  auto defaulted_valid = validate(patient(R"("gender":"unknown")"), with_defaults());
  auto without_defaults = validate(patient());
  auto requested_unknown = plain().check(parse(patient()), {"http://example.org/P/nowhere"}).issues;
  INFO(describe(defaulted) << "--\n" << describe(defaulted_valid) << "--\n" << describe(requested_unknown));
  CHECK(has(defaulted, "profile-cardinality-min", "Patient.gender"));
  CHECK_FALSE(fhir::has_errors(defaulted_valid));
  CHECK_FALSE(has_id(without_defaults, "profile-cardinality-min"));
  CHECK(has(requested_unknown, "profile-unknown", "Patient", severity::error));
}

// ---- read(), deduplicate(), order ------------------------------------------------------------------------

TEST_CASE("read(): invalid for malformed input, unprocessable for other errors, success with warnings", "[fhir][validation][read]") {
  SECTION("malformed JSON") {
    auto r = plain().read(R"({"resourceType":"Patient",)");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind() == fhir::error_kind::invalid);
  }
  SECTION("an unknown element") {
    std::string text = patient(R"("shoeSize":42)");
    auto outcome = plain().check(parse(text));
    INFO(describe(outcome.issues));
    CHECK(outcome.malformed);
    CHECK(has(outcome.issues, "element-unknown", "Patient.shoeSize"));
    auto r = plain().read(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind() == fhir::error_kind::invalid);
  }
  SECTION("an invariant") {
    std::string text = patient(R"("contact":[{"gender":"female"}])");
    auto outcome = plain().check(parse(text));
    INFO(describe(outcome.issues));
    CHECK_FALSE(outcome.malformed);
    CHECK(has(outcome.issues, "pat-1", "Patient.contact[0]"));
    auto r = plain().read(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind() == fhir::error_kind::unprocessable);
  }
  SECTION("a profile") {
    auto r = with_defaults().read(patient());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind() == fhir::error_kind::unprocessable);
    INFO(describe(r.error().issues()));
    CHECK(has(r.error().issues(), "profile-cardinality-min", "Patient.gender"));
  }
  SECTION("warnings only") {
    auto r = plain().read(patient(R"("extension":[{"url":"http://example.org/ext/nowhere","valueString":"x"}])"));
    REQUIRE(r.ok());
    INFO(describe(r->issues));
    CHECK(has(r->issues, "extension-unknown", "Patient.extension[0]", severity::warning));
    REQUIRE(r->resource.find_string("resourceType"));
    CHECK(*r->resource.find_string("resourceType") == "Patient");
  }
}

TEST_CASE("deduplicate() keeps the first of repeated issues, in order, and caps the list", "[fhir][validation][read]") {
  using fhir::issue_type;
  SECTION("repeats") {
    std::vector<fhir::issue> issues = {
        {severity::error, issue_type::value, "one", "Patient.a", "x-1"},
        {severity::warning, issue_type::value, "two", "Patient.b", "x-2"},
        {severity::error, issue_type::value, "one again", "Patient.a", "x-1"},  // same severity, id and place
        {severity::warning, issue_type::value, "three", "Patient.a", "x-1"},    // another severity
        {severity::error, issue_type::value, "four", "Patient.c", "x-1"},
        {severity::error, issue_type::code_invalid, "in value set A", "Patient.d", "binding-code"},
        {severity::error, issue_type::code_invalid, "in value set B", "Patient.d", "binding-code"},  // names another value set
    };
    fv::deduplicate(issues);
    INFO(describe(issues));
    std::vector<std::string> kept;
    for (const auto& i : issues) kept.push_back(i.diagnostics);
    CHECK(kept == std::vector<std::string>{"one", "two", "three", "four", "in value set A", "in value set B"});
  }
  auto many = [](std::size_t n, std::size_t error_at) {
    std::vector<fhir::issue> out;
    for (std::size_t i = 0; i < n; ++i)
      out.push_back({i == error_at ? severity::error : severity::warning, issue_type::value, "d", fmt::format("Patient.x[{}]", i), "x"});
    return out;
  };
  SECTION("exactly 200 are kept whole") {
    auto issues = many(200, 0);
    fv::deduplicate(issues);
    CHECK(issues.size() == 200);
    CHECK_FALSE(has_id(issues, "issues-truncated"));
  }
  SECTION("more than 200: warnings dropped") {
    auto issues = many(250, 0);  // the error is kept
    fv::deduplicate(issues);
    REQUIRE(issues.size() == 201);
    CHECK(issues[199].expression == "Patient.x[199]");
    CHECK(issues.back().message_id == "issues-truncated");
    CHECK(issues.back().severity == severity::warning);
  }
  SECTION("more than 200: an error dropped") {
    auto issues = many(250, 230);
    fv::deduplicate(issues);
    REQUIRE(issues.size() == 201);
    CHECK(issues.back().message_id == "issues-truncated");
    CHECK(issues.back().severity == severity::error);
  }
}

TEST_CASE("the same resource gives the same issues in the same order", "[fhir][validation][read]") {
  const std::string text = patient(fmt::format(
      R"("identifier":[{{"system":"{}","value":"9434765918"}}],"name":[{{"family":"A"}},{{"family":"B"}}],
         "extension":[{{"url":"http://example.org/ext/nowhere","valueString":"x"}},{{"url":"http://example.org/ext/colour","valueCode":"purple"}}],
         "generalPractitioner":[{{"reference":"Foo/1"}}],"contact":[{{"gender":"female"}}])",
      nhs));
  auto first = lines(validate(text, with_defaults()));
  auto second = lines(validate(text, with_defaults()));
  fv::resource_validator fresh(definitions(), fv::validation_options{.default_profiles = {{"Patient", std::string(p_cardinality)}}});
  auto third = lines(fresh.validate(parse(text)));
  std::string listed;
  for (const std::string& line : first) listed += line + "\n";
  INFO(listed);
  CHECK(first.size() >= 6);
  CHECK(first == second);
  CHECK(first == third);
}
