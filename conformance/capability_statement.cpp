#include "conformance/capability_statement.hpp"

#include <algorithm>

#include "fhir/time.hpp"

namespace conformance {
namespace {

using fhir::json::array;
using fhir::json::object;
using fhir::json::value;

value search_param(const fhir::search::search_parameter& p) {
  value v = object{};
  v.set("name", p.code);
  if (!p.url.empty()) v.set("definition", p.url);
  v.set("type", std::string(fhir::search::to_string(p.type)));
  if (!p.description.empty()) v.set("documentation", p.description);
  return v;
}

// searchParam: every parameter the server can search on for `type` (indexed ones, and _id and
// _lastUpdated which are columns); searchInclude/searchRevInclude: the reference parameters.
void add_search(value& r, const fhir::search::search_parameters& search, const std::string& type,
                const std::vector<std::string>& rev_includes, const server_description::special_type* special) {
  array params;
  array includes{value("*")};
  if (special) includes.clear();
  for (const auto& [code, p] : search.of(type)) {
    bool supported = p.searchable();
    if (code == "_id" || code == "_lastUpdated") supported = true;
    if (special)
      supported = std::find(special->search_parameters.begin(), special->search_parameters.end(), code) != special->search_parameters.end();
    if (!supported) continue;
    params.push_back(search_param(p));
    if (p.type == fhir::search::param_type::reference && !special) includes.emplace_back(type + ":" + code);
  }
  r.set("searchParam", std::move(params));
  if (!includes.empty()) r.set("searchInclude", std::move(includes));
  array revs{value("*")};
  for (const auto& rev : rev_includes) revs.emplace_back(rev);
  r.set("searchRevInclude", std::move(revs));
}

value interactions(const std::vector<std::string>& codes) {
  array out;
  for (const std::string& code : codes) {
    value i = object{};
    i.set("code", code);
    out.push_back(std::move(i));
  }
  return out;
}

bool supports(const std::vector<std::string>& codes, std::string_view code) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

}  // namespace

value build_capability_statement(const fhir::definitions::registry& definitions, const server_description& server) {
  value cs = object{};
  cs.set("resourceType", "CapabilityStatement");
  cs.set("status", "active");
  cs.set("date", server.release_date);
  cs.set("publisher", "Shared care record FHIR server project");
  cs.set("kind", "instance");

  value software = object{};
  software.set("name", server.software_name);
  software.set("version", server.software_version);
  software.set("releaseDate", server.release_date);
  cs.set("software", std::move(software));

  value implementation = object{};
  implementation.set("description", "FHIR R4 shared care record server");
  implementation.set("url", server.base_url);
  cs.set("implementation", std::move(implementation));

  cs.set("fhirVersion", "4.0.1");
  cs.set("format", array{value("application/fhir+json"), value("json")});

  // Which reference parameters point at each type, for searchRevInclude.
  std::map<std::string, std::vector<std::string>, std::less<>> rev_includes;
  if (server.search)
    for (const std::string& source : definitions.resource_types())
      for (const auto& [code, p] : server.search->of(source))
        if (p.indexed() && p.type == fhir::search::param_type::reference && !server.special_types.contains(source))
          for (const std::string& target : p.targets) rev_includes[target].push_back(source + ":" + code);

  array resources;
  for (const std::string& type : definitions.resource_types()) {
    value r = object{};
    r.set("type", type);
    // profile: what every instance is validated against; supportedProfile: the other profiles known
    // here, which a resource is validated against when it claims them in meta.profile.
    auto default_profile = server.default_profiles.find(type);
    if (default_profile != server.default_profiles.end()) r.set("profile", default_profile->second);
    else if (const auto* sd = definitions.find_type(type)) r.set("profile", sd->url);
    array supported;
    for (const auto* profile : definitions.profiles_of(type))
      if (default_profile == server.default_profiles.end() || profile->url != default_profile->second) supported.emplace_back(profile->url);
    if (!supported.empty()) r.set("supportedProfile", std::move(supported));
    auto special_entry = server.special_types.find(type);
    const server_description::special_type* special = special_entry == server.special_types.end() ? nullptr : &special_entry->second;
    if (special && !special->documentation.empty()) r.set("documentation", special->documentation);
    else if (auto doc = server.documentation.find(type); doc != server.documentation.end()) r.set("documentation", doc->second);
    std::vector<std::string> codes = special ? special->interactions : server.type_interactions;
    if (auto excluded = server.excluded_interactions.find(type); excluded != server.excluded_interactions.end())
      std::erase_if(codes, [&](const std::string& c) {
        return std::find(excluded->second.begin(), excluded->second.end(), c) != excluded->second.end();
      });
    r.set("interaction", interactions(codes));
    // versioned-update: updates honour If-Match against the current version.
    bool versioned = supports(codes, "vread");
    bool updates = supports(codes, "update");
    r.set("versioning", !versioned ? "no-version" : updates ? "versioned-update" : "versioned");
    r.set("readHistory", !special && supports(codes, "vread"));
    r.set("updateCreate", !special && server.update_create && supports(codes, "update"));
    r.set("conditionalCreate", !special && server.conditional_create && supports(codes, "create"));
    r.set("conditionalRead", !special && supports(codes, "read") ? server.conditional_read : "not-supported");
    r.set("conditionalUpdate", !special && server.conditional_update);
    r.set("conditionalDelete", special || !supports(codes, "delete") ? "not-supported" : server.conditional_delete);
    if (server.search) add_search(r, *server.search, type, rev_includes[type], special);
    array operations;
    for (const std::string& name : server.type_operations) {
      value op = object{};
      op.set("name", name);
      // The base operations are defined on Resource: Resource-validate.
      op.set("definition", "http://hl7.org/fhir/OperationDefinition/Resource-" + name);
      operations.push_back(std::move(op));
    }
    if (auto own = server.resource_operations.find(type); own != server.resource_operations.end())
      for (const auto& [name, definition] : own->second) {
        value op = object{};
        op.set("name", name);
        op.set("definition", definition);
        operations.push_back(std::move(op));
      }
    if (!operations.empty()) r.set("operation", std::move(operations));
    resources.push_back(std::move(r));
  }

  value rest = object{};
  rest.set("mode", "server");
  if (!server.security_description.empty()) {
    value security = object{};
    value smart = object{};
    value coding = object{};
    coding.set("system", "http://terminology.hl7.org/CodeSystem/restful-security-service");
    // Bearer tokens with SMART v2 scopes, but no SMART App Launch endpoints (.well-known/smart-configuration):
    // OAuth, not SMART-on-FHIR.
    coding.set("code", "OAuth");
    smart.set("coding", array{std::move(coding)});
    smart.set("text", "OAuth 2.0 bearer tokens (signed JWTs) with SMART v2 scopes");
    security.set("service", array{std::move(smart)});
    security.set("description", server.security_description);
    rest.set("security", std::move(security));
  }
  rest.set("resource", std::move(resources));
  if (!server.system_interactions.empty()) rest.set("interaction", interactions(server.system_interactions));
  if (!server.system_operations.empty()) {
    array operations;
    for (const auto& [name, definition] : server.system_operations) {
      value op = object{};
      op.set("name", name);
      op.set("definition", definition);
      operations.push_back(std::move(op));
    }
    rest.set("operation", std::move(operations));
  }
  if (server.search) {
    array common;
    for (std::string_view code : {"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"})
      if (const auto* p = server.search->find("Basic", code)) common.push_back(search_param(*p));
    rest.set("searchParam", std::move(common));
  }
  if (!server.compartments.empty()) {
    array compartments;
    for (const auto& c : server.compartments) compartments.emplace_back(c);
    rest.set("compartment", std::move(compartments));
  }
  cs.set("rest", array{std::move(rest)});
  return cs;
}

}  // namespace conformance
