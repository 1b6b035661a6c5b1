#include <fmt/format.h>

#include "server/interactions/common.hpp"
#include "server/interactions/interactions.hpp"
#include "server/responses.hpp"

namespace server::interactions {

// http.html#delete: deleting makes a new, deleted version (read then answers 410). Deleting what does not
// exist, or is already deleted, changes nothing and succeeds, so retries are safe. The response is an
// OperationOutcome saying what happened (200), or nothing with Prefer: return=minimal (204).
http::response delete_(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  const std::string& id = request.path[1];
  if (auto valid = check_id(ctx, id); !valid) return error_response(valid.error(), &request);
  auto if_match = if_match_version(request);
  if (!if_match) return error_response(if_match.error(), &request);
  auto removed = ctx.store.remove(type, id, store::preconditions{.if_match = *if_match});
  if (!removed) return error_response(removed.error(), &request);

  http::response response;
  if (request.prefer == prefer_return::minimal) {
    response.status = 204;
  } else {
    response = information_response(
        200,
        *removed ? fmt::format("Deleted {}/{} (version {})", type, id, (*removed)->info.version)
                 : fmt::format("{}/{} does not exist or is already deleted; nothing was changed", type, id),
        request);
  }
  if (*removed) response.set_header("ETag", etag_of((*removed)->info.version));
  return response;
}

}  // namespace server::interactions
