// Every official UK Core example validated as the server validates it: R4 base, our UK Core definitions
// and the UK Core profile by default for Patient, MedicationStatement, AllergyIntolerance, Observation
// and Consent.
#include <catch2/catch.hpp>

#include <sstream>

#include "fhir/json/parse.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "profiles/definition_set.hpp"
#include "tests/support/test_data.hpp"
#include "tests/support/ukcore_exceptions.hpp"

namespace {

std::string describe(const std::vector<fhir::issue>& issues) {
  std::ostringstream out;
  for (const auto& i : issues)
    out << "[" << fhir::to_code(i.severity) << " " << i.message_id << " @ " << i.expression << "] " << i.diagnostics << "\n";
  return out.str();
}

const fhir::validation::resource_validator& server_validator() {
  static const fhir::validation::resource_validator instance(
      fhir::profiles::r4_uk_core(), fhir::validation::validation_options{.default_profiles = fhir::profiles::uk_core_default_profiles()});
  return instance;
}

}  // namespace

TEST_CASE("every UK Core example validates with zero errors, except the named ones", "[profiles][ukcore]") {
  auto dir = fhir::testing::shared_data("ukcore/examples");
  if (!dir) return;
  std::size_t checked = 0, valid = 0;
  for (const auto& file : fhir::testing::json_files(*dir)) {
    auto parsed = fhir::json::parse(fhir::testing::read_file(file));
    REQUIRE(parsed.ok());
    auto issues = server_validator().validate(*parsed);
    INFO(file.filename().string() << "\n" << describe(issues));
    const auto* known = fhir::testing::find_ukcore_exception(file.filename().string());
    ++checked;
    if (!known) {
      CHECK_FALSE(fhir::has_errors(issues));
      valid += !fhir::has_errors(issues);
      continue;
    }
    // A named exception fails exactly as described, and only so.
    std::vector<std::pair<std::string, std::string>> errors;
    for (const auto& i : issues)
      if (i.severity == fhir::severity::error) errors.emplace_back(i.message_id, i.expression);
    CHECK(errors == known->errors);
  }
  CHECK(checked == 215);
  WARN(valid << " of " << checked << " UK Core examples valid; " << fhir::testing::ukcore_exceptions().size() << " named exceptions");
}
