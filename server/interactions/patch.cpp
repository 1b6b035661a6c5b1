// http.html#patch: PATCH [type]/[id] with a JSON Patch (application/json-patch+json) or a FHIRPath Patch
// (a Parameters resource, application/fhir+json); PATCH [type]?criteria patches the single match. The
// patched resource is validated like any update and written only if the version it was made from is
// still current (a concurrent write makes the patch start again from the new version, unless the client
// named a version with If-Match: then 412).

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/patch/fhirpath_patch.hpp"
#include "fhir/patch/json_patch.hpp"
#include "fhir/resource.hpp"
#include "fhir/text.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/conditional.hpp"
#include "server/interactions/interactions.hpp"
#include "server/interactions/patch.hpp"
#include "server/negotiation.hpp"
#include "server/responses.hpp"

namespace server::interactions {
namespace {

bool is_json_patch(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return http::iequals(type, "application/json-patch+json");
}

http::response patch_resource(const context& ctx, const fhir_request& request, const std::string& type, const std::string& id) {
  auto if_match = if_match_version(request);
  if (!if_match) return error_response(if_match.error(), &request);
  auto content_type = request.http.header_value("Content-Type");
  bool json_patch = content_type && is_json_patch(*content_type);
  if (!json_patch)
    if (auto format = check_body_format(content_type); !format)
      return error_response(fhir::error(fhir::error_kind::unsupported_media_type, fhir::issue_type::not_supported,
                                        "PATCH takes application/json-patch+json (JSON Patch) or application/fhir+json "
                                        "(a FHIRPath Patch Parameters resource)",
                                        "patch-content-type"),
                            &request);
  auto document = fhir::json::parse(request.http.body);
  if (!document) return error_response(document.error(), &request);

  for (int attempt = 0;; ++attempt) {
    auto current = ctx.store.read(type, id);
    if (!current) return error_response(current.error(), &request);
    if (!consent::visible(ctx, request, *current)) return error_response(store::not_found_error(type, id), &request);
    if (*if_match && **if_match != store::preconditions::any_version && **if_match != current->info.version)
      return error_response(fhir::error(fhir::error_kind::precondition_failed, fhir::issue_type::conflict,
                                        fmt::format("If-Match names version {} of {}/{}, but the current version is {}", **if_match,
                                                    type, id, current->info.version),
                                        "version-mismatch"),
                            &request);
    auto patched = patched_resource(ctx, request, type, id, current->json, *document, json_patch);
    if (!patched) return error_response(patched.error(), &request);
    auto written = ctx.store.update(std::move(*patched), store::preconditions{.if_match = current->info.version,
                                                                             .controller = caller_controller(request)});
    if (!written && written.error().kind() == fhir::error_kind::precondition_failed && !*if_match && attempt < 3) continue;
    if (!written) return error_response(written.error(), &request);
    const auto& info = written->version.info;
    std::string message = written->unchanged ? fmt::format("The patch leaves {}/{} unchanged (version {})", type, id, info.version)
                                             : fmt::format("Patched {}/{}: version {}", type, id, info.version);
    auto response = write_response(200, written->version, std::move(message), {}, request);
    response.set_header("Content-Location", version_url(ctx.settings, info));
    return response;
  }
}

}  // namespace

fhir::result<fhir::json::value> patched_resource(const context& ctx, const fhir_request& request, std::string_view type,
                                                 std::string_view id, std::string_view current_json,
                                                 const fhir::json::value& document, bool json_patch) {
  auto resource = fhir::json::parse(current_json);
  if (!resource) return std::move(resource).error();
  // Another organisation's record: 403, as for an update (the store checks again when writing); before
  // record_controller, which would call the stored tag a mismatch (422).
  std::string caller = caller_controller(request);
  if (std::string_view owner = fhir::data_controller_of(*resource); !caller.empty() && !owner.empty() && owner != caller)
    return fhir::error(fhir::error_kind::forbidden, fhir::issue_type::forbidden,
                       fmt::format("{}/{} is {}'s data; {} may not change it", type, id, owner, caller), "data-controller-forbidden");
  auto patched = json_patch ? fhir::patch::apply_json_patch(*resource, document)
                            : fhir::patch::apply_fhirpath_patch(*resource, document, ctx.definitions);
  if (!patched) return patched;
  if (!patched->is_object() || fhir::resource_type_of(*patched) != type || fhir::id_of(*patched) != id)
    return fhir::error(fhir::error_kind::unprocessable, fhir::issue_type::processing,
                       "The patch does not leave the same resource (an object of the same type and id)", "patch-changes-identity");
  if (auto recorded = record_controller(request, *patched); !recorded) return std::move(recorded).error();
  auto checked = ctx.validator.check(*patched);
  count_validation(ctx, request, type, checked.issues, &*patched);
  if (fhir::has_errors(checked.issues)) return fhir::error(fhir::error_kind::unprocessable, std::move(checked.issues));
  return patched;
}

http::response patch(const context& ctx, const fhir_request& request) {
  const std::string& id = request.path[1];
  if (auto valid = check_id(ctx, id); !valid) return error_response(valid.error(), &request);
  return patch_resource(ctx, request, request.path[0], id);
}

http::response patch_conditional(const context& ctx, const fhir_request& request) {
  const std::string& type = request.path[0];
  auto query = conditional_query(ctx, type, request.params, request.caller);
  if (!query) return error_response(query.error(), &request);
  std::optional<std::string> id;
  auto matched = ctx.store.transact([&](store::transaction& tx) -> fhir::result<fhir::done> {
    auto match = single_match(tx, *query, "The conditional patch");
    if (!match) return std::move(match).error();
    id = std::move(*match);
    return fhir::done{};
  });
  if (!matched) return error_response(matched.error(), &request);
  if (!id)
    return error_response(fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                                      fmt::format("No {} matches the conditional patch", type), "conditional-no-match"),
                          &request);
  return patch_resource(ctx, request, type, *id);
}

}  // namespace server::interactions
