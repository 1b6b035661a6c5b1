#include "store/sqlite/schema.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "store/sqlite/audit_log.hpp"

namespace store::sqlite {
namespace {

struct migration {
  int version;
  const char* sql;
  void (*then)(database&) = nullptr;  // data moved after the SQL, in the same transaction
};

// Append only: a released migration is never edited, a change is a new migration.
constexpr migration migrations[] = {
    {1, R"sql(
CREATE TABLE resource_type (
  type_id INTEGER PRIMARY KEY,
  name    TEXT NOT NULL UNIQUE
);
CREATE TABLE resource (
  pk           INTEGER PRIMARY KEY,
  type_id      INTEGER NOT NULL,
  id           TEXT NOT NULL,
  version      INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,  -- ms since the epoch, UTC
  deleted      INTEGER NOT NULL,
  UNIQUE (type_id, id)
);
CREATE TABLE resource_version (
  vid          INTEGER PRIMARY KEY,  -- commit order, never reused (rows are never deleted)
  pk           INTEGER NOT NULL,
  type_id      INTEGER NOT NULL,
  version      INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,
  deleted      INTEGER NOT NULL,
  verb         INTEGER NOT NULL,     -- store::verb: 0 POST, 1 PUT, 2 DELETE
  created      INTEGER NOT NULL,     -- 1 when the version brought the resource into existence
  body         TEXT,                 -- NULL for a deletion
  UNIQUE (pk, version)
);
CREATE INDEX resource_version_by_type ON resource_version(type_id, vid);
CREATE INDEX resource_version_by_time ON resource_version(last_updated);
)sql"},
    {2, R"sql(
-- Search (docs/store-schema.md). Index rows exist for current, undeleted versions only; they are
-- replaced in the transaction that writes a version, so searches always see the committed state.
CREATE TABLE search_param (
  param_id INTEGER PRIMARY KEY,
  type_id  INTEGER NOT NULL,
  code     TEXT NOT NULL,      -- "family"; "subject:identifier" for Reference.identifier values
  kind     TEXT NOT NULL,      -- the index table: string, token, date, number, quantity, reference, uri
  UNIQUE (type_id, code)
);
-- Index tables are WITHOUT ROWID: the primary key (parameter, value..., res_pk) is the table itself, so
-- a row costs two B-tree inserts (the table and the reverse index on res_pk), not three. Duplicate rows
-- (a value a resource holds twice) are dropped by INSERT OR IGNORE.
CREATE TABLE ix_string (param_id INTEGER NOT NULL, norm TEXT NOT NULL, res_pk INTEGER NOT NULL, exact TEXT NOT NULL,
                        PRIMARY KEY (param_id, norm, res_pk, exact)) WITHOUT ROWID;
CREATE INDEX ix_string_res ON ix_string(res_pk, param_id);
CREATE TABLE ix_token (param_id INTEGER NOT NULL, code TEXT NOT NULL, system TEXT NOT NULL, res_pk INTEGER NOT NULL,
                       text TEXT NOT NULL, PRIMARY KEY (param_id, code, system, res_pk, text)) WITHOUT ROWID;
CREATE INDEX ix_token_res ON ix_token(res_pk, param_id);
CREATE TABLE ix_date (param_id INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, res_pk INTEGER NOT NULL,
                      PRIMARY KEY (param_id, lo, hi, res_pk)) WITHOUT ROWID;
CREATE INDEX ix_date_high ON ix_date(param_id, hi);  -- gt, ge, eb seek on the end of the range
CREATE INDEX ix_date_res ON ix_date(res_pk, param_id);
CREATE TABLE ix_number (param_id INTEGER NOT NULL, value REAL NOT NULL, res_pk INTEGER NOT NULL, lo REAL NOT NULL,
                        hi REAL NOT NULL, PRIMARY KEY (param_id, value, res_pk, lo, hi)) WITHOUT ROWID;
CREATE INDEX ix_number_res ON ix_number(res_pk, param_id);
CREATE TABLE ix_quantity (param_id INTEGER NOT NULL, unit TEXT NOT NULL, value REAL NOT NULL, res_pk INTEGER NOT NULL,
                          system TEXT NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL, cunit TEXT NOT NULL, cvalue REAL NOT NULL,
                          PRIMARY KEY (param_id, unit, value, res_pk, system, lo, hi, cunit, cvalue)) WITHOUT ROWID;
CREATE INDEX ix_quantity_canonical ON ix_quantity(param_id, cunit, cvalue);
CREATE INDEX ix_quantity_res ON ix_quantity(res_pk, param_id);
CREATE TABLE ix_reference (param_id INTEGER NOT NULL, target_id TEXT NOT NULL, target_type TEXT NOT NULL,
                           res_pk INTEGER NOT NULL, url TEXT NOT NULL,
                           PRIMARY KEY (param_id, target_id, target_type, res_pk, url)) WITHOUT ROWID;
CREATE INDEX ix_reference_url ON ix_reference(param_id, url) WHERE url <> '';
CREATE INDEX ix_reference_res ON ix_reference(res_pk, param_id);
CREATE TABLE ix_uri (param_id INTEGER NOT NULL, uri TEXT NOT NULL, res_pk INTEGER NOT NULL,
                     PRIMARY KEY (param_id, uri, res_pk)) WITHOUT ROWID;
CREATE INDEX ix_uri_res ON ix_uri(res_pk, param_id);
CREATE TABLE ix_composite (param_id INTEGER NOT NULL, code1 TEXT NOT NULL, system1 TEXT NOT NULL, res_pk INTEGER NOT NULL,
                           system2 TEXT NOT NULL, code2 TEXT NOT NULL, value2 REAL NOT NULL, low2 REAL NOT NULL,
                           high2 REAL NOT NULL, cunit2 TEXT NOT NULL, cvalue2 REAL NOT NULL,
                           PRIMARY KEY (param_id, code1, system1, res_pk, system2, code2, value2, low2, high2)) WITHOUT ROWID;
CREATE INDEX ix_composite_res ON ix_composite(res_pk, param_id);
-- _text and _content: normalised text, read per resource (full-text matching is a LIKE, not a seek).
CREATE TABLE ix_text (res_pk INTEGER NOT NULL, param_id INTEGER NOT NULL, text TEXT NOT NULL,
                      PRIMARY KEY (res_pk, param_id)) WITHOUT ROWID;
-- Type searches without a selective parameter walk the live resources of a type in pk order.
CREATE INDEX resource_live ON resource(type_id, pk) WHERE deleted = 0;
CREATE INDEX resource_updated ON resource(type_id, last_updated) WHERE deleted = 0;
)sql"},
    {3, R"sql(
-- The audit trail (../shared/design/consent.md section 4): AuditEvents are ordinary resources (so they
-- are searchable), and each is chained to the one before by SHA-256 over the previous hash, its sequence
-- number and its stored body. `fhir-server audit verify` recomputes the chain.
CREATE TABLE audit_chain (
  seq  INTEGER PRIMARY KEY,     -- append order: 1, 2, 3, ... without gaps
  vid  INTEGER NOT NULL UNIQUE, -- the AuditEvent's resource_version row
  hash BLOB NOT NULL            -- SHA-256(previous hash || seq as 8 bytes big-endian || body)
);
-- Append-only, as far as the database can say so; the chain shows any change made around these.
CREATE TRIGGER audit_chain_append_only_update BEFORE UPDATE ON audit_chain
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_chain_append_only_delete BEFORE DELETE ON audit_chain
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
-- Versions are never changed or removed (invariant 6); an AuditEvent is a version.
CREATE TRIGGER resource_version_immutable_update BEFORE UPDATE ON resource_version
  BEGIN SELECT RAISE(ABORT, 'resource versions are immutable'); END;
CREATE TRIGGER resource_version_immutable_delete BEFORE DELETE ON resource_version
  BEGIN SELECT RAISE(ABORT, 'resource versions are immutable'); END;
)sql"},
    {4, R"sql(
-- The audit trail as its own log (docs/store-schema.md, "Audit trail"): an AuditEvent is written once
-- and searched by who, whose record, what, when and outcome, so it is one row plus a few search keys
-- instead of a versioned resource with a full search index. The AuditEvents of schema 3 move here with
-- their sequence numbers and hashes (move_audit_events_into_trail), and audit_chain goes.
CREATE TABLE audit_record (
  seq      INTEGER PRIMARY KEY,  -- append order, one sequence with the read trail's (read_trail.hpp)
  id       TEXT NOT NULL UNIQUE, -- the AuditEvent's id (time-ordered UUIDs: the index grows at its end)
  recorded INTEGER NOT NULL,     -- AuditEvent.recorded, ms since the epoch
  type     TEXT NOT NULL,        -- AuditEvent.type.code
  subtype  TEXT NOT NULL,        -- AuditEvent.subtype[0].code: the interaction
  action   TEXT NOT NULL,
  outcome  TEXT NOT NULL,
  body     TEXT NOT NULL,        -- the AuditEvent as served
  hash     BLOB NOT NULL         -- SHA-256(previous hash || seq as 8 bytes big-endian || body)
);
CREATE INDEX audit_record_recorded ON audit_record(recorded);
-- patient|<id>, entity|<Type>/<id>, agent|<Type>/<id>, agent-id|<system>|<value> (store/audit_record.hpp)
CREATE TABLE audit_key (
  key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (key, seq)
) WITHOUT ROWID;
CREATE TRIGGER audit_record_append_only_update BEFORE UPDATE ON audit_record
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_record_append_only_delete BEFORE DELETE ON audit_record
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_key_append_only_update BEFORE UPDATE ON audit_key
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_key_append_only_delete BEFORE DELETE ON audit_key
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
)sql",
     move_audit_events_into_trail},
    {5, R"sql(
-- Data-quality counts per source organisation and day (store::quality_count; docs/store-schema.md).
CREATE TABLE quality_count (
  organization TEXT NOT NULL,     -- the data controller's ODS code; '' none
  day          INTEGER NOT NULL,  -- days since the epoch, UTC
  type         TEXT NOT NULL,
  metric       TEXT NOT NULL,
  key          TEXT NOT NULL,
  count        INTEGER NOT NULL,
  example      TEXT NOT NULL,     -- the first instance recorded
  last_seen    INTEGER NOT NULL,  -- ms since the epoch of the latest
  PRIMARY KEY (organization, day, type, metric, key)
) WITHOUT ROWID;
CREATE INDEX quality_count_by_day ON quality_count(day);
)sql"},
    {6, R"sql(
-- The read trail beside this file (store/sqlite/read_trail.hpp) holds the audit records of requests
-- that wrote nothing. Its identity, written when the trail is created or first found, so that a missing
-- trail, or another database's, is refused rather than silently replaced by an empty one. At most one row.
CREATE TABLE read_trail_link (trail_id TEXT NOT NULL);
)sql"},
    {7, R"sql(
-- Positions (Location.position) for `near`: degrees, plus the point as a unit vector on the sphere, so
-- that "within d of q" is arithmetic on the chord between the vectors after a seek on latitude
-- (fhir/search/position.hpp).
CREATE TABLE ix_position (param_id INTEGER NOT NULL, lat REAL NOT NULL, res_pk INTEGER NOT NULL, lon REAL NOT NULL,
                          x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL,
                          PRIMARY KEY (param_id, lat, res_pk, lon)) WITHOUT ROWID;
CREATE INDEX ix_position_res ON ix_position(res_pk, param_id);
-- Index tables a database has that are not filled yet: the store reindexes the types they concern when
-- it opens, and deletes the row only once that is committed (a crash mid-way is finished at the next open).
CREATE TABLE reindex_pending (kind TEXT PRIMARY KEY);
INSERT INTO reindex_pending(kind) VALUES ('positions');
)sql"},
    {8, R"sql(
-- Resources contained in others (Resource.contained), indexed on their own so that a chain through a
-- local reference ("#m1") is evaluated inside them (search.html#contained). Their index rows have the
-- cpk as res_pk, negative so it is never a resource's pk, under parameter ids of their own ('#' before
-- the code): no search of resources reads them. The container's reference rows name them "#m1".
CREATE TABLE contained_resource (cpk INTEGER PRIMARY KEY, container_pk INTEGER NOT NULL, type_id INTEGER NOT NULL,
                                 local_id TEXT NOT NULL, UNIQUE (container_pk, local_id));
-- A type's contained resources (the complement of :missing and :not inside them), by local id (_id).
CREATE INDEX contained_resource_type ON contained_resource(type_id, local_id);
INSERT INTO reindex_pending(kind) VALUES ('contained');
)sql"},
    {9, R"sql(
-- Composites whose first component is a reference (its type, id and url in system1, code1, url1) or
-- that have a third component (a number, value3): R4's DocumentReference relationship and
-- MolecularSequence coordinates. Both new columns are in the key, so rows differing only there are
-- kept. Rows of the existing shapes are copied; the types with a composite of a new shape are
-- reindexed ('composites'). The key's columns are declared before the others: SQLite 3.40's
-- integrity_check misreads a WITHOUT ROWID table's NOT NULL columns declared between key columns as NULL.
CREATE TABLE ix_composite_9 (param_id INTEGER NOT NULL, code1 TEXT NOT NULL, system1 TEXT NOT NULL, res_pk INTEGER NOT NULL,
                             system2 TEXT NOT NULL, code2 TEXT NOT NULL, value2 REAL NOT NULL, low2 REAL NOT NULL,
                             high2 REAL NOT NULL, url1 TEXT NOT NULL, value3 REAL NOT NULL, cunit2 TEXT NOT NULL,
                             cvalue2 REAL NOT NULL,
                             PRIMARY KEY (param_id, code1, system1, res_pk, system2, code2, value2, low2, high2, url1, value3)) WITHOUT ROWID;
INSERT INTO ix_composite_9(param_id, code1, system1, res_pk, system2, code2, value2, low2, high2, cunit2, cvalue2, url1, value3)
  SELECT param_id, code1, system1, res_pk, system2, code2, value2, low2, high2, cunit2, cvalue2, '', 0 FROM ix_composite;
DROP TABLE ix_composite;
ALTER TABLE ix_composite_9 RENAME TO ix_composite;
CREATE INDEX ix_composite_res ON ix_composite(res_pk, param_id);
INSERT INTO reindex_pending(kind) VALUES ('composites');
-- An absolute reference to another server's resource was indexed with its type and id too, so
-- `subject=Patient/1` and Patient/1's compartment matched another server's Patient/1: such references
-- are indexed by URL only now (the server's own base URL still counts as local).
INSERT INTO reindex_pending(kind) VALUES ('references');
-- The base URLs (space-separated) under which the index took absolute references for this server's
-- when it was last built; when the server's change, those references are reindexed. At most one row.
CREATE TABLE index_base (urls TEXT NOT NULL);
)sql"},
    {10, R"sql(
-- A string parameter over a HumanName or an Address (Patient.name, Patient.address) stores only the
-- parts no other parameter indexes: family, given, address-city, address-postalcode... hold theirs for
-- both. The types with such a parameter are reindexed, which drops the rows now stored twice ('strings').
INSERT INTO reindex_pending(kind) VALUES ('strings');
)sql"},
};

int user_version(database& db) {
  auto st = db.cached("PRAGMA user_version");
  st->step();
  return static_cast<int>(st->column_int64(0));
}

}  // namespace

int migrate(database& db, const std::vector<std::string>& types) {
  int current = user_version(db);
  if (current > latest_schema_version)
    throw std::runtime_error(fmt::format("the database has schema version {}, newer than this server's {}", current,
                                         latest_schema_version));
  for (const migration& m : migrations) {
    if (m.version <= current) continue;
    transaction tx(db);
    db.exec(m.sql);
    if (m.then) m.then(db);
    db.exec(fmt::format("PRAGMA user_version = {}", m.version));
    tx.commit();
  }

  transaction tx(db);
  for (const std::string& type : types) {
    auto insert = db.cached("INSERT OR IGNORE INTO resource_type(name) VALUES (?1)");
    insert->bind(1, type).run();
  }
  tx.commit();
  return current;
}

}  // namespace store::sqlite
