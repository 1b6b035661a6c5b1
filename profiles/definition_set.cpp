#include "profiles/definition_set.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "fhir/definitions/package_reader.hpp"
#include "fhir/definitions/r4.hpp"

// Defined by uk_core_blob.S: the bytes of the compiled profiles/uk-core definitions.
extern "C" const char fhir_uk_core_definitions_begin[];
extern "C" const char fhir_uk_core_definitions_end[];

namespace fhir::profiles {

std::string_view uk_core_ndjson() {
  return std::string_view(fhir_uk_core_definitions_begin,
                          static_cast<std::size_t>(fhir_uk_core_definitions_end - fhir_uk_core_definitions_begin));
}

result<std::unique_ptr<definitions::registry>> load_definitions(const definition_options& options) {
  auto registry = std::make_unique<definitions::registry>();
  if (auto added = registry->add_ndjson(definitions::r4_ndjson()); !added) return std::move(added).error();
  if (options.uk_core)
    if (auto added = registry->add_ndjson(uk_core_ndjson()); !added) return std::move(added).error();
  for (const std::filesystem::path& package : options.packages) {
    auto resources = definitions::read_package(package);
    if (!resources) return std::move(resources).error();
    for (definitions::package_resource& r : *resources) {
      if (auto added = registry->add(std::move(r.resource)); !added) {
        error e = std::move(added).error();
        e.issues().front().diagnostics = fmt::format("{}: {}", r.file, e.summary());
        return e;
      }
    }
  }
  if (auto linked = registry->link(); !linked) return std::move(linked).error();
  return registry;
}

const definitions::registry& r4_uk_core() {
  static const std::unique_ptr<definitions::registry> instance = [] {
    auto loaded = load_definitions({});
    if (!loaded) throw std::runtime_error("embedded definitions do not load: " + loaded.error().summary());
    return std::move(*loaded);
  }();
  return *instance;
}

std::map<std::string, std::string, std::less<>> uk_core_default_profiles() {
  std::map<std::string, std::string, std::less<>> out;
  for (const char* type : {"Patient", "MedicationStatement", "AllergyIntolerance", "Observation", "Consent"})
    out.emplace(type, fmt::format("https://fhir.hl7.org.uk/StructureDefinition/UKCore-{}", type));
  return out;
}

std::map<std::string, std::string, std::less<>> server_default_profiles() {
  auto out = uk_core_default_profiles();
  out["Consent"] = std::string(shcr_consent_profile);
  return out;
}

}  // namespace fhir::profiles
