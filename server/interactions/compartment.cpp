#include "server/interactions/compartment.hpp"

namespace server::interactions {
namespace {

const fhir::json::value* compartment_resources(const context& ctx, const std::string& owner_type) {
  const fhir::json::value* definition = ctx.definitions.find_compartment_definition(owner_type);
  const fhir::json::value* resources = definition ? definition->find("resource") : nullptr;
  return resources && resources->is_array() ? resources : nullptr;
}

}  // namespace

std::optional<fhir::search::compartment_filter> compartment_filter(const context& ctx, const std::string& owner_type,
                                                                   const std::string& owner_id, const std::string& type) {
  const fhir::json::value* resources = compartment_resources(ctx, owner_type);
  if (!resources) return std::nullopt;
  for (const auto& r : resources->as_array()) {
    const std::string* name = r.find_string("code");
    if (!name || *name != type) continue;
    // The owner is in its own compartment (Patient/1/Patient finds Patient/1), besides its links.
    fhir::search::compartment_filter f{owner_type, owner_id, {}, type == owner_type};
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
  std::vector<std::string> out;
  const fhir::json::value* resources = compartment_resources(ctx, owner_type);
  if (!resources) return out;
  for (const auto& r : resources->as_array())
    if (const std::string* name = r.find_string("code"))
      if (compartment_filter(ctx, owner_type, "", *name)) out.push_back(*name);
  return out;
}

}  // namespace server::interactions
