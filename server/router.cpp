#include "server/router.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "fhir/text.hpp"
#include "fhir/time.hpp"
#include "server/access_gate.hpp"
#include "server/audit/request_audit.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/consent/consent_writes.hpp"
#include "server/interactions/common.hpp"
#include "server/metrics.hpp"
#include "server/quality/quality_recorder.hpp"
#include "server/responses.hpp"

namespace server {
namespace {

bool is_placeholder(std::string_view segment) { return segment.starts_with('{'); }

// 401 carries the challenge of RFC 6750: no token at all gets a bare challenge, a rejected one says why.
// Other authentication failures (400 ambiguous purpose, 403 purpose not allowed) are plain errors.
http::response unauthenticated_response(const fhir::error& error, const fhir_request& request) {
  http::response response = error_response(error, &request);
  if (error.kind() != fhir::error_kind::unauthenticated) return response;
  bool missing = !error.issues().empty() && error.issues().front().message_id == "token-missing";
  response.set_header("WWW-Authenticate", missing ? "Bearer" : "Bearer error=\"invalid_token\"");
  return response;
}

fhir::error not_found(std::string diagnostics, std::string id) {
  return fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found, std::move(diagnostics), std::move(id));
}

}  // namespace

router::router() {
  using namespace interactions;
  // Order matters where shapes overlap: literal segments are listed before placeholders.
  add("", {{"GET", "search-system", search_system}, {"POST", "transaction", bundle}});
  add("_search", {{"POST", "search-system", search_system}});
  add("metadata", {{"GET", "capabilities", capabilities}});
  add("_history", {{"GET", "history-system", history_system}});
  add("$export", {{"GET", "$export", export_kickoff}});
  add("$data-quality", {{"GET", "$data-quality", data_quality}});
  add("$export-poll-status/{job}", {{"GET", "$export-poll-status", export_status}, {"DELETE", "$export-poll-status", export_cancel}});
  add("$export-file/{job}/{file}", {{"GET", "$export-file", export_file, true}});
  add("$import", {{"POST", "$import", import_kickoff}});
  add("$import-poll-status/{job}", {{"GET", "$import-poll-status", import_status}, {"DELETE", "$import-poll-status", import_cancel}});
  add("$import-file/{job}/{file}", {{"GET", "$import-file", import_file, true}});
  add("{type}/_history", {{"GET", "history-type", history_type}});
  add("{type}/$validate", {{"POST", "$validate", validate}});
  add("{type}/$export", {{"GET", "$export", export_kickoff}});
  add("{type}/_search", {{"POST", "search-type", search_type}});
  add("{type}", {{"GET", "search-type", search_type}, {"POST", "create", create},
                 {"PUT", "conditional-update", update_conditional}, {"DELETE", "conditional-delete", delete_conditional},
                 {"PATCH", "conditional-patch", patch_conditional}});
  add("{type}/{id}", {{"GET", "read", read}, {"PUT", "update", update}, {"PATCH", "patch", patch}, {"DELETE", "delete", delete_}});
  add("{type}/{id}/_history", {{"GET", "history-instance", history_instance}});
  add("{type}/{id}/$validate", {{"POST", "$validate", validate}});
  add("{type}/{id}/_history/{vid}", {{"GET", "vread", vread}});
  add("{type}/{id}/$everything", {{"GET", "$everything", everything}});
  add("{type}/{id}/$export", {{"GET", "$export", export_kickoff}});
  add("{type}/{id}/$break-glass", {{"POST", "$break-glass", break_glass}});
  add("{type}/{id}/{compartment_type}", {{"GET", "search-compartment", search_compartment}});
}

void router::add(std::string_view pattern, std::vector<method_binding> methods) {
  route r;
  while (!pattern.empty()) {
    auto slash = pattern.find('/');
    r.pattern.emplace_back(pattern.substr(0, slash));
    pattern = slash == std::string_view::npos ? std::string_view() : pattern.substr(slash + 1);
  }
  r.methods = std::move(methods);
  routes_.push_back(std::move(r));
}

const router::route* router::match(const std::vector<std::string>& path) const {
  for (const route& r : routes_) {
    if (r.pattern.size() != path.size()) continue;
    bool matches = true;
    for (std::size_t i = 0; i < path.size() && matches; ++i)
      matches = is_placeholder(r.pattern[i]) ? !path[i].empty() : path[i] == r.pattern[i];
    if (matches) return &r;
  }
  return nullptr;
}

std::vector<supported_interaction> router::supported_interactions() const {
  std::vector<supported_interaction> out;
  for (const route& r : routes_) {
    bool type_level = !r.pattern.empty() && r.pattern[0] == "{type}";
    for (const method_binding& m : r.methods)
      if (m.interaction_code != "capabilities" &&
          std::none_of(out.begin(), out.end(), [&](const supported_interaction& s) { return s.code == m.interaction_code; }))
        out.push_back({m.interaction_code, !type_level});
  }
  return out;
}

// Requests from the network are counted and timed for GET /metrics (batch entries are part of their Bundle's).
http::response router::handle(const context& ctx, const http::request& request) const {
  if (!ctx.metrics) return dispatch(ctx, request, nullptr);
  auto start = std::chrono::steady_clock::now();
  std::string_view interaction = "none";
  http::response response = dispatch(ctx, request, nullptr, &interaction);
  ctx.metrics->record_request(interaction, response.status, std::chrono::steady_clock::now() - start);
  return response;
}

// A batch entry's or a transaction read's response is settled here: the Bundle's answer is sent only
// once every entry's audit record has committed.
http::response router::handle_as(const context& ctx, const http::request& request, const auth::caller& caller) const {
  http::response response = dispatch(ctx, request, &caller);
  http::settle(response);
  return response;
}

namespace {

// A request that may have written a Consent (to Consent, or a Bundle) drops the cached Consents once it
// has committed and before it is answered, so the change applies to the very next request (P4).
http::response forget_consents_if_written(const context& ctx, const http::request& request, http::response response) {
  if (request.method == "GET" || request.method == "HEAD" || response.status >= 400 || !ctx.consents) return response;
  auto target = http::parse_target(request.target);
  if (!target || target->segments.size() < 2 || target->segments[1] == "Consent" || target->segments[1].starts_with('$') ||
      target->segments[1].starts_with('_'))
    ctx.consents->invalidate();
  return response;
}

}  // namespace

// Every request is audited (consent.md section 4): the record is collected while the request is served
// and written by its unit of work when it writes, else after the interaction.
http::response router::dispatch(const context& ctx, const http::request& http_request, const auth::caller* caller,
                                std::string_view* interaction) const {
  if (!ctx.settings.audit) return forget_consents_if_written(ctx, http_request, serve(ctx, http_request, caller, nullptr, interaction));
  audit::request_audit audit(ctx, http_request);
  store::scoped_audit in_unit([&ctx, &audit](const std::vector<store::audited_write>& written) {
    // What the unit wrote is checked for data quality once it has committed (quality_recorder).
    if (ctx.quality && audit.caller()) ctx.quality->written(*audit.caller(), written);
    return audit.for_writes(written);
  });
  return audit.finish(forget_consents_if_written(ctx, http_request, serve(ctx, http_request, caller, &audit, interaction)));
}

http::response router::serve(const context& ctx, const http::request& http_request, const auth::caller* caller,
                             audit::request_audit* audit, std::string_view* interaction) const {
  auto target = http::parse_target(http_request.target);
  if (!target) return error_response(target.error());

  std::vector<std::string>& segments = target->segments;
  if (segments.empty() || segments.front() != base_segment)
    return error_response(not_found(fmt::format("No FHIR endpoint at '{}': the base URL is {}",
                                                fhir::utf8_prefix(http_request.target, 200), ctx.settings.base_url),
                                    "route-not-found"));
  segments.erase(segments.begin());

  fhir_request request{http_request, std::move(segments), std::move(target->params)};
  request.audit = audit;
  if (auto pretty = request.param("_pretty")) request.pretty = *pretty == "true";
  request.prefer = parse_prefer_return(http_request.header_value("Prefer"));

  const route* r = match(request.path);
  std::string_view method = http_request.method == "HEAD" ? "GET" : std::string_view(http_request.method);
  // A route that answers with an NDJSON file answers so whatever the client accepts (bulk data clients
  // send Accept: application/fhir+ndjson); every other answer is FHIR JSON, checked here.
  bool answers_file = r && std::any_of(r->methods.begin(), r->methods.end(),
                                       [&](const method_binding& m) { return m.method == method && m.answers_file; });
  if (auto format = check_response_format(request.param("_format"), http_request.header_value("Accept")); !format && !answers_file)
    return error_response(format.error(), &request);

  if (!r) {
    bool known_type = !request.path.empty() && ctx.definitions.is_resource_type(request.path[0]);
    std::string diagnostics = known_type || request.path.empty()
                                  ? fmt::format("No interaction of this server matches '{}'", fhir::utf8_prefix(http_request.target, 200))
                                  : fmt::format("'{}' is not a resource type this server knows", fhir::utf8_prefix(request.path[0], 100));
    return error_response(not_found(std::move(diagnostics), known_type ? "route-not-found" : "type-unknown"), &request);
  }
  if (!r->pattern.empty() && r->pattern[0] == "{type}" && !ctx.definitions.is_resource_type(request.path[0]))
    return error_response(not_found(fmt::format("'{}' is not a resource type this server knows", fhir::utf8_prefix(request.path[0], 100)),
                                    "type-unknown"),
                          &request);

  for (const method_binding& m : r->methods) {
    if (m.method != method) continue;
    if (interaction) *interaction = m.interaction_code;
    // The CapabilityStatement is public (clients read it to learn how to authenticate).
    if (audit) audit->routed(m.interaction_code, request);
    if (m.interaction_code == "capabilities") return m.handler(ctx, request);
    std::optional<auth::caller> authenticated;
    if (!caller) {
      auto who = ctx.auth->authenticate(http_request.header_value("Authorization"), http_request.header_value("X-Purpose-Of-Use"),
                                        fhir::now_ms() / 1000);
      if (!who) return unauthenticated_response(who.error(), request);
      authenticated = std::move(*who);
      caller = &*authenticated;
    }
    request.caller = caller;
    if (audit) audit->authenticated(*caller);
    // A POST search's parameters are in its body: the gate must see them (_type) as the search does.
    if (m.interaction_code.starts_with("search-")) {
      auto params = interactions::form_search_parameters(request);
      if (!params) return error_response(params.error(), &request);
      request.params = std::move(*params);
    }
    if (auto allowed = check_access(ctx, request, m.interaction_code); !allowed) return error_response(allowed.error(), &request);
    // The Consent workflow's rules run inside whichever unit of work writes a Consent.
    store::scoped_write_check consent_rules([&ctx, caller](store::transaction& unit, const std::vector<store::audited_write>& written) {
      return consent::check_consent_writes(ctx, *caller, unit, written);
    });
    http::response response = m.handler(ctx, request);
    // A write that succeeded, for the writes-by-organisation figures (searches by POST and operations are not writes).
    // Batch entries come back through here on behalf of their Bundle's caller: the Bundle is the write.
    if (ctx.metrics && authenticated.has_value() && method != "GET" && response.status < 300 &&
        !m.interaction_code.starts_with("search") && !m.interaction_code.starts_with("$"))
      ctx.metrics->record_write(caller->controller, request.path.empty() ? "Bundle" : std::string_view(request.path[0]));
    // Emergency access applied (a break-glass session decided something): the caller's system is told.
    if (request.emergency_access) response.set_header("X-Break-Glass", "active");
    return response;
  }

  std::string allow;
  for (const method_binding& m : r->methods) {
    if (!allow.empty()) allow += ", ";
    allow += m.method;
    if (m.method == "GET") allow += ", HEAD";
  }
  auto response = error_response(fhir::error(fhir::error_kind::method_not_allowed, fhir::issue_type::not_supported,
                                             fmt::format("{} is not supported here; allowed: {}", http_request.method, allow),
                                             "method-not-allowed"),
                                 &request);
  response.set_header("Allow", allow);
  return response;
}

}  // namespace server
