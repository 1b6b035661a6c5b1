#pragma once
// The AuditEvent of one request (consent.md section 4), shaped after IHE Basic Audit Log Patterns:
// type rest, subtype the interaction, action, outcome, purposeOfEvent; agents for the user, their
// organisation, the client application and this server; entities for each patient, the resources
// returned or written (the first 1,000, with the count), the query, the request id, the token's jti
// and the consent decision.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fhir/json/value.hpp"
#include "fhir/time.hpp"
#include "server/auth/authenticator.hpp"

namespace server::audit {

inline constexpr std::string_view request_id_system = "https://shared-care-record.github.io/fhir/Id/request-id";
inline constexpr std::string_view token_id_system = "https://shared-care-record.github.io/fhir/Id/token-jti";
inline constexpr std::string_view sds_user_system = "https://fhir.nhs.uk/Id/sds-user-id";
inline constexpr std::string_view patient_login_system = "https://shared-care-record.github.io/fhir/Id/patient-login";
inline constexpr std::string_view ods_system = "https://fhir.nhs.uk/Id/ods-organization-code";
inline constexpr std::string_view audit_flag_system = "https://shared-care-record.github.io/fhir/CodeSystem/audit-flag";
// Resources named in one AuditEvent; beyond it the event keeps the count only.
inline constexpr std::size_t max_entities = 1000;

struct resource_ref {
  std::string type;
  std::string id;
  std::int64_t version = 0;  // 0: not known
};

// A consent decision that applied to the request (the consent pipeline fills these in; none: "default").
struct consent_decision {
  std::string consent;  // "Consent/c2"; empty for the default (implied consent)
  std::string decision;  // deny | permit | override | default
  std::size_t suppressed = 0;
};

// A declared emergency (POST Patient/[id]/$break-glass): its record is a Security Alert (DICOM 110113,
// subtype 110127 Emergency Override Started) flagged for review, besides the request's own record.
struct emergency_override {
  std::string patient;
  std::string reason_code;  // unconscious | life-threat | cannot-communicate | other
  std::string reason_text;
  fhir::epoch_ms session_end = 0;
};

// Who made the request, as the record keeps it (a snapshot of the verified token and request context).
struct audited_caller {
  std::string subject;        // sub: the SDS user id, or the patient's login
  std::string fhir_user;      // "Practitioner/123"; empty when the token has none
  std::vector<std::string> roles;  // SDS job role codes
  std::string person_roleid;  // of the first role
  std::string org_ods;
  std::string client_id;
  std::string purpose;        // the purpose of use (v3-ActReason)
  std::string jti;
  bool patient_facing = false;
  bool development = false;   // a simulated identity of development mode
};

audited_caller audited(const auth::caller& caller);

struct audit_facts {
  std::string interaction;      // the routed interaction code ("read", "search-type", "$everything"); "unknown"
  std::string method;           // the HTTP method
  std::string target;           // the request target as received (path and query)
  std::string query;            // the query string of a search, for the query entity
  std::string request_id;
  std::string remote_address;
  unsigned status = 0;          // 0: not known (an audit written inside a write's own transaction: success)
  std::string failure;          // the first diagnostic of a failed request
  std::optional<audited_caller> caller;  // none when the request was not authenticated
  std::vector<resource_ref> resources;   // returned or written, the first max_entities
  std::size_t resource_count = 0;
  std::vector<std::string> patients;     // each patient targeted or returned
  std::vector<consent_decision> decisions;
  std::string server_url;       // the base URL, naming this server as an agent and the source
  fhir::epoch_ms recorded = 0;
  std::optional<emergency_override> alert;  // set: the record is the Security Alert of a break-glass
};

inline constexpr std::string_view dicom_system = "http://dicom.nema.org/resources/ontology/DCM";
inline constexpr std::string_view security_alert_code = "110113";
inline constexpr std::string_view emergency_override_started_code = "110127";

// The AuditEvent resource (with `id`) for these facts.
fhir::json::value audit_event(const audit_facts& facts, const std::string& id);

// BALP action: C create, R read, U update, D delete, E execute (searches, histories, operations, Bundles).
std::string_view action_of(std::string_view interaction);

// BALP outcome: 0 success, 4 minor failure (a consent-based 404 and other client errors), 8 serious
// failure (401, 403), 12 major failure (5xx).
std::string_view outcome_code(unsigned status);

}  // namespace server::audit
