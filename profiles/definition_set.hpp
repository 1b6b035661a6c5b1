#pragma once
// The definitions the server validates with: the embedded R4 base, our UK Core definitions
// (profiles/uk-core, embedded) and any FHIR package the user names (`--package DIR|FILE.tgz`), in that
// order: a package's definition replaces an earlier one with the same canonical URL.

#include <filesystem>
#include <map>
#include <string>
#include <memory>
#include <string_view>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/result.hpp"

namespace fhir::profiles {

// Our definitions as NDJSON (one resource per line): UK Core (profiles/uk-core) and the shared care
// record's own (profiles/shcr: the consent-kind CodeSystem and ValueSet, the SHCR-Consent profile).
std::string_view uk_core_ndjson();

struct definition_options {
  bool uk_core = true;  // include profiles/uk-core
  std::vector<std::filesystem::path> packages;
};

// Loads and links a registry. Fails (kind invalid) when a package cannot be read or a definition cannot
// be used (for example a profile whose snapshot cannot be generated); the message says which.
result<std::unique_ptr<definitions::registry>> load_definitions(const definition_options& options);

// R4 + UK Core, loaded on first use (thread-safe); what the server uses without --package.
const definitions::registry& r4_uk_core();

// The profiles the server validates these resource types against by default, whether or not a resource
// claims them: UKCore-Patient, -MedicationStatement, -AllergyIntolerance, -Observation and -Consent.
std::map<std::string, std::string, std::less<>> uk_core_default_profiles();

// The shared care record's Consent profile (on UKCore-Consent): what the server enforces on every Consent.
inline constexpr std::string_view shcr_consent_profile = "https://shared-care-record.github.io/fhir/StructureDefinition/SHCR-Consent";

// What the server validates against by default: the UK Core profiles, with SHCR-Consent for Consent.
std::map<std::string, std::string, std::less<>> server_default_profiles();

}  // namespace fhir::profiles
