#include <fmt/format.h>

#include "fhir/resource.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/interactions.hpp"
#include "server/responses.hpp"

namespace server::interactions {

// http.html#update: the body's id must equal the URL's; an unknown id is created (201), a known one gets a
// new version (200). If-Match makes the update conditional on the current version (412 otherwise).
http::response update(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  const std::string& id = request.path[1];
  if (auto valid = check_id(ctx, id); !valid) return error_response(valid.error(), &request);
  auto if_match = if_match_version(request);
  if (!if_match) return error_response(if_match.error(), &request);
  auto body = read_body(ctx, request, type);
  if (!body) return error_response(body.error(), &request);

  std::string_view body_id = fhir::id_of(body->resource);
  if (body_id.empty())
    return error_response(fhir::error(fhir::error_kind::invalid, fhir::issue_type::required,
                                      fmt::format("The resource has no id; an update must carry the id of the URL ('{}')", id),
                                      "id-missing", type + ".id"),
                          &request);
  if (body_id != id)
    return error_response(fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                                      fmt::format("The resource id '{}' does not match the URL id '{}'", body_id, id),
                                      "id-mismatch", type + ".id"),
                          &request);

  auto written = ctx.store.update(std::move(body->resource), store::preconditions{.if_match = *if_match});
  if (!written) return error_response(written.error(), &request);
  const auto& info = written->version.info;
  unsigned status = written->created ? 201 : 200;
  auto response = write_response(
      status, written->version,
      fmt::format("{} {}/{}/_history/{}", written->created ? "Created" : "Updated", info.type, info.id, info.version),
      body->issues, request);
  response.set_header(written->created ? "Location" : "Content-Location", version_url(ctx.settings, info));
  return response;
}

}  // namespace server::interactions
