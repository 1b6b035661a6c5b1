#include "server/interactions/bulk_answers.hpp"

#include <fmt/format.h>

#include "fhir/json/serialize.hpp"
#include "fhir/text.hpp"
#include "server/http/url.hpp"
#include "server/responses.hpp"

namespace server::interactions::bulk_answers {

std::string status_url(const context& ctx, std::string_view kind, const std::string& job) {
  return fmt::format("{}/${}-poll-status/{}", ctx.settings.base_url, kind, job);
}

std::string file_url(const context& ctx, std::string_view kind, const std::string& job, const std::string& name) {
  return fmt::format("{}/${}-file/{}/{}", ctx.settings.base_url, kind, job, http::percent_encode(name));
}

fhir::error no_such_job(std::string_view kind, std::string_view id) {
  return fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                     fmt::format("No bulk {} job {} (unknown, expired, cancelled, or started by another caller)", kind, fhir::utf8_prefix(id, 100)),
                     fmt::format("{}-job-unknown", kind));
}

http::response accepted(const context& ctx, std::string_view kind, const std::string& job, const fhir_request& request) {
  http::response response = information_response(202, fmt::format("Bulk {} accepted: poll the Content-Location for its status", kind), request);
  response.set_header("Content-Location", status_url(ctx, kind, job));
  return response;
}

http::response refused(const fhir::error& error, const fhir_request& request) {
  http::response response = error_response(error, &request);
  if (error.kind() == fhir::error_kind::busy) response.set_header("Retry-After", "30");
  return response;
}

http::response in_progress(std::string_view progress) {
  http::response response;
  response.status = 202;
  response.set_header("X-Progress", std::string(fhir::utf8_prefix(progress, 100)));
  response.set_header("Retry-After", "2");
  return response;
}

http::response failed(std::string_view kind, std::string_view id, std::string_view hint, const fhir_request& request) {
  auto outcome = fhir::to_operation_outcome({fhir::issue{fhir::severity::error, fhir::issue_type::exception,
                                                         fmt::format("Bulk {} {} failed; {}", kind, id, hint), {}, fmt::format("{}-failed", kind)}});
  return json_response(500, fhir::json::serialize(outcome), request);
}

}  // namespace server::interactions::bulk_answers
