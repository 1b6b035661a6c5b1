#include "server/interactions/compartment.hpp"

#include <algorithm>

#include "fhir/json/parse.hpp"

namespace server::interactions {
namespace {

const fhir::json::value* compartment_resources(const fhir::definitions::registry& definitions, const std::string& owner_type) {
  const fhir::json::value* definition = definitions.find_compartment_definition(owner_type);
  const fhir::json::value* resources = definition ? definition->find("resource") : nullptr;
  return resources && resources->is_array() ? resources : nullptr;
}

}  // namespace

std::optional<fhir::search::compartment_filter> compartment_filter(const context& ctx, const std::string& owner_type,
                                                                   const std::string& owner_id, const std::string& type) {
  return compartment_filter(ctx.definitions, owner_type, owner_id, type);
}

std::optional<fhir::search::compartment_filter> compartment_filter(const fhir::definitions::registry& definitions,
                                                                   const std::string& owner_type, const std::string& owner_id,
                                                                   const std::string& type) {
  const fhir::json::value* resources = compartment_resources(definitions, owner_type);
  if (!resources) return std::nullopt;
  for (const auto& r : resources->as_array()) {
    const std::string* name = r.find_string("code");
    if (!name || *name != type) continue;
    // The owner is in its own compartment (Patient/1/Patient finds Patient/1), besides its links.
    fhir::search::compartment_filter f{.owner_type = owner_type, .owner_id = owner_id, .owner_is_self = type == owner_type};
    if (const auto* params = r.find("param"); params && params->is_array())
      for (const auto& p : params->as_array())
        if (p.is_string()) {
          if (p.as_string() == "{def}") f.owner_is_self = true;
          else f.codes.push_back(p.as_string());
        }
    if (f.codes.empty() && !f.owner_is_self) return std::nullopt;
    return f;
  }
  return std::nullopt;
}

std::vector<std::string> compartment_types(const context& ctx, const std::string& owner_type) {
  return compartment_types(ctx.definitions, owner_type);
}

std::vector<std::string> compartment_types(const fhir::definitions::registry& definitions, const std::string& owner_type) {
  std::vector<std::string> out;
  const fhir::json::value* resources = compartment_resources(definitions, owner_type);
  if (!resources) return out;
  for (const auto& r : resources->as_array())
    if (const std::string* name = r.find_string("code"))
      if (compartment_filter(definitions, owner_type, "", *name)) out.push_back(*name);
  return out;
}

namespace {

constexpr std::string_view nhs_number_system = "https://fhir.nhs.uk/Id/nhs-number";
constexpr std::string_view verification_extension =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";

// The NHS numbers of a Patient whose verification status is "01" (number present and verified).
std::vector<std::string> verified_nhs_numbers(const fhir::json::value& patient) {
  std::vector<std::string> out;
  const fhir::json::value* identifiers = patient.find("identifier");
  if (!identifiers || !identifiers->is_array()) return out;
  for (const auto& identifier : identifiers->as_array()) {
    const std::string* system = identifier.find_string("system");
    const std::string* value = identifier.find_string("value");
    if (!system || *system != nhs_number_system || !value) continue;
    bool verified = false;
    if (const auto* extensions = identifier.find("extension"); extensions && extensions->is_array())
      for (const auto& e : extensions->as_array()) {
        const std::string* url = e.find_string("url");
        const fhir::json::value* status = e.find("valueCodeableConcept");
        const fhir::json::value* codings = status ? status->find("coding") : nullptr;
        if (!url || *url != verification_extension || !codings || !codings->is_array()) continue;
        for (const auto& c : codings->as_array())
          if (const std::string* code = c.find_string("code"); code && *code == "01") verified = true;
      }
    if (verified) out.push_back(*value);
  }
  return out;
}

std::optional<fhir::json::value> read_patient(const context& ctx, const std::string& id) {
  auto current = ctx.store.read("Patient", id);
  if (!current) return std::nullopt;
  auto parsed = fhir::json::parse(current->json);
  if (!parsed) return std::nullopt;
  return std::move(*parsed);
}

}  // namespace

std::vector<std::string> linked_patients(const context& ctx, const std::string& id) {
  constexpr std::size_t most = 50;
  std::vector<std::string> out;
  auto patient = read_patient(ctx, id);
  if (!patient) return out;
  auto add = [&](const std::string& other) {
    if (other != id && out.size() < most && std::find(out.begin(), out.end(), other) == out.end()) out.push_back(other);
  };
  // Links the feeds sent: Patient.link.other (seealso, replaced-by, replaces, refer).
  if (const auto* links = patient->find("link"); links && links->is_array())
    for (const auto& link : links->as_array()) {
      const fhir::json::value* other = link.find("other");
      const std::string* reference = other ? other->find_string("reference") : nullptr;
      if (reference && reference->starts_with("Patient/")) add(reference->substr(8));
    }
  // Other feeds' records of the same person: the same verified NHS number, verified there too.
  for (const std::string& number : verified_nhs_numbers(*patient)) {
    auto query = fhir::search::parse_query(ctx.search_parameters, "Patient",
                                           {{"identifier", std::string(nhs_number_system) + "|" + number}}, {});
    if (!query) continue;
    auto page = ctx.store.search(store::search_request{*query, most, ""});
    if (!page) continue;
    for (const auto& entry : page->entries) {
      if (entry.version.info.id == id) continue;
      auto other = fhir::json::parse(entry.version.json);
      if (!other) continue;
      auto numbers = verified_nhs_numbers(*other);
      if (std::find(numbers.begin(), numbers.end(), number) != numbers.end()) add(entry.version.info.id);
    }
  }
  return out;
}

std::optional<fhir::search::compartment_filter> patient_compartment(const context& ctx, const std::string& patient,
                                                                    const std::string& type) {
  auto filter = compartment_filter(ctx, "Patient", patient, type);
  if (filter) filter->linked_ids = linked_patients(ctx, patient);
  return filter;
}

bool in_patient_compartment(const context& ctx, const std::string& patient, const std::string& type, const std::string& id) {
  auto filter = patient_compartment(ctx, patient, type);
  return filter && in_compartment(ctx, *filter, type, id);
}

bool in_compartment(const context& ctx, const fhir::search::compartment_filter& filter, const std::string& type,
                    const std::string& id) {
  auto query = fhir::search::parse_query(ctx.search_parameters, type, {{"_id", id}}, {});
  if (!query) return false;
  query->compartment = filter;
  query->total = fhir::search::total_mode::none;
  auto page = ctx.store.search(store::search_request{*query, 1, ""});
  return page && !page->entries.empty();
}

}  // namespace server::interactions
