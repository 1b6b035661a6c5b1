// The shared care record's own definitions (profiles/shcr): the consent-kind CodeSystem and ValueSet and
// the SHCR-Consent profile on UK Core Consent, which the server applies to every Consent by default.
#include <catch2/catch.hpp>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "fhir/json/parse.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "profiles/definition_set.hpp"

namespace {

const fhir::validation::resource_validator& server_validator() {
  static const fhir::validation::resource_validator v(
      fhir::profiles::r4_uk_core(), fhir::validation::validation_options{.default_profiles = fhir::profiles::server_default_profiles()});
  return v;
}

std::string consent(std::string_view category, std::string_view policy = R"("policy":[{"uri":"https://example.org/p"}],)") {
  return std::string(R"({"resourceType":"Consent","status":"active",
    "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
    "category":[)") + std::string(category) + R"(],"patient":{"reference":"Patient/p1"},)" + std::string(policy) +
         R"("provision":{"type":"deny"}})";
}

const std::string kind = R"({"coding":[{"system":"https://shared-care-record.github.io/fhir/CodeSystem/consent-kind","code":"shcr-optout"}]})";

std::vector<std::string> ids_of(const std::vector<fhir::issue>& issues, fhir::severity at_least_warning = fhir::severity::warning) {
  std::vector<std::string> out;
  for (const auto& i : issues)
    if (i.severity <= at_least_warning) out.push_back(i.message_id);
  return out;
}

bool has(const std::vector<std::string>& ids, std::string_view id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

}  // namespace

TEST_CASE("the SHCR Consent profile is loaded, applied to every Consent, and replaces the base category binding", "[profiles][consent]") {
  const auto& defs = fhir::profiles::r4_uk_core();
  const auto* profile = defs.find_structure(fhir::profiles::shcr_consent_profile);
  REQUIRE(profile);
  CHECK(profile->base_definition == "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Consent");
  CHECK(fhir::profiles::server_default_profiles().at("Consent") == fhir::profiles::shcr_consent_profile);
  CHECK(fhir::profiles::server_default_profiles().at("Patient") == "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient");

  // A well-formed Consent: no binding warning for its kind code (the profile rebinds category).
  auto parsed = fhir::json::parse(consent(kind));
  REQUIRE(parsed.ok());
  auto good = ids_of(server_validator().validate(*parsed));
  INFO(fmt::format("{}", fmt::join(good, ", ")));
  CHECK_FALSE(has(good, "binding-code"));
  CHECK(std::none_of(good.begin(), good.end(), [](const std::string& id) { return id.starts_with("profile-"); }));

  // A code the CodeSystem does not define is an error; another system's category draws the profile's
  // extensible-binding warning and no kind is an error of the profile's invariant.
  auto bogus = fhir::json::parse(consent(R"({"coding":[{"system":"https://shared-care-record.github.io/fhir/CodeSystem/consent-kind","code":"bogus"}]})"));
  CHECK(has(ids_of(server_validator().validate(*bogus), fhir::severity::error), "code-unknown"));
  auto foreign = fhir::json::parse(consent(R"({"coding":[{"system":"http://loinc.org","code":"59284-0"}]})"));
  auto foreign_ids = ids_of(server_validator().validate(*foreign));
  CHECK(has(foreign_ids, "shcr-con-1"));
  CHECK(has(foreign_ids, "binding-code"));
  auto twice = fhir::json::parse(consent(kind + "," + kind));
  CHECK(has(ids_of(server_validator().validate(*twice), fhir::severity::error), "shcr-con-1"));
  // A policy URI is required.
  auto no_policy = fhir::json::parse(consent(kind, R"("policy":[{"authority":"https://example.org"}],)"));
  auto no_policy_issues = server_validator().validate(*no_policy);
  CHECK(std::any_of(no_policy_issues.begin(), no_policy_issues.end(), [](const fhir::issue& i) {
    return i.message_id == "profile-cardinality-min" && i.expression == "Consent.policy[0].uri";
  }));
}
