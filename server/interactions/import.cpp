// Bulk import (the Bulk Data import proposal, manifest approach; bulk/import_request.hpp): the kick-off,
// the status endpoint (GET: progress or the result; DELETE: cancel) and the error files. A job belongs to
// the caller who started it; another caller's status and file URLs are 404.
//
//   POST [base]/$import   (Prefer: respond-async; the manifest or a Parameters resource)
//       -> 202, Content-Location: [base]/$import-poll-status/[job]
//   GET [base]/$import-poll-status/[job]    -> 202 + X-Progress + Retry-After | 200 result | 500 failed
//   DELETE [base]/$import-poll-status/[job] -> 202 (cancelled; what was committed stays)
//   GET [base]/$import-file/[job]/[name]    -> an error file (NDJSON of OperationOutcomes)

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/text.hpp"
#include "server/access_gate.hpp"
#include "server/audit/request_audit.hpp"
#include "server/bulk/import_jobs.hpp"
#include "server/interactions/interactions.hpp"
#include "server/negotiation.hpp"
#include "server/responses.hpp"
#include "store/id_generator.hpp"

namespace server::interactions {
namespace {

using fhir::json::value;

std::string status_url(const context& ctx, const std::string& job) { return ctx.settings.base_url + "/$import-poll-status/" + job; }
std::string file_url(const context& ctx, const std::string& job, const std::string& name) {
  return ctx.settings.base_url + "/$import-file/" + job + "/" + http::percent_encode(name);
}

fhir::error no_such_job(std::string_view id) {
  return fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                     fmt::format("No bulk import job {} (unknown, expired, cancelled, or started by another caller)", fhir::utf8_prefix(id, 100)),
                     "import-job-unknown");
}

// The proposal's completion body: per input, what was imported (output) and what was not (error).
value result_body(const context& ctx, const bulk::import_job& job, const bulk::import_status& status) {
  fhir::json::array output, errors;
  for (std::size_t i = 0; i < status.outcomes.size(); ++i) {
    const bulk::import_outcome& outcome = status.outcomes[i];
    const std::string& input_url = job.spec().inputs[i].url;
    value entry = fhir::json::object{};
    entry.set("type", "OperationOutcome");
    entry.set("inputUrl", input_url);
    entry.set("count", value::integer(static_cast<std::int64_t>(outcome.count)));
    output.push_back(std::move(entry));
    if (!outcome.errors) continue;
    value error = fhir::json::object{};
    error.set("type", "OperationOutcome");
    error.set("inputUrl", input_url);
    error.set("count", value::integer(static_cast<std::int64_t>(outcome.errors)));
    error.set("url", file_url(ctx, job.id(), outcome.error_file));
    errors.push_back(std::move(error));
  }
  value body = fhir::json::object{};
  body.set("transactionTime", fhir::format_instant(status.transaction_time));
  body.set("request", job.spec().request_url);
  body.set("requiresAccessToken", true);
  body.set("output", std::move(output));
  body.set("error", std::move(errors));
  return body;
}

}  // namespace

http::response import_kickoff(const context& ctx, const fhir_request& request) {
  const auth::caller& caller = *request.caller;
  // A patient writes nothing but their own objection, one request at a time.
  if (caller.patient_facing()) return error_response(auth::forbidden(), &request);
  if (!prefers(request.http.header_value("Prefer"), "respond-async"))
    return error_response(fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                                      "$import is asynchronous: send Prefer: respond-async", "import-prefer-missing"),
                          &request);
  if (auto format = check_body_format(request.http.header_value("Content-Type")); !format) return error_response(format.error(), &request);
  auto body = fhir::json::parse(request.http.body);
  if (!body) return error_response(body.error(), &request);
  auto spec = bulk::parse_import_request(ctx, *body, ctx.settings.base_url + "/$import");
  if (!spec) return error_response(spec.error(), &request);
  // Each line will be written as a PUT of its input's type: the caller must be allowed that.
  for (const bulk::import_input& input : spec->inputs)
    if (auto allowed = check_write_entry(ctx, caller, input.type, "PUT"); !allowed) return error_response(allowed.error(), &request);
  if (request.audit) spec->request_id = request.audit->request_id();
  spec->remote_address = request.http.remote_address;
  std::string directory = ctx.imports->directory_for(bulk::import_key(*spec, caller));
  auto job = ctx.imports->submit(std::make_shared<bulk::import_job>(store::new_resource_id(), std::move(*spec), caller, std::move(directory)),
                                 fhir::now_ms());
  if (!job) {
    http::response busy = error_response(job.error(), &request);
    if (job.error().kind() == fhir::error_kind::busy) busy.set_header("Retry-After", "30");
    return busy;
  }
  http::response response = information_response(202, "Bulk import accepted: poll the Content-Location for its status", request);
  response.set_header("Content-Location", status_url(ctx, (*job)->id()));
  return response;
}

http::response import_status(const context& ctx, const fhir_request& request) {
  const std::string& id = request.path[1];
  auto job = ctx.imports->find(id, *request.caller, fhir::now_ms());
  if (!job) return error_response(no_such_job(id), &request);
  bulk::import_status status = job->status();
  if (status.state == bulk::job_state::queued || status.state == bulk::job_state::running) {
    http::response response;
    response.status = 202;
    response.set_header("X-Progress", std::string(fhir::utf8_prefix(status.progress, 100)));
    response.set_header("Retry-After", "2");
    return response;
  }
  if (status.state == bulk::job_state::failed)
    return error_response(fhir::error(fhir::error_kind::fault, fhir::issue_type::exception,
                                      "bulk import " + id + " failed; what was committed before the failure stays, and asking for the same import "
                                                            "again continues it",
                                      "import-failed"),
                          &request);
  http::response response;
  response.status = 200;
  response.body = fhir::json::serialize(result_body(ctx, *job, status));
  response.set_header("Content-Type", "application/json");
  response.set_header("Expires", fhir::format_http_date(status.finished + ctx.imports->retention()));
  return response;
}

http::response import_cancel(const context& ctx, const fhir_request& request) {
  const std::string& id = request.path[1];
  if (!ctx.imports->cancel(id, *request.caller, fhir::now_ms())) return error_response(no_such_job(id), &request);
  return information_response(202, "Bulk import " + id + " cancelled; what it committed before stays", request);
}

http::response import_file(const context& ctx, const fhir_request& request) {
  const std::string& id = request.path[1];
  const std::string& name = request.path[2];
  auto job = ctx.imports->find(id, *request.caller, fhir::now_ms());
  if (!job) return error_response(no_such_job(id), &request);
  // Only a file the job lists is served: the name is never used as a path on its own.
  for (const bulk::import_outcome& outcome : job->status().outcomes) {
    if (outcome.error_file.empty() || outcome.error_file != name) continue;
    http::response response;
    response.status = 200;
    response.file = job->directory() + "/" + name;
    response.set_header("Content-Type", "application/fhir+ndjson");
    return response;
  }
  return error_response(fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                                    fmt::format("Bulk import {} has no file {}", id, fhir::utf8_prefix(name, 100)), "import-file-unknown"),
                        &request);
}

}  // namespace server::interactions
