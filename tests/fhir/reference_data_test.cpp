// The official definitions and examples that the server must accept as they are.
#include <catch2/catch.hpp>

#include <map>
#include <sstream>

#include "fhir/definitions/r4.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/validation/structural_validator.hpp"
#include "tests/support/test_data.hpp"

namespace {
std::string describe(const std::vector<fhir::issue>& issues) {
  std::ostringstream out;
  for (const auto& i : issues) out << "[" << i.message_id << " @ " << i.expression << "] " << i.diagnostics << "\n";
  return out.str();
}
}  // namespace

// UK Core examples that are themselves invalid R4, with the one issue each must produce.
const std::map<std::string, std::pair<std::string, std::string>> known_invalid_ukcore_examples = {
    // The extension carries both valueCode and valueCodeableConcept: value[x] allows one.
    {"Extension-UKCore-ConditionEpisode-Example.json", {"choice-multiple", "Condition.extension[0].value"}},
};

TEST_CASE("every UK Core example is structurally valid R4, except the known invalid ones", "[fhir][validation][ukcore]") {
  auto dir = fhir::testing::shared_data("ukcore/examples");
  if (!dir) return;
  auto files = fhir::testing::json_files(*dir);
  REQUIRE(files.size() > 100);
  for (const auto& file : files) {
    auto parsed = fhir::json::parse(fhir::testing::read_file(file));
    REQUIRE(parsed.ok());
    auto issues = fhir::validation::validate_structure(fhir::definitions::r4(), *parsed);
    INFO(file.filename().string() << "\n" << describe(issues));
    auto known = known_invalid_ukcore_examples.find(file.filename().string());
    if (known == known_invalid_ukcore_examples.end()) {
      CHECK_FALSE(fhir::has_errors(issues));
    } else {
      REQUIRE(issues.size() == 1);
      CHECK(issues.front().message_id == known->second.first);
      CHECK(issues.front().expression == known->second.second);
    }
  }
}

TEST_CASE("every embedded R4 conformance resource is structurally valid", "[fhir][validation][r4]") {
  // The definitions are real R4 resources (StructureDefinition, SearchParameter, ValueSet, CodeSystem...):
  // a validator that rejects any of them is wrong.
  std::string_view text = fhir::definitions::r4_ndjson();
  std::size_t checked = 0, line = 0;
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view resource = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line;
    if (resource.empty()) continue;
    auto parsed = fhir::json::parse(resource);
    REQUIRE(parsed.ok());
    auto issues = fhir::validation::validate_structure(fhir::definitions::r4(), *parsed);
    if (fhir::has_errors(issues)) {
      INFO("line " << line << ": " << resource.substr(0, 120) << "\n" << describe(issues));
      CHECK_FALSE(fhir::has_errors(issues));
    }
    ++checked;
  }
  CHECK(checked > 3000);
}

