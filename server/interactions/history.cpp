// history-instance, history-type and history-system (http.html#history): versions newest first, a page
// at a time, with `_count`, `_since` and `next` links carrying a page token.

#include <charconv>

#include <fmt/format.h>

#include "fhir/search/date_range.hpp"
#include "fhir/text.hpp"
#include "server/audit/request_audit.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/bundle_writer.hpp"
#include "server/access_gate.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/interactions.hpp"
#include "server/page_cursor.hpp"
#include "server/responses.hpp"

namespace server::interactions {
namespace {

constexpr std::string_view page_parameter = "_page";

fhir::error bad_parameter(std::string name, std::string_view value, std::string_view why) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                     fmt::format("{}={}: {}", name, fhir::utf8_prefix(value, 100), why), "history-parameter-invalid");
}

fhir::result<store::history_request> parse_parameters(const context& ctx, const fhir_request& request) {
  store::history_request out;
  out.count = ctx.settings.default_page_size;
  for (const auto& [name, value] : request.params) {
    if (name == "_count") {
      std::size_t count = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), count);
      if (ec != std::errc() || end != value.data() + value.size() || count == 0)
        return bad_parameter(name, value, "must be a positive integer");
      out.count = std::min(count, ctx.settings.max_page_size);
    } else if (name == "_since") {
      auto since = fhir::parse_date_time(value);
      if (!since) return bad_parameter(name, value, "must be a FHIR instant such as 2024-01-31T09:00:00Z");
      out.since = *since;
    } else if (name == page_parameter) {
      out.page_token = value;
    } else if (name == "_at") {
      // A date, dateTime or instant at any precision: the period it covers (2024 is the whole year).
      auto range = fhir::search::parse_date_range(value);
      if (!range) return bad_parameter(name, value, "must be a FHIR date or dateTime such as 2024-01 or 2024-01-31T09:00:00Z");
      out.at = std::pair{range->low, range->high};
    } else if (name == "_list") {
      return fhir::error(fhir::error_kind::not_supported, fhir::issue_type::not_supported,
                         fmt::format("The history parameter {} is not supported by this server", name),
                         "history-parameter-unsupported");
    }
    // Other parameters (_format, _pretty, unknown ones) do not affect history; unknown ones are ignored,
    // as search.html#errors allows for lenient handling.
  }
  return out;
}

std::string request_url(const context& ctx, const fhir_request& request, const http::query_params& params) {
  std::string url = ctx.settings.base_url;
  for (const auto& segment : request.path) url += "/" + http::percent_encode(segment);
  if (!params.empty()) url += "?" + http::encode_query(params);
  return url;
}

http::response history(const context& ctx, const fhir_request& request, std::string type, std::string id) {
  auto query = parse_parameters(ctx, request);
  if (!query) return error_response(query.error(), &request);
  if (!id.empty())
    if (auto valid = check_id(ctx, id); !valid) return error_response(valid.error(), &request);
  query->type = std::move(type);
  query->id = std::move(id);
  if (query->type.empty() && request.caller) query->excluded_types = unreadable_types(ctx, *request.caller);
  // An instance the caller may not see (its current version, or for a deleted one the last live one) is
  // as absent as on read, whatever page or period is asked.
  if (!query->id.empty() && request.caller) {
    auto current = ctx.store.read(query->type, query->id);
    std::optional<store::resource_version> decided_on;
    if (current) decided_on = std::move(*current);
    else if (current.error().kind() == fhir::error_kind::gone) decided_on = consent::last_live_version(ctx, query->type, query->id);
    if (decided_on && !consent::visible(ctx, request, *decided_on))
      return error_response(store::not_found_error(query->type, query->id), &request);
  }
  // Page links are sealed to the caller and this history (page_cursor.hpp), named by its first page's URL.
  http::query_params first_page = without_paging(request.params, page_parameter);
  std::string scope = page_scope(request_url(ctx, request, {}), first_page);
  fhir::epoch_ms now = fhir::now_ms();
  if (!query->page_token.empty()) {
    auto opened = ctx.cursors->open(request.caller, scope, query->page_token, now);
    if (!opened) return error_response(opened.error(), &request);
    query->page_token = std::move(*opened);
  }
  auto page = ctx.store.history(*query);
  if (!page) return error_response(page.error(), &request);

  bundle_writer bundle("history");
  if (page->total) bundle.set_total(*page->total);
  bundle.add_link("self", request_url(ctx, request, request.params));
  if (!page->next_page_token.empty()) {
    http::query_params next = first_page;
    next.emplace_back(page_parameter, ctx.cursors->seal(request.caller, scope, page->next_page_token, now));
    bundle.add_link("next", request_url(ctx, request, next));
  }
  // Every version is decided under today's Consents; a deletion is shown only when the version it
  // deleted would be. An instance the caller may not see at all is as absent as on read.
  bool instance = !query->id.empty();
  std::size_t shown = 0;
  for (auto version : page->entries) {
    store::resource_version decided_on = version;
    if (version.info.deleted) {
      auto live = version.info.version > 1 ? ctx.store.vread(version.info.type, version.info.id, version.info.version - 1)
                                           : fhir::result<store::resource_version>(store::not_found_error(version.info.type, version.info.id));
      if (!live) continue;
      decided_on = std::move(*live);
    }
    if (!consent::show(ctx, request, decided_on)) continue;
    if (!version.info.deleted) version.json = std::move(decided_on.json);  // the minimal Patient, where it applies
    ++shown;
    if (request.audit) request.audit->returned(version.info, version.json);
    bundle.add_history_entry(ctx.settings, version);
  }
  if (instance && shown == 0 && !page->entries.empty())
    return error_response(store::not_found_error(request.path[0], request.path[1]), &request);
  if (shown != page->entries.size()) bundle.clear_total();  // the store's count includes hidden versions
  return json_response(200, std::move(bundle).finish(), request);
}

}  // namespace

http::response history_instance(const context& ctx, const fhir_request& request) {
  return history(ctx, request, request.path[0], request.path[1]);
}

http::response history_type(const context& ctx, const fhir_request& request) {
  return history(ctx, request, request.path[0], {});
}

http::response history_system(const context& ctx, const fhir_request& request) {
  return history(ctx, request, {}, {});
}

}  // namespace server::interactions
