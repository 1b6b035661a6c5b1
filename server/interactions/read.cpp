#include "server/interactions/common.hpp"
#include "server/interactions/interactions.hpp"
#include "server/responses.hpp"

namespace server::interactions {

http::response read(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  const std::string& id = request.path[1];
  if (auto valid = check_id(ctx, id); !valid) return error_response(valid.error(), &request);
  auto current = ctx.store.read(type, id);
  if (!current) return error_response(current.error(), &request);
  auto response = json_response(200, std::move(current->json), request);
  set_version_headers(response, current->info);
  return response;
}

}  // namespace server::interactions
