#include "server/interactions/interactions.hpp"
#include "server/responses.hpp"

namespace server::interactions {

http::response capabilities(const context& ctx, const fhir_request& request) {
  return json_response(200, ctx.capability_statement, request);
}

}  // namespace server::interactions
