#include "server/audit/request_audit.hpp"

#include <algorithm>

#include "fhir/json/parse.hpp"
#include "fhir/outcome.hpp"
#include "server/access_gate.hpp"
#include "server/audit/audit_record_codec.hpp"
#include "server/fhir_request.hpp"
#include "server/log.hpp"
#include "server/responses.hpp"
#include "store/id_generator.hpp"

namespace server::audit {
namespace {

constexpr std::size_t max_patients = 100;

// A client's X-Request-Id is echoed and audited: 1-200 characters of a conservative set.
bool usable_request_id(std::string_view id) {
  return !id.empty() && id.size() <= 200 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
  });
}

// The first diagnostic of an OperationOutcome body, for the record of a failed request.
std::string first_diagnostic(const std::string& body) {
  auto outcome = fhir::json::parse(body);
  if (!outcome) return {};
  const fhir::json::value* issues = outcome->find("issue");
  if (!issues || !issues->is_array() || issues->as_array().empty()) return {};
  const std::string* text = issues->as_array().front().find_string("diagnostics");
  return text ? *text : std::string();
}

}  // namespace

std::vector<std::string> referenced_patients(std::string_view body) {
  std::vector<std::string> out;
  constexpr std::string_view key = "\"reference\":\"";
  for (std::size_t at = body.find(key); at != std::string_view::npos; at = body.find(key, at + 1)) {
    std::size_t start = at + key.size();
    std::size_t end = body.find('"', start);
    if (end == std::string_view::npos) break;
    std::string_view ref = body.substr(start, end - start);
    std::size_t patient = ref.rfind("Patient/");
    if (patient == std::string_view::npos || (patient > 0 && ref[patient - 1] != '/')) continue;
    std::string_view id = ref.substr(patient + 8);
    id = id.substr(0, id.find('/'));  // Patient/1/_history/2
    if (!id.empty() && std::find(out.begin(), out.end(), id) == out.end()) out.emplace_back(id);
  }
  return out;
}

request_audit::request_audit(const context& ctx, const http::request& request) : ctx_(ctx) {
  auto given = request.header_value("X-Request-Id");
  facts_.request_id = given && usable_request_id(*given) ? std::string(*given) : store::new_resource_id();
  facts_.method = request.method;
  facts_.target = request.target;
  facts_.remote_address = request.remote_address;
  facts_.server_url = ctx.settings.base_url;
  facts_.interaction = "unknown";
}

void request_audit::authenticated(const auth::caller& caller) {
  // Kept for the data-quality hook of a unit of work; reads (the hot path) write nothing.
  if (facts_.method != "GET" && facts_.method != "HEAD") caller_ = caller;
  facts_.caller = audited(caller);
}

void request_audit::routed(std::string_view interaction, const fhir_request& request) {
  facts_.interaction = std::string(interaction);
  if (interaction.starts_with("search") || interaction.starts_with("history") || interaction == "$everything" || interaction == "$export")
    facts_.query = http::encode_query(request.params);
  if (request.path.size() >= 2 && request.path[0] == "Patient" && !request.path[1].empty()) note_patient(request.path[1]);
  for (const std::string& named : named_patients(request)) note_patient(named);
}

void request_audit::note_patient(std::string id) {
  if (facts_.patients.size() < max_patients && std::find(facts_.patients.begin(), facts_.patients.end(), id) == facts_.patients.end())
    facts_.patients.push_back(std::move(id));
}

void request_audit::targeted(const std::vector<std::string>& patients) {
  for (const std::string& patient : patients) note_patient(patient);
}

void request_audit::consent_applied(consent_decision decision) {
  for (consent_decision& d : facts_.decisions)
    if (d.consent == decision.consent && d.decision == decision.decision) {
      d.suppressed += decision.suppressed;
      return;
    }
  if (facts_.decisions.size() < max_patients) facts_.decisions.push_back(std::move(decision));
}

void request_audit::note_resource(resource_ref ref) {
  ++facts_.resource_count;
  if (facts_.resources.size() < max_entities) facts_.resources.push_back(std::move(ref));
}

void request_audit::returned(const store::version_info& info, std::string_view body) {
  note_resource({info.type, info.id, info.version});
  if (info.type == "Patient") note_patient(info.id);
  for (std::string& patient : referenced_patients(body)) note_patient(std::move(patient));
}

void request_audit::returned_many(const std::vector<resource_ref>& first, std::size_t count, const std::vector<std::string>& patients) {
  for (const resource_ref& ref : first) note_resource(ref);
  if (count > first.size()) facts_.resource_count += count - first.size();
  for (const std::string& patient : patients) note_patient(patient);
}

store::audit_record request_audit::record() {
  facts_.recorded = fhir::now_ms();
  return record_of(facts_, store::new_time_ordered_id(facts_.recorded));
}

fhir::result<fhir::done> request_audit::security_alert(emergency_override alert) {
  audit_facts facts = facts_;
  facts.status = 200;
  facts.patients = {alert.patient};
  facts.alert = std::move(alert);
  facts.recorded = fhir::now_ms();
  return ctx_.store.append_audit(record_of(facts, store::new_time_ordered_id(facts.recorded)));
}

std::optional<store::audit_record> request_audit::for_writes(const std::vector<store::audited_write>& written) {
  for (const store::audited_write& w : written) {
    note_resource({w.info.type, w.info.id, w.info.version});
    for (const std::string& patient : w.patients) note_patient(patient);
  }
  recorded_in_unit_ = true;
  return record();  // status 0: the unit commits with its writes, so it succeeded
}

http::response request_audit::finish(http::response response) {
  response.set_header("X-Request-Id", facts_.request_id);
  // The writes and their record committed together; nothing more to say about a successful write.
  if (recorded_in_unit_ && response.status < 400) return response;
  // The CapabilityStatement is public and holds no one's data: reading it is not an access to audit.
  if (facts_.interaction == "capabilities") return response;
  facts_.status = response.status;
  if (response.status >= 400) facts_.failure = first_diagnostic(response.body);
  auto committed = std::make_shared<http::completion>();
  response.after = committed;
  ctx_.store.append_audit_async(record(), [committed, request_id = facts_.request_id](fhir::result<fhir::done> appended) {
    if (appended) return committed->complete(std::nullopt);
    log::error("audit record of request {} not written: {}", request_id, appended.error().summary());
    http::response unavailable = error_response(fhir::error(fhir::error_kind::busy, fhir::issue_type::transient,
                                                            "The access could not be audited, so it was not served; retry later",
                                                            "audit-unavailable"));
    unavailable.set_header("Retry-After", "1");
    unavailable.set_header("X-Request-Id", request_id);
    committed->complete(std::move(unavailable));
  });
  return response;
}

}  // namespace server::audit
