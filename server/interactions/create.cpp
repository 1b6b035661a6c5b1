#include "server/interactions/common.hpp"
#include "server/interactions/interactions.hpp"
#include "server/responses.hpp"

namespace server::interactions {

// http.html#create: the server assigns the id (an id in the body is ignored) and answers 201 with Location.
http::response create(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  auto body = read_body(ctx, request, type);
  if (!body) return error_response(body.error(), &request);
  auto written = ctx.store.create(std::move(body->resource));
  if (!written) return error_response(written.error(), &request);
  const auto& info = written->version.info;
  auto response = write_response(201, written->version,
                                 "Created " + info.type + "/" + info.id + "/_history/" + std::to_string(info.version),
                                 body->issues, request);
  response.set_header("Location", version_url(ctx.settings, info));
  return response;
}

}  // namespace server::interactions
