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
#include "server/interactions/bulk_answers.hpp"
#include "server/interactions/interactions.hpp"
#include "server/negotiation.hpp"
#include "server/responses.hpp"
#include "store/id_generator.hpp"

namespace server::interactions {
namespace {

using fhir::json::value;

constexpr std::string_view kind = "import";

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
    error.set("url", bulk_answers::file_url(ctx, kind, job.id(), outcome.error_file));
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
  for (std::size_t i = 0; i < spec->inputs.size(); ++i) {
    const std::string& type = spec->inputs[i].type;
    auto allowed = check_write_entry(ctx, caller, type, "PUT");
    if (allowed) continue;
    // A type only the server writes (AuditEvent) is a bad request here, not a method the URL lacks.
    if (allowed.error().kind() == fhir::error_kind::method_not_allowed)
      return error_response(fhir::error(fhir::error_kind::invalid, fhir::issue_type::not_supported,
                                        fmt::format("{} resources are written by the server only; they cannot be imported", type),
                                        "import-type-not-writable", spec->inputs[i].type_at),
                            &request);
    return error_response(allowed.error(), &request);
  }
  if (request.audit) spec->request_id = request.audit->request_id();
  spec->remote_address = request.http.remote_address;
  std::string directory = ctx.imports->directory_for(bulk::import_key(*spec, caller));
  auto job = ctx.imports->submit(std::make_shared<bulk::import_job>(store::new_resource_id(), std::move(*spec), caller, std::move(directory)),
                                 fhir::now_ms());
  if (!job) return bulk_answers::refused(job.error(), request);
  return bulk_answers::accepted(ctx, kind, (*job)->id(), request);
}

http::response import_status(const context& ctx, const fhir_request& request) {
  const std::string& id = request.path[1];
  auto job = ctx.imports->find(id, *request.caller, fhir::now_ms());
  if (!job) return error_response(bulk_answers::no_such_job(kind, id), &request);
  bulk::import_status status = job->status();
  if (status.state == bulk::job_state::queued || status.state == bulk::job_state::running) return bulk_answers::in_progress(status.progress);
  if (status.state == bulk::job_state::failed)
    return bulk_answers::failed(kind, id, "what it committed stays, and asking for the same import again continues it", request);
  http::response response;
  response.status = 200;
  response.body = fhir::json::serialize(result_body(ctx, *job, status));
  response.set_header("Content-Type", "application/json");
  response.set_header("Expires", fhir::format_http_date(status.finished + ctx.imports->retention()));
  return response;
}

http::response import_cancel(const context& ctx, const fhir_request& request) {
  const std::string& id = request.path[1];
  if (!ctx.imports->cancel(id, *request.caller, fhir::now_ms())) return error_response(bulk_answers::no_such_job(kind, id), &request);
  return information_response(202, "Bulk import " + id + " cancelled; what it committed before stays", request);
}

http::response import_file(const context& ctx, const fhir_request& request) {
  const std::string& id = request.path[1];
  const std::string& name = request.path[2];
  auto job = ctx.imports->find(id, *request.caller, fhir::now_ms());
  if (!job) return error_response(bulk_answers::no_such_job(kind, id), &request);
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
