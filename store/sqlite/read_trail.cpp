#include "store/sqlite/read_trail.hpp"

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
PRAGMA read_trail.user_version = 1;
)sql";

void attach(database& db, const std::string& file) {
  statement attach(db.handle(), "ATTACH DATABASE ?1 AS read_trail");
  attach.bind(1, file);
  attach.run();
}

}  // namespace

std::string read_trail_path(const std::string& database_path) {
  // SQLite's in-memory and temporary databases have no file to sit beside: the trail is one of the same kind.
  if (database_path.empty() || database_path == ":memory:") return database_path;
  return database_path + "-read-audit";
}

void attach_read_trail_for_writing(database& db, const std::string& database_path) {
  attach(db, read_trail_path(database_path));
  db.exec("PRAGMA read_trail.journal_mode = WAL");
  db.exec("PRAGMA read_trail.synchronous = NORMAL");  // invariant 4
  statement version(db.handle(), "PRAGMA read_trail.user_version");
  if (version.step() && version.column_int64(0) >= 1) return;
  version.reset();
  transaction tx(db);
  db.exec(read_trail_tables);
  tx.commit();
}

void attach_read_trail(database& db, const std::string& database_path) {
  // A read-only connection attaches read-only: a missing file fails to open rather than being created.
  attach(db, read_trail_path(database_path));
}

}  // namespace store::sqlite
