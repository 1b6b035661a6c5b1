// search-type, search-system and compartment search (search.html, http.html#search):
//   GET [base]/[type]?params          POST [base]/[type]/_search   (form-encoded body, same results)
//   GET [base]?_type=...&params       POST [base]/_search
//   GET [base]/Patient/[id]/[type]?params   (the Patient compartment, from its CompartmentDefinition)
// The answer is a searchset Bundle: matches, then _include/_revinclude entries, self/first/next/previous
// links (keyset page tokens), a total when asked for or free, and an OperationOutcome entry naming
// any parameter that was ignored.

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/outcome.hpp"
#include "fhir/resource.hpp"
#include "fhir/search/subset.hpp"
#include "fhir/text.hpp"
#include "server/audit/request_audit.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/consent/contributors.hpp"
#include "server/bundle_writer.hpp"
#include "server/access_gate.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/compartment.hpp"
#include "server/interactions/interactions.hpp"
#include "server/page_cursor.hpp"
#include "server/responses.hpp"

namespace server::interactions {
namespace {

constexpr std::string_view page_parameter = "_page_token";

bool prefers_strict(const fhir_request& request) { return prefers(request.http.header_value("Prefer"), "handling=strict"); }

fhir::result<std::size_t> page_size(const context& ctx, const fhir::search::search_query& query) {
  if (query.summary == fhir::search::summary_mode::count) return std::size_t{0};
  if (!query.count) return ctx.settings.default_page_size;
  return std::min(*query.count, ctx.settings.max_page_size);
}

std::string base_path(const context& ctx, const std::vector<std::string>& path) {
  std::string url = ctx.settings.base_url;
  for (const auto& segment : path) url += "/" + http::percent_encode(segment);
  return url;
}

// The parameters the search used, for links: ignored ones and page tokens left out.
http::query_params link_parameters(const http::query_params& params, const fhir::search::search_query& query) {
  http::query_params out = without_paging(params, page_parameter);
  std::erase_if(out, [&](const auto& p) { return std::find(query.ignored.begin(), query.ignored.end(), p.first) != query.ignored.end(); });
  return out;
}

std::string url_with(const std::string& base, http::query_params params, std::string_view token) {
  if (!token.empty()) params.emplace_back(page_parameter, std::string(token));
  return params.empty() ? base : base + "?" + http::encode_query(params);
}

// With _contained a match may be a container, found by what it contains, which a minimal form withholds:
// it is shown only in full (consent::show's in_full_only). A minimal Patient that matched in its own right
// under _contained=both is withheld too (the store does not say which way a row matched): fail closed.
bool containers(const fhir::search::search_query& query) { return query.contained != fhir::search::contained_mode::off; }

bool seen(const fhir::consent::decision& d, const fhir::search::search_query& query) {
  return containers(query) ? d.outcome == fhir::consent::verdict::permit : d.permitted();
}

// The number of matches the caller may see: every match is decided (the store's own count would reveal
// hidden ones).
fhir::result<std::int64_t> visible_total(const context& ctx, const fhir_request& request, fhir::search::search_query query) {
  query.includes.clear();
  query.total = fhir::search::total_mode::none;
  std::int64_t total = 0;
  std::string at;
  for (;;) {
    auto page = ctx.store.search(store::search_request{query, 1000, at});
    if (!page) return std::move(page).error();
    for (const auto& entry : page->entries)
      if (!request.caller || (seen(consent::decide(ctx, *request.caller, entry.version), query) &&
                              consent::contributors_visible(ctx, request, query, entry.version)))
        ++total;
    if (page->next_token.empty()) return total;
    at = page->next_token;
  }
}

// An included resource is shown when the caller may read its type and, for a patient-facing caller,
// when it is not another patient's data.
// `own_records` holds the patient-facing caller's compartment filters by type, computed once per request.
bool may_see_included(const context& ctx, const fhir_request& request, const store::version_info& info,
                      std::map<std::string, std::optional<fhir::search::compartment_filter>>& own_records) {
  if (!request.caller) return true;
  if (!may_read_type(ctx, *request.caller, info.type)) return false;
  if (!request.caller->patient_facing()) return true;
  auto [at, fresh] = own_records.try_emplace(info.type);
  if (fresh) at->second = patient_compartment(ctx, request.caller->token->patient, info.type);
  return !at->second || in_compartment(ctx, *at->second, info.type, info.id);
}

// A page of what the caller may see (consent.md section 3): matches hidden by Consent are skipped and
// their places filled from further store pages (never more than asked, so the next page starts right
// after the last match shown); included resources are checked one by one; a total counts visible
// matches only.
struct visible_results {
  std::vector<store::search_entry> entries;
  std::string next_token, previous_token;
  std::optional<std::int64_t> total;
  bool withheld = false;
};

fhir::result<visible_results> visible_page(const context& ctx, const fhir_request& request, const fhir::search::search_query& query,
                                           std::size_t count, const std::string& token) {
  constexpr int max_store_pages = 50;  // bounds the work of one page when most matches are hidden
  visible_results out;
  std::map<std::string, std::optional<fhir::search::compartment_filter>> own_records;
  std::vector<store::search_entry> includes;
  std::string at = token;
  std::size_t matches = 0;
  for (int round = 0; round < max_store_pages && count > 0; ++round) {
    auto page = ctx.store.search(store::search_request{query, count - matches, at});
    if (!page) return std::move(page).error();
    if (round == 0) out.previous_token = page->previous_token;
    for (auto& entry : page->entries) {
      if (entry.mode == store::search_mode::include) {
        if (!may_see_included(ctx, request, entry.version.info, own_records)) continue;
        if (!consent::show(ctx, request, entry.version)) continue;
        auto same = std::find_if(includes.begin(), includes.end(), [&](const store::search_entry& e) {
          return e.version.info.type == entry.version.info.type && e.version.info.id == entry.version.info.id;
        });
        // Reached again from this store page's matches: those links count too (keep_linked_includes).
        if (same == includes.end()) includes.push_back(std::move(entry));
        else same->included_by.insert(same->included_by.end(), entry.included_by.begin(), entry.included_by.end());
        continue;
      }
      if (!consent::show(ctx, request, entry.version, containers(query)) ||
          !consent::contributors_visible(ctx, request, query, entry.version)) {
        out.withheld = true;
        continue;
      }
      ++matches;
      out.entries.push_back(std::move(entry));
    }
    out.next_token = page->next_token;
    // The whole result in one store page: its visible matches are the total, known for free.
    if (round == 0 && page->next_token.empty() && page->previous_token.empty() && token.empty() && page->total)
      out.total = static_cast<std::int64_t>(matches);
    if (page->next_token.empty() || matches == count) break;
    at = page->next_token;
  }
  consent::keep_linked_includes(out.entries, includes);
  for (auto& e : includes) out.entries.push_back(std::move(e));
  if ((query.total != fhir::search::total_mode::none || count == 0) && !out.total) {
    auto total = visible_total(ctx, request, query);
    if (!total) return std::move(total).error();
    out.total = *total;
  }
  return out;
}

http::response run(const context& ctx, const fhir_request& request, std::string_view type,
                   std::optional<fhir::search::compartment_filter> in_compartment, std::vector<std::string> link_path) {
  // POST _search bodies were merged into request.params by the router (form_search_parameters).
  std::string token;
  http::query_params query_params;
  for (const auto& p : request.params) {
    if (p.first == page_parameter) {
      token = p.second;
      continue;
    }
    query_params.push_back(p);
  }
  auto query = fhir::search::parse_query(ctx.search_parameters, type, query_params,
                                         {.strict = prefers_strict(request), .containers = true,
                                          .terminology = &ctx.validator.terminology(), .local_bases = ctx.settings.own_bases()});
  if (!query) return error_response(query.error(), &request);
  if (request.caller)
    if (auto allowed = check_query_reach(ctx, *request.caller, *query); !allowed) return error_response(allowed.error(), &request);
  // A search of every type covers only the types the caller may read (protected ones may not be).
  if (type.empty() && query->types.empty() && request.caller) {
    auto hidden = unreadable_types(ctx, *request.caller);
    if (!hidden.empty())
      for (const std::string& t : ctx.definitions.resource_types())
        if (std::find(hidden.begin(), hidden.end(), t) == hidden.end()) query->types.push_back(t);
  }
  // With _contained the results are containers of any type: only of the types the caller may read.
  if (query->contained != fhir::search::contained_mode::off && request.caller) {
    std::vector<std::string> readable;
    for (const std::string& t : ctx.definitions.resource_types())
      if (may_read_type(ctx, *request.caller, t)) readable.push_back(t);
    if (readable.size() < ctx.definitions.resource_types().size()) query->container_types = std::move(readable);
  }
  // A patient-facing caller searches their own compartment, whatever the query says.
  if (!in_compartment && request.caller && request.caller->patient_facing())
    in_compartment = patient_compartment(ctx, request.caller->token->patient, std::string(type));
  query->compartment = std::move(in_compartment);
  auto count = page_size(ctx, *query);
  if (!count) return error_response(count.error(), &request);

  // Page links are sealed to the caller and this search (page_cursor.hpp): the search is named by its
  // first page's URL, which every page link of it shares.
  std::string base = base_path(ctx, link_path);
  auto link_params = link_parameters(query_params, *query);
  std::string scope = page_scope(base, link_params);
  std::string sealed_token = token;
  fhir::epoch_ms now = fhir::now_ms();
  if (!token.empty()) {
    auto opened = ctx.cursors->open(request.caller, scope, token, now);
    if (!opened) return error_response(opened.error(), &request);
    token = std::move(*opened);
  }
  auto page = visible_page(ctx, request, *query, *count, token);
  if (!page) return error_response(page.error(), &request);

  bundle_writer bundle("searchset");
  if (page->total) bundle.set_total(*page->total);
  auto seal = [&](const std::string& inner) { return ctx.cursors->seal(request.caller, scope, inner, now); };
  bundle.add_link("self", url_with(base, link_params, sealed_token));
  bundle.add_link("first", scope);
  if (!page->previous_token.empty()) bundle.add_link("previous", url_with(base, link_params, seal(page->previous_token)));
  if (!page->next_token.empty()) bundle.add_link("next", url_with(base, link_params, seal(page->next_token)));

  bool subsetting = fhir::search::wants_subset(query->summary, query->elements);
  for (const auto& entry : page->entries) {
    std::string_view mode = entry.mode == store::search_mode::match ? "match" : "include";
    if (!subsetting && entry.contained_id.empty()) {
      if (request.audit) request.audit->returned(entry.version.info, entry.version.json);
      bundle.add_search_entry(ctx.settings, entry.version, mode);
      continue;
    }
    auto parsed = fhir::json::parse(entry.version.json);
    if (!parsed) continue;
    // _containedType=contained: the contained resource alone (the store indexed it from this text).
    const fhir::json::value* resource = entry.contained_id.empty() ? &*parsed : fhir::find_contained(*parsed, entry.contained_id);
    if (!resource) continue;
    // The audit names the resource disclosed from, with its patients: a contained one's container.
    if (request.audit) request.audit->returned(entry.version.info, entry.version.json);
    store::resource_version shown{entry.version.info, subsetting ? fhir::json::serialize(fhir::search::subset(
                                                                       *resource, query->summary, query->elements, ctx.definitions))
                                                                 : fhir::json::serialize(*resource)};
    bundle.add_search_entry(ctx.settings, shown, mode, entry.contained_id);
  }
  // Something was withheld from a clinical caller: say so, without why or how much (consent.md section 3).
  bool clinical = request.caller && (request.caller->purpose_category == auth::purpose_class::direct ||
                                     request.caller->purpose_category == auth::purpose_class::emergency);
  if (page->withheld && clinical) bundle.add_outcome_entry(consent::withheld_notice());
  if (request.emergency_access) bundle.add_outcome_entry(consent::emergency_access_notice());
  if (!query->ignored.empty()) {
    std::vector<fhir::issue> issues;
    for (const auto& name : query->ignored)
      issues.push_back(fhir::issue{fhir::severity::warning, fhir::issue_type::not_supported,
                                   fmt::format("The search parameter '{}' is unknown or not supported, and was ignored",
                                               fhir::utf8_prefix(name, 100)),
                                   {}, "search-parameter-ignored"});
    bundle.add_outcome_entry(fhir::json::serialize(fhir::to_operation_outcome(issues)));
  }
  return json_response(200, std::move(bundle).finish(), request);
}

}  // namespace

http::response search_type(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  return run(ctx, request, type, std::nullopt, {type});
}

http::response search_system(const context& ctx, const fhir_request& request) {
  return run(ctx, request, "", std::nullopt, {});
}

http::response search_compartment(const context& ctx, const fhir_request& request) {
  const std::string& owner_type = request.path[0];
  const std::string& owner_id = request.path[1];
  const std::string& type = request.path[2];
  if (!ctx.definitions.is_resource_type(type))
    return error_response(fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                                      fmt::format("'{}' is not a resource type this server knows", fhir::utf8_prefix(type, 100)),
                                      "type-unknown"),
                          &request);
  // Also keeps a local reference ("#pt", as indexed for chains) from being taken for an owner.
  if (auto id = check_id(ctx, owner_id); !id) return error_response(id.error(), &request);
  auto filter = compartment_filter(ctx, owner_type, owner_id, type);
  if (filter && owner_type == "Patient") filter->linked_ids = linked_patients(ctx, owner_id);
  if (!filter)
    return error_response(fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                                      fmt::format("{} resources are not in the {} compartment", type, owner_type),
                                      "compartment-unknown"),
                          &request);
  return run(ctx, request, type, std::move(filter), {owner_type, owner_id, type});
}

}  // namespace server::interactions
