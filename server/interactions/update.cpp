#include <fmt/format.h>

#include "fhir/resource.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/conditional.hpp"
#include "server/interactions/interactions.hpp"
#include "server/responses.hpp"

namespace server::interactions {
namespace {

http::response updated_response(const context& ctx, const store::write_result& written,
                                 const std::vector<fhir::issue>& issues, const fhir_request& request) {
  const auto& info = written.version.info;
  unsigned status = written.created ? 201 : 200;
  std::string message = written.unchanged ? fmt::format("{}/{} is unchanged: the content equals version {}, so no version was written",
                                                        info.type, info.id, info.version)
                        : fmt::format("{} {}/{}/_history/{}", written.created ? "Created" : "Updated", info.type, info.id, info.version);
  auto response = write_response(status, written.version, std::move(message), issues, request);
  response.set_header(written.created ? "Location" : "Content-Location", version_url(ctx.settings, info));
  return response;
}

fhir::error id_mismatch(std::string_view type, std::string_view body_id, std::string_view id, std::string_view what) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                     fmt::format("The resource id '{}' does not match {} '{}'", body_id, what, id), "id-mismatch",
                     std::string(type) + ".id");
}

}  // namespace

// http.html#update: the body's id must equal the URL's; an unknown id is created (201), a known one gets a
// new version (200), unless the content equals the current version (200, no new version). If-Match makes
// the update conditional on the current version (412 otherwise).
http::response update(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  const std::string& id = request.path[1];
  if (auto valid = check_id(ctx, id); !valid) return error_response(valid.error(), &request);
  auto if_match = if_match_version(request);
  if (!if_match) return error_response(if_match.error(), &request);
  auto body = read_body(ctx, request, type);
  if (!body) return error_response(body.error(), &request);
  if (auto recorded = record_controller(request, body->resource); !recorded) return error_response(recorded.error(), &request);

  std::string_view body_id = fhir::id_of(body->resource);
  if (body_id.empty())
    return error_response(fhir::error(fhir::error_kind::invalid, fhir::issue_type::required,
                                      fmt::format("The resource has no id; an update must carry the id of the URL ('{}')", id),
                                      "id-missing", type + ".id"),
                          &request);
  if (body_id != id) return error_response(id_mismatch(type, body_id, id, "the URL id"), &request);
  // A resource hidden from the caller by Consent is not theirs to change: answered as absent.
  if (!consent::may_change(ctx, request, type, id)) return error_response(store::not_found_error(type, id), &request);

  auto written = ctx.store.update(std::move(body->resource), store::preconditions{.if_match = *if_match, .controller = caller_controller(request)});
  if (!written) return error_response(written.error(), &request);
  return updated_response(ctx, *written, body->issues, request);
}

// http.html#cond-update, PUT [type]?criteria: no match creates (with the body's id, or a new one), one
// match updates it (a body id must be that resource's), several fail with 412. The search and the write
// are one unit of work.
http::response update_conditional(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  auto query = conditional_query(ctx, type, request.params, request.caller);
  if (!query) return error_response(query.error(), &request);
  auto if_match = if_match_version(request);
  if (!if_match) return error_response(if_match.error(), &request);
  auto body = read_body(ctx, request, type);
  if (!body) return error_response(body.error(), &request);
  if (auto recorded = record_controller(request, body->resource); !recorded) return error_response(recorded.error(), &request);
  std::string body_id(fhir::id_of(body->resource));
  if (!body_id.empty())
    if (auto valid = check_id(ctx, body_id); !valid) return error_response(valid.error(), &request);

  auto prepared = ctx.store.prepare(std::move(body->resource));
  std::optional<store::write_result> written;
  auto done = ctx.store.transact([&](store::transaction& tx) -> fhir::result<fhir::done> {
    auto match = single_match(tx, *query, "The conditional update");
    if (!match) return std::move(match).error();
    fhir::result<store::write_result> result = fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, "", "");
    if (*match) {
      if (!body_id.empty() && body_id != **match) return id_mismatch(type, body_id, **match, "the id of the matching resource");
      if (body_id.empty()) {
        fhir::set_id(prepared.resource, **match);
        prepared = tx.prepare(std::move(prepared.resource));
      }
      result = tx.update(std::move(prepared), store::preconditions{.if_match = *if_match, .controller = caller_controller(request)});
    } else if (body_id.empty()) {
      result = tx.create(std::move(prepared), {});
    } else {
      // No match but an id: create it under that id; an existing resource of that id does not match the
      // criteria, so overwriting it would change a record the client did not select (409).
      if (auto existing = tx.read(type, body_id); existing)
        return fhir::error(fhir::error_kind::conflict, fhir::issue_type::conflict,
                           fmt::format("No {} matches the criteria, and {}/{} exists without matching them", type, type, body_id),
                           "conditional-id-exists");
      result = tx.update(std::move(prepared), store::preconditions{.if_match = *if_match, .controller = caller_controller(request)});
    }
    if (!result) return std::move(result).error();
    written = std::move(*result);
    return fhir::done{};
  });
  if (!done) return error_response(done.error(), &request);
  return updated_response(ctx, *written, body->issues, request);
}

}  // namespace server::interactions
