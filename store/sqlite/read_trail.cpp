#include "store/sqlite/read_trail.hpp"

#include <filesystem>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "fhir/time.hpp"
#include "store/id_generator.hpp"

namespace store::sqlite {
namespace {

// The read trail's tables have the database's audit tables' shape (schema.cpp, version 4), so the same
// statements, prefixed by the schema name, append, search and verify both.
constexpr const char* read_trail_tables = R"sql(
CREATE TABLE read_trail.audit_record (
  seq      INTEGER PRIMARY KEY,  -- one sequence across both files (read_trail.hpp, invariant 2)
  id       TEXT NOT NULL UNIQUE,
  recorded INTEGER NOT NULL,
  type     TEXT NOT NULL,
  subtype  TEXT NOT NULL,
  action   TEXT NOT NULL,
  outcome  TEXT NOT NULL,
  body     TEXT NOT NULL,
  hash     BLOB NOT NULL         -- SHA-256(previous hash in this file || seq as 8 bytes big-endian || body)
);
CREATE INDEX read_trail.audit_record_recorded ON audit_record(recorded);
CREATE TABLE read_trail.audit_key (
  key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (key, seq)
) WITHOUT ROWID;
CREATE TRIGGER read_trail.audit_record_append_only_update BEFORE UPDATE ON audit_record
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER read_trail.audit_record_append_only_delete BEFORE DELETE ON audit_record
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER read_trail.audit_key_append_only_update BEFORE UPDATE ON audit_key
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER read_trail.audit_key_append_only_delete BEFORE DELETE ON audit_key
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
-- This trail's identity, also kept by its database (read_trail_link): one row.
CREATE TABLE read_trail.trail_identity (trail_id TEXT NOT NULL);
PRAGMA read_trail.user_version = 1;
)sql";

std::optional<std::string> single_text(database& db, const char* sql) {
  statement st(db.handle(), sql);
  if (!st.step()) return std::nullopt;
  return std::string(st.column_text(0));
}

}  // namespace

std::string read_trail_path(const std::string& database_path) {
  // SQLite's in-memory and temporary databases have no file to sit beside: the trail is one of the same kind.
  if (database_path.empty() || database_path == ":memory:") return database_path;
  return database_path + "-read-audit";
}

void attach_read_trail_for_writing(database& db, const std::string& database_path) {
  const std::string file = read_trail_path(database_path);
  const std::optional<std::string> linked = single_text(db, "SELECT trail_id FROM main.read_trail_link");
  std::error_code ec;
  if (linked && !std::filesystem::exists(file, ec))
    throw std::runtime_error(fmt::format("the read trail {} (the audit records of reads beside the database) is missing; "
                                         "restore it with the database from their backup",
                                         file));
  db.attach(file, read_trail_schema);
  db.exec("PRAGMA read_trail.journal_mode = WAL");
  db.exec("PRAGMA read_trail.synchronous = NORMAL");  // invariant 4
  if (single_text(db, "PRAGMA read_trail.user_version").value_or("0") == "0") {
    transaction tx(db);
    db.exec(read_trail_tables);
    statement identity(db.handle(), "INSERT INTO read_trail.trail_identity(trail_id) VALUES (?1)");
    identity.bind(1, new_time_ordered_id(fhir::now_ms()));
    identity.run();
    tx.commit();
  }
  const std::optional<std::string> id = single_text(db, "SELECT trail_id FROM read_trail.trail_identity");
  if (!id) throw std::runtime_error(fmt::format("the read trail {} has no identity: it is not this server's", file));
  if (linked && *linked != *id)
    throw std::runtime_error(fmt::format("the read trail {} belongs to another database (its identity is {}, the database's {})", file,
                                         *id, *linked));
  if (!linked) {  // a new trail, or one created before its database recorded it (a crash in between)
    statement link(db.handle(), "INSERT INTO main.read_trail_link(trail_id) VALUES (?1)");
    link.bind(1, *id);
    link.run();
  }
}

void attach_read_trail(database& db, const std::string& database_path) {
  // Opened after the writer has attached (and, if need be, created) it.
  db.attach(read_trail_path(database_path), read_trail_schema);
}

}  // namespace store::sqlite
