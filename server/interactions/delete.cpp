#include <fmt/format.h>

#include "server/consent/consent_enforcement.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/conditional.hpp"
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
  if (!consent::may_change(ctx, request, type, id)) return error_response(store::not_found_error(type, id), &request);
  auto removed = ctx.store.remove(type, id, store::preconditions{.if_match = *if_match, .controller = caller_controller(request)});
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

// http.html#cdelete, DELETE [type]?criteria: deletes the one matching resource; none changes nothing;
// several fail with 412 unless settings.conditional_delete_multiple allows deleting them all. The search
// and the deletions are one unit of work.
http::response delete_conditional(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  auto query = conditional_query(ctx, type, request.params, request.caller);
  if (!query) return error_response(query.error(), &request);
  std::size_t limit = ctx.settings.conditional_delete_multiple ? ctx.settings.max_page_size : 1;
  std::vector<store::resource_version> removed;
  auto done = ctx.store.transact([&](store::transaction& tx) -> fhir::result<fhir::done> {
    auto ids = tx.match(*query, limit + 1);
    if (!ids) return std::move(ids).error();
    if (ids->size() > limit)
      return fhir::error(fhir::error_kind::precondition_failed, fhir::issue_type::multiple_matches,
                         limit == 1 ? fmt::format("The conditional delete matches more than one {}; this server deletes only single matches", type)
                                    : fmt::format("The conditional delete matches more than {} resources", limit),
                         "conditional-multiple-matches");
    for (const std::string& id : *ids) {
      auto one = tx.remove(type, id, store::preconditions{.controller = caller_controller(request)});
      if (!one) return std::move(one).error();
      if (*one) removed.push_back(std::move(**one));
    }
    return fhir::done{};
  });
  if (!done) return error_response(done.error(), &request);
  if (request.prefer == prefer_return::minimal) return http::response{.status = 204};
  std::string message = removed.empty() ? fmt::format("No {} matches; nothing was deleted", type)
                                        : fmt::format("Deleted {} {}", removed.size(), removed.size() == 1 ? type : type + " resources");
  for (std::size_t i = 0; i < removed.size() && i < 20; ++i)
    message += fmt::format("{} {}/{}", i == 0 ? ":" : ",", removed[i].info.type, removed[i].info.id);
  auto response = information_response(200, std::move(message), request);
  if (removed.size() == 1) response.set_header("ETag", etag_of(removed.front().info.version));
  return response;
}

}  // namespace server::interactions
