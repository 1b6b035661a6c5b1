#include <charconv>

#include <fmt/format.h>

#include "fhir/text.hpp"
#include "server/audit/request_audit.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/interactions.hpp"
#include "server/responses.hpp"

namespace server::interactions {

http::response vread(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  const std::string& id = request.path[1];
  const std::string& vid = request.path[3];
  if (auto valid = check_id(ctx, id); !valid) return error_response(valid.error(), &request);
  std::int64_t version = 0;
  auto [end, ec] = std::from_chars(vid.data(), vid.data() + vid.size(), version);
  if (ec != std::errc() || end != vid.data() + vid.size() || version < 1) {
    // Versions this server assigns are positive integers, so no other version id can exist.
    return error_response(fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                                      fmt::format("Version '{}' of {}/{} is not known", fhir::utf8_prefix(vid, 64), type, id),
                                      "version-not-found"),
                          &request);
  }
  auto found = ctx.store.vread(type, id, version);
  if (!found) {
    // A deletion version: 410 only when the version it deleted would be visible.
    if (found.error().kind() == fhir::error_kind::gone && request.caller && version > 1)
      if (auto deleted = ctx.store.vread(type, id, version - 1); deleted && !consent::show(ctx, request, *deleted))
        return error_response(store::version_not_found_error(type, id, version), &request);
    return error_response(found.error(), &request);
  }
  // Every version is decided under today's Consents; hidden looks exactly like a missing version.
  if (!consent::show(ctx, request, *found)) return error_response(store::version_not_found_error(type, id, version), &request);
  if (request.audit) request.audit->returned(found->info, found->json);
  auto response = json_response(200, std::move(found->json), request);
  set_version_headers(response, found->info);
  return response;
}

}  // namespace server::interactions
