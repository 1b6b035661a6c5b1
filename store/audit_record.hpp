#pragma once
// An AuditEvent as the audit trail stores it (consent.md section 4): the JSON exactly as served, plus
// the few facts the trail is searched by, taken from the event itself. Built on the request's own
// thread (make_audit_record) so the writer only inserts one row and a handful of keys.
//
// The trail is not a resource table: an AuditEvent is written once, never versioned, and searched by
// the privacy officer's questions (who, whose record, what, when, with what outcome). Keys answer "who
// and whose" with one seek each:
//   patient|<id>                    entity.what.reference Patient/<id> (also what entity=Patient/<id> seeks)
//   entity|<Type>/<id>              any other entity.what.reference (without /_history/<n>)
//   agent|<Type>/<id>               agent.who.reference (the user's fhirUser)
//   agent-id|<system>|<value>       agent.who.identifier (SDS user id, ODS code, patient login)

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/json/value.hpp"
#include "fhir/time.hpp"

namespace store {

struct audit_record {
  std::string id;
  // What the trail stores and chains: the AuditEvent's JSON, or a compact form of it that the store's
  // render_audit turns into the AuditEvent when it is read (sqlite_options::render_audit).
  std::string json;
  fhir::epoch_ms recorded = 0;
  std::string type;     // AuditEvent.type.code ("rest")
  std::string subtype;  // AuditEvent.subtype[0].code (the interaction: "read", "$everything")
  std::string action;   // C R U D E
  std::string outcome;  // 0 4 8 12
  std::vector<std::string> keys;
};

// Turns a stored record into the AuditEvent JSON served (empty: the stored form is the AuditEvent).
using audit_renderer = std::function<std::string(std::string_view stored)>;

// The record of `event` (an AuditEvent with id and recorded), storing the AuditEvent itself. Keys are
// deduplicated. Also how the trail's verification re-derives a record's keys from what it renders.
audit_record make_audit_record(const fhir::json::value& event);

// The key of each search form (see the header comment).
std::string audit_patient_key(std::string_view patient_id);
std::string audit_entity_key(std::string_view type_and_id);
std::string audit_agent_key(std::string_view reference);
std::string audit_agent_identifier_key(std::string_view system, std::string_view value);

}  // namespace store

namespace store {

// The AuditEvent search parameters the trail answers (besides _count, _sort=[-]date and _total); the
// CapabilityStatement lists exactly these. Others are refused with 400, not ignored: a privacy officer
// must never read a wider answer than the question asked.
inline constexpr std::string_view audit_search_parameters[] = {"_id",     "_lastUpdated", "date",   "patient", "entity",
                                                               "agent",   "type",         "subtype", "action",  "outcome"};

}  // namespace store
