// Patient/[id]/$everything (patient-operation-everything.html): the joined-up record. The patient, then
// every resource in their compartment, type by type in the CompartmentDefinition's order, with the
// Practitioners, PractitionerRoles, Organizations, Medications and Locations those resources reference
// (search.mode include, once per page). Parameters:
//   _since      only resources last updated at or after the instant
//   start, end  only resources whose clinical date (the type's `date` search parameter) lies in the
//               range; types without one are not filtered
//   _type       only these types (comma-separated)
//   _count      page size; pages continue through `next` links (_page=<type index>.<that type's token>)

#include <charconv>
#include <set>

#include <fmt/format.h>

#include "fhir/text.hpp"
#include "server/audit/request_audit.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/bundle_writer.hpp"
#include "server/access_gate.hpp"
#include "server/interactions/compartment.hpp"
#include "server/interactions/interactions.hpp"
#include "server/page_cursor.hpp"
#include "server/responses.hpp"

namespace server::interactions {
namespace {

constexpr std::string_view page_parameter = "_page";
constexpr const char* referenced_types[] = {"Practitioner", "PractitionerRole", "Organization", "Medication", "Location"};

fhir::error bad_parameter(std::string_view name, std::string_view value, std::string_view why) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                     fmt::format("{}={}: {}", name, fhir::utf8_prefix(value, 100), why), "everything-parameter-invalid");
}

struct everything_request {
  std::vector<std::string> types;
  http::query_params common;  // clauses for every type (_since)
  http::query_params dated;   // clauses for types with a `date` parameter (start, end)
  std::size_t count = 0;
  std::size_t type_index = 0;
  std::string inner_token;
};

// `page` is the opened page token (page_cursor.hpp), empty on the first page.
fhir::result<everything_request> parse(const context& ctx, const fhir_request& request, const std::string& page) {
  everything_request out;
  out.count = ctx.settings.default_page_size;
  std::vector<std::string> wanted;
  for (const auto& [name, value] : request.params) {
    if (name == "_since") {
      out.common.emplace_back("_lastUpdated", "ge" + value);
    } else if (name == "start") {
      out.dated.emplace_back("date", "ge" + value);
    } else if (name == "end") {
      out.dated.emplace_back("date", "le" + value);
    } else if (name == "_type") {
      for (std::string_view rest = value; !rest.empty();) {
        std::size_t comma = rest.find(',');
        std::string type(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (!ctx.definitions.is_resource_type(type)) return bad_parameter(name, value, fmt::format("'{}' is not a resource type", type));
        wanted.push_back(type);
      }
    } else if (name == "_count") {
      std::size_t count = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), count);
      if (ec != std::errc() || end != value.data() + value.size() || count == 0) return bad_parameter(name, value, "must be a positive integer");
      out.count = std::min(count, ctx.settings.max_page_size);
    } else if (name == page_parameter) {
      std::size_t dot = page.find('.');
      std::size_t index = 0;
      auto [end, ec] = std::from_chars(page.data(), page.data() + (dot == std::string::npos ? page.size() : dot), index);
      if (dot == std::string::npos || ec != std::errc() || end != page.data() + dot) return bad_parameter(name, page, "is not a page token of this server");
      out.type_index = index;
      out.inner_token = page.substr(dot + 1);
    }
  }
  for (std::string& type : compartment_types(ctx, "Patient")) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), type) == wanted.end()) continue;
    // Types the caller's role or scopes do not cover are left out, as if absent.
    if (request.caller && !may_read_type(ctx, *request.caller, type)) continue;
    if (type == "Patient") out.types.insert(out.types.begin(), std::move(type));
    else out.types.push_back(std::move(type));
  }
  return out;
}

bool has_date_parameter(const context& ctx, const std::string& type) {
  const auto* p = ctx.search_parameters.find(type, "date");
  return p && p->type == fhir::search::param_type::date;
}

}  // namespace

http::response everything(const context& ctx, const fhir_request& request) {
  const std::string& owner_type = request.path[0];
  const std::string& owner_id = request.path[1];
  if (owner_type != "Patient")
    return error_response(fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_supported,
                                      fmt::format("$everything is defined on Patient, not {}", owner_type), "operation-unknown"),
                          &request);
  auto patient = ctx.store.read(owner_type, owner_id);
  if (!patient) {
    // Deleted: 410 only when its last live version would be visible; hidden and deleted is absent.
    if (patient.error().kind() == fhir::error_kind::gone && request.caller)
      if (auto last = consent::last_live_version(ctx, owner_type, owner_id); last && !consent::visible(ctx, request, *last))
        return error_response(store::not_found_error(owner_type, owner_id), &request);
    return error_response(patient.error(), &request);
  }
  // A patient hidden from the caller is as absent as on read; the rest is decided entry by entry.
  store::resource_version decided_patient = *patient;
  if (!consent::show(ctx, request, decided_patient)) return error_response(store::not_found_error(owner_type, owner_id), &request);
  // Page links are sealed to the caller and this request (page_cursor.hpp), named by its first page's URL.
  std::string self = ctx.settings.base_url + "/" + owner_type + "/" + http::percent_encode(owner_id) + "/$everything";
  http::query_params link_params = without_paging(request.params, page_parameter);
  std::string scope = page_scope(self, link_params);
  fhir::epoch_ms now = fhir::now_ms();
  std::string page;
  if (auto sealed = request.param(page_parameter)) {
    auto opened = ctx.cursors->open(request.caller, scope, *sealed, now);
    if (!opened) return error_response(opened.error(), &request);
    page = std::move(*opened);
  }
  auto plan = parse(ctx, request, page);
  if (!plan) return error_response(plan.error(), &request);

  std::vector<std::string> linked = linked_patients(ctx, owner_id);
  bundle_writer bundle("searchset");
  std::set<std::string> included;  // type/id of include entries on this page
  std::size_t room = plan->count;
  std::string next;
  for (std::size_t i = plan->type_index; i < plan->types.size() && room > 0; ++i) {
    const std::string& type = plan->types[i];
    http::query_params params = plan->common;
    if (has_date_parameter(ctx, type)) params.insert(params.end(), plan->dated.begin(), plan->dated.end());
    auto query = fhir::search::parse_query(ctx.search_parameters, type, params, {.strict = true, .local_bases = ctx.settings.own_bases()});
    if (!query) return error_response(query.error(), &request);
    query->compartment = compartment_filter(ctx, owner_type, owner_id, type);
    if (query->compartment) query->compartment->linked_ids = linked;
    for (const char* target : referenced_types)
      if (!request.caller || may_read_type(ctx, *request.caller, target))
        query->includes.push_back(fhir::search::include{.source_type = type, .target_type = target, .wildcard = true,
                                                      .raw = type + ":*:" + target});
    std::string token = i == plan->type_index ? plan->inner_token : "";
    auto page = ctx.store.search(store::search_request{*query, room, token});
    if (!page) return error_response(page.error(), &request);
    // Each entry decided on its own; an include only with a shown match it belongs to (consent.md section 3).
    std::vector<store::search_entry> matches, includes;
    for (auto& entry : page->entries) {
      if (entry.mode != store::search_mode::include) --room;  // paging positions count as the store counts them
      if (!consent::show(ctx, request, entry.version)) continue;
      (entry.mode == store::search_mode::include ? includes : matches).push_back(std::move(entry));
    }
    consent::keep_linked_includes(matches, includes);
    for (const auto& entry : matches) {
      if (request.audit) request.audit->returned(entry.version.info, entry.version.json);
      bundle.add_search_entry(ctx.settings, entry.version, "match");
    }
    for (const auto& entry : includes) {
      if (!included.insert(entry.version.info.type + "/" + entry.version.info.id).second) continue;
      if (request.audit) request.audit->returned(entry.version.info, entry.version.json);
      bundle.add_search_entry(ctx.settings, entry.version, "include");
    }
    if (!page->next_token.empty()) {
      next = fmt::format("{}.{}", i, page->next_token);
      break;
    }
    if (room == 0 && i + 1 < plan->types.size()) next = fmt::format("{}.", i + 1);
  }

  auto url = [&](std::string_view token) {
    http::query_params params = link_params;
    if (!token.empty()) params.emplace_back(page_parameter, std::string(token));
    return params.empty() ? self : self + "?" + http::encode_query(params);
  };
  if (request.emergency_access) bundle.add_outcome_entry(consent::emergency_access_notice());
  bundle.add_link("self", url(request.param(page_parameter).value_or("")));
  if (!next.empty()) bundle.add_link("next", url(ctx.cursors->seal(request.caller, scope, next, now)));
  return json_response(200, std::move(bundle).finish(), request);
}

}  // namespace server::interactions
