#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>

#include "fhir/definitions/r4.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/validation/structural_validator.hpp"

namespace {

std::vector<fhir::issue> validate(std::string_view text) {
  auto parsed = fhir::json::parse(text);
  REQUIRE(parsed.ok());
  return fhir::validation::validate_structure(fhir::definitions::r4(), *parsed);
}

std::string describe(const std::vector<fhir::issue>& issues) {
  std::ostringstream out;
  for (const auto& i : issues) out << "[" << i.message_id << " @ " << i.expression << "] " << i.diagnostics << "\n";
  return out.str();
}

bool has(const std::vector<fhir::issue>& issues, std::string_view id, std::string_view expression) {
  return std::any_of(issues.begin(), issues.end(),
                     [&](const fhir::issue& i) { return i.message_id == id && i.expression == expression; });
}

#define CHECK_ISSUE(issues, id, expression) \
  do { INFO(describe(issues)); CHECK(has(issues, id, expression)); } while (0)
#define CHECK_VALID(issues) \
  do { INFO(describe(issues)); CHECK(issues.empty()); } while (0)

}  // namespace

TEST_CASE("a well-formed resource has no issues", "[fhir][validation]") {
  auto issues = validate(R"({
    "resourceType": "Patient", "id": "p1",
    "meta": {"versionId": "1", "lastUpdated": "2024-01-01T00:00:00.000Z", "profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"]},
    "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Jo Bloggs</div>"},
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}],
    "name": [{"use": "official", "family": "Bloggs", "given": ["Jo", "Anne"], "_given": [null, {"extension": [{"url": "http://example.org/x", "valueBoolean": true}]}]}],
    "gender": "female", "birthDate": "1980-02-29",
    "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1980-02-29T10:30:00+00:00"}]},
    "deceasedBoolean": false,
    "multipleBirthInteger": 2,
    "contact": [{"name": {"text": "Sam"}, "telecom": [{"system": "phone", "value": "01234 567890"}]}]
  })");
  CHECK_VALID(issues);
}

TEST_CASE("unknown elements are reported with their path", "[fhir][validation]") {
  auto issues = validate(R"({"resourceType":"Patient","nmae":[{"family":"X"}],"name":[{"famly":"Y"}]})");
  CHECK_ISSUE(issues, "element-unknown", "Patient.nmae");
  CHECK_ISSUE(issues, "element-unknown", "Patient.name[0].famly");
}

TEST_CASE("resourceType must name a concrete resource type", "[fhir][validation]") {
  CHECK_ISSUE(validate(R"({"id":"x"})"), "resource-type-missing", "");
  CHECK_ISSUE(validate(R"({"resourceType":"Patiant"})"), "resource-type-unknown", "");
  CHECK_ISSUE(validate(R"({"resourceType":"DomainResource"})"), "resource-type-unknown", "");
}

TEST_CASE("minimum cardinality is enforced", "[fhir][validation]") {
  auto issues = validate(R"({"resourceType":"Observation","code":{"text":"x"}})");
  CHECK_ISSUE(issues, "cardinality-min", "Observation.status");
  auto nested = validate(R"({"resourceType":"Patient","link":[{"type":"seealso"}]})");
  CHECK_ISSUE(nested, "cardinality-min", "Patient.link[0].other");
}

TEST_CASE("repeating elements must be arrays and single elements must not", "[fhir][validation]") {
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","name":{"family":"X"}})"), "array-expected", "Patient.name");
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","gender":["male"]})"), "array-unexpected", "Patient.gender");
}

TEST_CASE("choice types accept exactly one typed form", "[fhir][validation]") {
  CHECK_VALID(validate(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mg"}})"));
  auto two = validate(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","valueBoolean":true})");
  CHECK_ISSUE(two, "choice-multiple", "Observation.value");
  auto bare = validate(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"value":"a"})");
  CHECK_ISSUE(bare, "element-unknown", "Observation.value");
  auto wrong = validate(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":"1"}})");
  CHECK_ISSUE(wrong, "primitive-json-type", "Observation.value.ofType(Quantity).value");
}

TEST_CASE("primitive values are checked against the R4 regexes and facets", "[fhir][validation]") {
  auto base = [](std::string member) {
    return validate(R"({"resourceType":"Patient",)" + member + "}");
  };
  CHECK_ISSUE(base(R"("birthDate":"1980-13-01")"), "primitive-format", "Patient.birthDate");
  CHECK_ISSUE(base(R"("birthDate":"2023-02-29")"), "primitive-format", "Patient.birthDate");
  CHECK_ISSUE(base(R"("birthDate":19800101)"), "primitive-json-type", "Patient.birthDate");
  CHECK_ISSUE(base(R"("active":"true")"), "primitive-json-type", "Patient.active");
  CHECK_ISSUE(base(R"("gender":"fe male ")"), "primitive-format", "Patient.gender");
  CHECK_ISSUE(base(R"("multipleBirthInteger":1.0)"), "primitive-format", "Patient.multipleBirth.ofType(integer)");
  CHECK_ISSUE(base(R"("multipleBirthInteger":2147483648)"), "primitive-range", "Patient.multipleBirth.ofType(integer)");
  CHECK_ISSUE(base(R"("id":"has space")"), "primitive-format", "Patient.id");
  CHECK_ISSUE(base(R"("id":"a234567890123456789012345678901234567890123456789012345678901234X")"), "primitive-format", "Patient.id");
  CHECK_ISSUE(base(R"("deceasedDateTime":"2020-01-01T10:00:00")"), "primitive-format", "Patient.deceased.ofType(dateTime)");
  CHECK_ISSUE(base(R"("name":[{"family":"   "}])"), "primitive-blank", "Patient.name[0].family");
  CHECK_ISSUE(base(R"("name":[{"family":""}])"), "json-empty", "Patient.name[0].family");
  CHECK_ISSUE(base(R"("photo":[{"data":"not base64!"}])"), "primitive-format", "Patient.photo[0].data");
  CHECK_VALID(base(R"("photo":[{"data":"aGVsbG8gd29ybGQ="}])"));
  CHECK_VALID(base(R"("deceasedDateTime":"2020-01-01T10:00:00.5+05:30")"));
}

TEST_CASE("a pathological base64 value is rejected in linear time", "[fhir][validation]") {
  // Many whitespace-separated groups followed by an invalid tail: exponential for a backtracking regex.
  std::string data;
  for (int i = 0; i < 2000; ++i) data += "AAAA  ";
  data += "AAA!";
  auto issues = validate(R"({"resourceType":"Binary","contentType":"text/plain","data":")" + data + "\"}");
  CHECK_ISSUE(issues, "primitive-format", "Binary.data");
}

TEST_CASE("strings longer than 1 MB are rejected", "[fhir][validation]") {
  std::string big(1048577, 'x');
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","name":[{"text":")" + big + "\"}]}"), "primitive-too-long", "Patient.name[0].text");
}

TEST_CASE("FHIR JSON rules: nulls, empty containers and duplicate keys", "[fhir][validation]") {
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","gender":null})"), "json-null", "Patient.gender");
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","name":[]})"), "json-empty", "Patient.name");
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","name":[{}]})"), "json-empty", "Patient.name[0]");
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","name":[null]})"), "json-null", "Patient.name[0]");
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","gender":"male","gender":"female"})"), "json-duplicate-key", "Patient.gender");
}

TEST_CASE("primitive extensions align with their values", "[fhir][validation]") {
  CHECK_VALID(validate(R"({"resourceType":"Patient","_gender":{"extension":[{"url":"http://x","valueString":"unknown"}]}})"));
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","name":[{"given":["A","B"],"_given":[null]}]})"),
              "primitive-extension-mismatch", "Patient.name[0].given");
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,null]}]})"),
              "json-null", "Patient.name[0].given[1]");
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","_name":{"id":"x"}})"), "element-unknown", "Patient._name");
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","_gender":{"value":"x"}})"), "element-unknown", "Patient.gender.value");
}

TEST_CASE("extensions need a url and exactly one of a value or nested extensions", "[fhir][validation]") {
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","extension":[{"valueString":"x"}]})"), "cardinality-min", "Patient.extension[0].url");
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","extension":[{"url":"http://x"}]})"), "extension-value-or-children", "Patient.extension[0]");
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","extension":[{"url":"http://x","valueString":"a","extension":[{"url":"y","valueInteger":1}]}]})"),
              "extension-value-or-children", "Patient.extension[0]");
  CHECK_VALID(validate(R"({"resourceType":"Patient","extension":[{"url":"http://x","extension":[{"url":"y","valueInteger":1}]}]})"));
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","extension":[{"url":"http://x","valueFoo":1}]})"), "element-unknown", "Patient.extension[0].valueFoo");
}

TEST_CASE("narrative needs its div", "[fhir][validation]") {
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","text":{"status":"generated"}})"), "cardinality-min", "Patient.text.div");
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","text":{"status":"generated","div":"plain text"}})"), "xhtml-format", "Patient.text.div");
}

TEST_CASE("contained and nested resources are validated as their own type", "[fhir][validation]") {
  auto issues = validate(R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","nmae":"x"}],
                             "managingOrganization":{"reference":"#o"}})");
  CHECK_ISSUE(issues, "element-unknown", "Patient.contained[0].nmae");
  auto bundle = validate(R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","code":{"text":"x"}}}]})");
  CHECK_ISSUE(bundle, "cardinality-min", "Bundle.entry[0].resource.status");
  CHECK_ISSUE(validate(R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Nope"}}]})"),
              "resource-type-unknown", "Bundle.entry[0].resource");
}

TEST_CASE("content references validate recursive structures", "[fhir][validation]") {
  CHECK_VALID(validate(R"({"resourceType":"Questionnaire","status":"active","item":[{"linkId":"1","type":"group","item":[{"linkId":"1.1","type":"string"}]}]})"));
  CHECK_ISSUE(validate(R"({"resourceType":"Questionnaire","status":"active","item":[{"linkId":"1","type":"group","item":[{"type":"string"}]}]})"),
              "cardinality-min", "Questionnaire.item[0].item[0].linkId");
}

TEST_CASE("null is not allowed for a single-valued primitive or its extension half", "[fhir][validation]") {
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","birthDate":null,"_birthDate":{"id":"a"}})"), "json-null", "Patient.birthDate");
  CHECK_ISSUE(validate(R"({"resourceType":"Patient","birthDate":"2000-01-01","_birthDate":null})"), "json-null", "Patient.birthDate");
}

TEST_CASE("whitespace-only strings are a warning, not an error", "[fhir][validation]") {
  auto issues = validate(R"({"resourceType":"Patient","name":[{"text":"   "}]})");
  CHECK_ISSUE(issues, "primitive-blank", "Patient.name[0].text");
  CHECK_FALSE(fhir::has_errors(issues));
}

TEST_CASE("an object with a huge number of duplicate keys is rejected quickly", "[fhir][validation][hostile]") {
  std::string body = R"({"resourceType":"Patient")";
  for (int i = 0; i < 200000; ++i) body += R"(,"active":true)";
  body += "}";
  auto issues = validate(body);  // quadratic work here would take minutes
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].message_id == "json-duplicate-key");
}

TEST_CASE("the number of issues is capped and the walk stops there", "[fhir][validation][hostile]") {
  std::string body = R"({"resourceType":"Patient")";
  for (int i = 0; i < 100000; ++i) body += R"(,"unknown)" + std::to_string(i) + R"(":1)";
  body += "}";
  auto issues = validate(body);
  CHECK(issues.size() == 101);  // 100 issues, then one saying the rest were omitted
  CHECK(issues.back().message_id == "issues-truncated");
}
