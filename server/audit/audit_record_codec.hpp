#pragma once
// How the audit trail keeps a request's record: its facts (audit_facts), compactly, not the rendered
// AuditEvent. An AuditEvent is ~4 KB of mostly fixed BALP structure (code systems, displays) around a
// few hundred bytes of facts; auditing every read writes one record per read, so the trail stores the
// facts (~0.5 KB) and renders the AuditEvent whenever one is read or searched (store::sqlite_options::
// render_audit). The hash chain covers the stored facts: they are the record.
//
// The stored form is a small JSON object with short member names, versioned by "v". Records of schema
// 3 (whole AuditEvents) are rendered as they are.

#include <optional>
#include <string>
#include <string_view>

#include "server/audit/audit_event.hpp"
#include "store/audit_record.hpp"

namespace server::audit {

// The record of `facts` (facts.recorded set) under `id`: the stored form, its search columns and keys
// (exactly those store::make_audit_record takes from the rendered AuditEvent; a test checks).
store::audit_record record_of(const audit_facts& facts, const std::string& id);

struct decoded_record {
  std::string id;
  audit_facts facts;
};

// The facts of a stored record; nullopt when it is not one (schema 3 AuditEvents, damage).
std::optional<decoded_record> decode_record(std::string_view stored);

// The AuditEvent JSON of a stored record (a schema 3 AuditEvent as it is).
std::string render_record(std::string_view stored);

}  // namespace server::audit
