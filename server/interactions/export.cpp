// FHIR Bulk Data export (Bulk Data Access 2.0, export.html): the kick-off at system, Patient and
// Group/[id] level, the status endpoint (GET: progress or the manifest; DELETE: cancel) and the output
// files. A job belongs to the caller who started it; another caller's status and file URLs are 404.
//
//   GET [base]/$export, [base]/Patient/$export, [base]/Group/[id]/$export   (Prefer: respond-async)
//       -> 202, Content-Location: [base]/$export-poll-status/[job]
//   GET [base]/$export-poll-status/[job]   -> 202 + X-Progress + Retry-After | 200 manifest | 500 failed
//   DELETE [base]/$export-poll-status/[job] -> 202 (cancelled, files removed)
//   GET [base]/$export-file/[job]/[name]    -> the NDJSON file (requiresAccessToken: the same caller)
//
// A patient's own export (patient-facing token, `Patient/$export`) is the subject access download: their
// compartment, minus what is withheld from them, audited with purpose PATRQT like any of their requests.

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/text.hpp"
#include "server/audit/request_audit.hpp"
#include "server/bulk/export_jobs.hpp"
#include "server/bulk/export_refilter.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/bulk/export_request.hpp"
#include "server/interactions/bulk_answers.hpp"
#include "server/interactions/interactions.hpp"
#include "server/responses.hpp"
#include "store/id_generator.hpp"

namespace server::interactions {
namespace {

using fhir::json::value;

constexpr std::string_view ndjson_content_type = "application/fhir+ndjson";
constexpr std::string_view kind = "export";

// The active Patient members of a Group (Group.member.entity, not inactive). A Group is in its members'
// compartments: one the caller may not see is as absent as on read (deleted and hidden too: 404).
fhir::result<std::vector<std::string>> group_members(const context& ctx, const fhir_request& request, const std::string& id) {
  auto group = ctx.store.read("Group", id);
  if (!group) {
    if (group.error().kind() == fhir::error_kind::gone)
      if (auto last = consent::last_live_version(ctx, "Group", id); last && !consent::visible(ctx, request, *last))
        return store::not_found_error("Group", id);
    return std::move(group).error();
  }
  if (!consent::visible(ctx, request, *group)) return store::not_found_error("Group", id);
  auto parsed = fhir::json::parse(group->json);
  if (!parsed) return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, "stored Group is not JSON", "export-group");
  std::vector<std::string> patients;
  if (const value* members = parsed->find("member"); members && members->is_array())
    for (const value& member : members->as_array()) {
      if (const value* inactive = member.find("inactive"); inactive && inactive->is_bool() && inactive->as_bool()) continue;
      const value* entity = member.find("entity");
      const std::string* reference = entity ? entity->find_string("reference") : nullptr;
      if (!reference) continue;
      std::string_view ref = *reference;
      if (ref.starts_with(ctx.settings.base_url + "/")) ref.remove_prefix(ctx.settings.base_url.size() + 1);
      if (ref.starts_with("Patient/") && ref.find('/', 8) == std::string_view::npos) patients.emplace_back(ref.substr(8));
    }
  return patients;
}

value manifest(const context& ctx, const bulk::export_job& job, const bulk::export_status& status) {
  fhir::json::array output;
  for (const bulk::export_file& file : status.files) {
    value entry = fhir::json::object{};
    entry.set("type", file.type);
    entry.set("url", bulk_answers::file_url(ctx, kind, job.id(), file.name));
    entry.set("count", value::integer(static_cast<std::int64_t>(file.count)));
    output.push_back(std::move(entry));
  }
  value m = fhir::json::object{};
  m.set("transactionTime", fhir::format_instant(status.transaction_time));
  m.set("request", job.spec().request_url);
  m.set("requiresAccessToken", true);
  m.set("output", std::move(output));
  m.set("error", fhir::json::array{});
  return m;
}

}  // namespace

http::response export_kickoff(const context& ctx, const fhir_request& request) {
  const std::vector<std::string>& path = request.path;
  bool at_patient = path.size() == 2 && path[0] == "Patient";
  bool at_group = path.size() == 3 && path[0] == "Group";
  // HEAD must be safe; a kick-off starts work.
  if (request.http.method == "HEAD") {
    http::response refused = error_response(fhir::error(fhir::error_kind::method_not_allowed, fhir::issue_type::not_supported,
                                                        "HEAD does not start a bulk export; use GET", "method-not-allowed"),
                                            &request);
    refused.set_header("Allow", "GET");
    return refused;
  }
  if (path.size() > 1 && !at_patient && !at_group)
    return error_response(fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_supported,
                                      "$export is defined on the system, on Patient and on Group/[id]", "operation-unknown"),
                          &request);
  auto spec = bulk::parse_export_request(ctx, request);
  if (!spec) return error_response(spec.error(), &request);
  if (at_group) {
    auto members = group_members(ctx, request, path[1]);
    if (!members) return error_response(members.error(), &request);
    spec->patients = std::move(*members);
  }
  // A patient's own export: their compartment only (the gate lets them ask for nothing else).
  if (request.caller && request.caller->patient_facing()) spec->patients = {request.caller->token->patient};
  std::string id = store::new_resource_id();
  auto job = ctx.exports->submit(std::make_shared<bulk::export_job>(id, std::move(*spec), *request.caller, ctx.exports->directory_for(id)),
                                 fhir::now_ms());
  if (!job) return bulk_answers::refused(job.error(), request);
  return bulk_answers::accepted(ctx, kind, (*job)->id(), request);
}

http::response export_status(const context& ctx, const fhir_request& request) {
  const std::string& id = request.path[1];
  auto job = ctx.exports->find(id, *request.caller, fhir::now_ms());
  if (!job) return error_response(bulk_answers::no_such_job(kind, id), &request);
  bulk::export_status status = job->status();
  if (status.state == bulk::job_state::queued || status.state == bulk::job_state::running) return bulk_answers::in_progress(status.progress);
  if (status.state == bulk::job_state::failed) return bulk_answers::failed(kind, id, "kick it off again", request);
  // What consent withheld and which Consents decided, for this request's audit record (the export's
  // result is handed over here; each file's download then names what it returns).
  if (request.audit) {
    for (const audit::consent_decision& d : status.decisions) request.audit->consent_applied(d);
    request.audit->targeted(status.withheld_patients);
  }
  http::response response;
  response.status = 200;
  response.body = fhir::json::serialize(manifest(ctx, *job, status));
  response.set_header("Content-Type", "application/json");
  response.set_header("Expires", fhir::format_http_date(status.finished + ctx.exports->retention()));
  return response;
}

http::response export_cancel(const context& ctx, const fhir_request& request) {
  const std::string& id = request.path[1];
  if (!ctx.exports->cancel(id, *request.caller, fhir::now_ms())) return error_response(bulk_answers::no_such_job(kind, id), &request);
  return information_response(202, "Bulk export " + id + " cancelled; its files are removed", request);
}

http::response export_file(const context& ctx, const fhir_request& request) {
  const std::string& id = request.path[1];
  const std::string& name = request.path[2];
  auto job = ctx.exports->find(id, *request.caller, fhir::now_ms());
  if (!job) return error_response(bulk_answers::no_such_job(kind, id), &request);
  // Only a file the job lists is served: the name is never used as a path on its own.
  for (const bulk::export_file& file : job->status().files) {
    if (file.name != name) continue;
    // Consents written since the export was made apply to this download too (P4).
    auto path = bulk::current_view(ctx, *job, file);
    if (!path) return error_response(path.error(), &request);
    if (request.audit) request.audit->returned_many(file.resources, file.count, file.patients);
    http::response response;
    response.status = 200;
    response.file = std::move(*path);
    response.set_header("Content-Type", std::string(ndjson_content_type));
    return response;
  }
  return error_response(fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                                    fmt::format("Bulk export {} has no file {}", id, fhir::utf8_prefix(name, 100)), "export-file-unknown"),
                        &request);
}

}  // namespace server::interactions
