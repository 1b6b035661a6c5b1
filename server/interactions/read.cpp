#include "fhir/time.hpp"
#include "server/audit/request_audit.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/conditional.hpp"
#include "server/interactions/interactions.hpp"
#include "server/responses.hpp"

namespace server::interactions {
namespace {

// http.html#cread: If-None-Match naming the current version, or If-Modified-Since at or after its
// lastUpdated (HTTP dates have whole seconds), makes the answer 304 with no body. If-None-Match wins
// when both are present (RFC 9110 section 13.2.2).
bool not_modified(const fhir_request& request, const store::version_info& info) {
  if (auto none_match = request.http.header_value("If-None-Match")) {
    std::string_view list = *none_match;
    while (!list.empty()) {
      std::size_t comma = list.find(',');
      std::string_view tag = list.substr(0, comma);
      while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
      while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (tag == "*") return true;
      auto version = parse_version_etag(tag, "If-None-Match");
      if (version && *version == info.version) return true;
    }
    return false;
  }
  if (auto since = request.http.header_value("If-Modified-Since")) {
    auto instant = fhir::parse_http_date(*since);
    return instant && info.last_updated / 1000 <= *instant / 1000;
  }
  return false;
}

}  // namespace

http::response read(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  const std::string& id = request.path[1];
  if (auto valid = check_id(ctx, id); !valid) return error_response(valid.error(), &request);
  auto current = ctx.store.read(type, id);
  if (!current) {
    // Deleted: 410 only when its last live version would be visible; hidden and deleted is absent.
    if (current.error().kind() == fhir::error_kind::gone && request.caller) {
      auto last = consent::last_live_version(ctx, type, id);
      if (last && !consent::show(ctx, request, *last)) return error_response(store::not_found_error(type, id), &request);
    }
    return error_response(current.error(), &request);
  }
  // Consent is decided before anything about the resource is answered (a 304 would reveal it exists).
  if (!consent::show(ctx, request, *current)) return error_response(store::not_found_error(type, id), &request);
  if (not_modified(request, current->info)) {
    http::response unchanged{.status = 304};
    set_version_headers(unchanged, current->info);
    return unchanged;
  }
  if (request.audit) request.audit->returned(current->info, current->json);
  auto response = json_response(200, std::move(current->json), request);
  set_version_headers(response, current->info);
  return response;
}

}  // namespace server::interactions
