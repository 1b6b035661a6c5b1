#include <fmt/format.h>

#include "server/audit/request_audit.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/conditional.hpp"
#include "server/interactions/interactions.hpp"
#include "server/responses.hpp"

namespace server::interactions {

// http.html#create: the server assigns the id (an id in the body is ignored) and answers 201 with Location.
// With If-None-Exist (http.html#ccreate) the search runs in the create's own unit of work: no match
// creates, one match answers 200 with that resource and creates nothing, several fail with 412.
http::response create(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  auto body = read_body(ctx, request, type);
  if (!body) return error_response(body.error(), &request);
  if (auto recorded = record_controller(request, body->resource); !recorded) return error_response(recorded.error(), &request);

  auto if_none_exist = request.http.header_value("If-None-Exist");
  if (!if_none_exist) {
    auto written = ctx.store.create(std::move(body->resource));
    if (!written) return error_response(written.error(), &request);
    const auto& info = written->version.info;
    auto response = write_response(201, written->version,
                                   "Created " + info.type + "/" + info.id + "/_history/" + std::to_string(info.version),
                                   body->issues, request);
    response.set_header("Location", version_url(ctx.settings, info));
    return response;
  }

  auto query = conditional_query(ctx, type, *if_none_exist, request.caller);
  if (!query) return error_response(query.error(), &request);
  auto prepared = ctx.store.prepare(std::move(body->resource));
  std::optional<store::resource_version> existing, created;
  auto done = ctx.store.transact([&](store::transaction& tx) -> fhir::result<fhir::done> {
    auto match = single_match(tx, *query, "If-None-Exist");
    if (!match) return std::move(match).error();
    if (*match) {
      auto current = tx.read(type, **match);
      if (!current) return std::move(current).error();
      existing = std::move(*current);
      if (request.audit) request.audit->returned(existing->info, existing->json);
      return fhir::done{};
    }
    auto written = tx.create(std::move(prepared), {});
    if (!written) return std::move(written).error();
    created = std::move(written->version);
    return fhir::done{};
  });
  if (!done) return error_response(done.error(), &request);
  const store::resource_version& version = existing ? *existing : *created;
  const auto& info = version.info;
  auto response = write_response(
      existing ? 200 : 201, version,
      existing ? fmt::format("{}/{} matches If-None-Exist; nothing was created", info.type, info.id)
               : fmt::format("Created {}/{}/_history/{}", info.type, info.id, info.version),
      body->issues, request);
  response.set_header("Location", version_url(ctx.settings, info));
  return response;
}

}  // namespace server::interactions
