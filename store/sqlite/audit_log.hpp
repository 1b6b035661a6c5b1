#pragma once
// The audit trail in SQLite (schema version 4; docs/store-schema.md, "Audit trail"): one row per
// AuditEvent in append order, chained by SHA-256, plus its search keys (store/audit_record.hpp), in the
// database (writes) and in the read trail beside it (reads: read_trail.hpp); reads and searches see both.
// Appending, reading, searching and verifying; the search answers store::audit_search_parameters.

#include <cstdint>
#include <optional>
#include <string_view>

#include "fhir/result.hpp"
#include "store/audit_record.hpp"
#include "store/sqlite/database.hpp"
#include "store/store.hpp"

namespace store::sqlite {

// Where a record is appended: the database (a write's record, in the write's own transaction) or the
// read trail (the record of a read: read_trail.hpp).
enum class audit_file { database, read_trail };

// Appends `record` to `file` (inside the writer's open transaction): its seq follows the highest of
// both files, its hash the last record of `file`.
void append_audit_record(database& db, const audit_record& record, audit_file file);

// The AuditEvent with this id, as a resource version (version 1, lastUpdated = recorded), rendered.
std::optional<resource_version> read_audit_record(database& db, std::string_view id, const audit_renderer& render);

// AuditEvent search (request.query.types == {"AuditEvent"}): newest first unless _sort=date, keyset
// pages on the append order. Unsupported parameters, modifiers, chains and includes fail invalid.
fhir::result<search_page> search_audit_trail(database& db, const search_request& request, const audit_renderer& render);

// AuditEvent/_history: every record (each is its only version), newest first.
fhir::result<history_page> audit_history(database& db, const history_request& request, const audit_renderer& render);

// Recomputes every link of both chains in order and names the first record that fails; also checks
// that each record's search columns and keys are those of the AuditEvent it renders, and that no seq is
// in both files.
audit_check verify_audit_trail(database& db, const audit_renderer& render);

// Schema 3 -> 4: moves the AuditEvents stored as resources (with their chain links, hashes unchanged)
// into the trail, and removes them and the old chain table. Runs inside the migration's transaction.
void move_audit_events_into_trail(database& db);

}  // namespace store::sqlite
