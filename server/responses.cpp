#include "server/responses.hpp"

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/text.hpp"
#include "server/http_status.hpp"
#include "server/log.hpp"

namespace server {

http::response json_response(unsigned status, std::string json, const fhir_request& request) {
  http::response r;
  r.status = status;
  r.set_header("Content-Type", std::string(fhir_json_content_type));
  if (request.pretty) {
    if (auto parsed = fhir::json::parse(json)) json = fhir::json::serialize_pretty(*parsed);
  }
  r.body = std::move(json);
  return r;
}

http::response error_response(const fhir::error& error, const fhir_request* request) {
  http::response r;
  r.status = http_status_of(error.kind());
  r.set_header("Content-Type", std::string(fhir_json_content_type));
  std::vector<fhir::issue> issues = error.issues();
  if (error.kind() == fhir::error_kind::fault) {
    log::error("internal error{}{}: {}", request ? " for " : "", request ? fhir::utf8_prefix(request->http.target, 500) : "", error.summary());
    issues = {fhir::issue{fhir::severity::error, fhir::issue_type::exception,
                          "An internal error occurred; the server log has the details", {}, "internal-error"}};
  }
  auto outcome = fhir::to_operation_outcome(issues);
  r.body = request && request->pretty ? fhir::json::serialize_pretty(outcome) : fhir::json::serialize(outcome);
  return r;
}

http::response information_response(unsigned status, std::string diagnostics, const fhir_request& request) {
  auto outcome = fhir::to_operation_outcome(
      {fhir::issue{fhir::severity::information, fhir::issue_type::informational, std::move(diagnostics), {}, {}}});
  return json_response(status, fhir::json::serialize(outcome), request);
}

std::string etag_of(std::int64_t version) { return "W/\"" + std::to_string(version) + "\""; }

void set_version_headers(http::response& response, const store::version_info& info) {
  response.set_header("ETag", etag_of(info.version));
  response.set_header("Last-Modified", fhir::format_http_date(info.last_updated));
}

std::string version_url(const settings& settings, const store::version_info& info) {
  return settings.base_url + "/" + info.type + "/" + info.id + "/_history/" + std::to_string(info.version);
}

http::response write_response(unsigned status, const store::resource_version& version, std::string message,
                              const std::vector<fhir::issue>& validation_issues, const fhir_request& request) {
  http::response r;
  switch (request.prefer) {
    case prefer_return::representation: r = json_response(status, version.json, request); break;
    case prefer_return::operation_outcome: {
      std::vector<fhir::issue> issues{fhir::issue{fhir::severity::information, fhir::issue_type::informational, std::move(message), {}, {}}};
      issues.insert(issues.end(), validation_issues.begin(), validation_issues.end());
      r = json_response(status, fhir::json::serialize(fhir::to_operation_outcome(issues)), request);
      break;
    }
    case prefer_return::minimal: r.status = status; break;
  }
  set_version_headers(r, version.info);
  return r;
}

}  // namespace server
