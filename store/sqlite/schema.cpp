#include "store/sqlite/schema.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace store::sqlite {
namespace {

struct migration {
  int version;
  const char* sql;
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
CREATE TABLE ix_string (param_id INTEGER NOT NULL, norm TEXT NOT NULL, exact TEXT NOT NULL, res_pk INTEGER NOT NULL);
CREATE INDEX ix_string_value ON ix_string(param_id, norm, res_pk);
CREATE INDEX ix_string_res ON ix_string(res_pk, param_id);
CREATE TABLE ix_token (param_id INTEGER NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL, text TEXT NOT NULL,
                       res_pk INTEGER NOT NULL);
CREATE INDEX ix_token_value ON ix_token(param_id, code, system, res_pk);
CREATE INDEX ix_token_res ON ix_token(res_pk, param_id);
CREATE TABLE ix_date (param_id INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, res_pk INTEGER NOT NULL);
CREATE INDEX ix_date_value ON ix_date(param_id, lo, hi, res_pk);
CREATE INDEX ix_date_high ON ix_date(param_id, hi, res_pk);  -- gt, ge, eb seek on the end of the range
CREATE INDEX ix_date_res ON ix_date(res_pk, param_id);
CREATE TABLE ix_number (param_id INTEGER NOT NULL, value REAL NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,
                        res_pk INTEGER NOT NULL);
CREATE INDEX ix_number_value ON ix_number(param_id, value, res_pk);
CREATE INDEX ix_number_res ON ix_number(res_pk, param_id);
CREATE TABLE ix_quantity (param_id INTEGER NOT NULL, system TEXT NOT NULL, unit TEXT NOT NULL, value REAL NOT NULL,
                          lo REAL NOT NULL, hi REAL NOT NULL, cunit TEXT NOT NULL, cvalue REAL NOT NULL,
                          res_pk INTEGER NOT NULL);
CREATE INDEX ix_quantity_value ON ix_quantity(param_id, unit, value, res_pk);
CREATE INDEX ix_quantity_canonical ON ix_quantity(param_id, cunit, cvalue, res_pk);
CREATE INDEX ix_quantity_res ON ix_quantity(res_pk, param_id);
CREATE TABLE ix_reference (param_id INTEGER NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL,
                           url TEXT NOT NULL, res_pk INTEGER NOT NULL);
CREATE INDEX ix_reference_target ON ix_reference(param_id, target_id, target_type, res_pk);
CREATE INDEX ix_reference_url ON ix_reference(param_id, url, res_pk) WHERE url <> '';
CREATE INDEX ix_reference_res ON ix_reference(res_pk, param_id);
CREATE TABLE ix_uri (param_id INTEGER NOT NULL, uri TEXT NOT NULL, res_pk INTEGER NOT NULL);
CREATE INDEX ix_uri_value ON ix_uri(param_id, uri, res_pk);
CREATE INDEX ix_uri_res ON ix_uri(res_pk, param_id);
CREATE TABLE ix_composite (param_id INTEGER NOT NULL, system1 TEXT NOT NULL, code1 TEXT NOT NULL,
                           system2 TEXT NOT NULL, code2 TEXT NOT NULL, value2 REAL NOT NULL, low2 REAL NOT NULL,
                           high2 REAL NOT NULL, res_pk INTEGER NOT NULL);
CREATE INDEX ix_composite_value ON ix_composite(param_id, code1, system1, res_pk);
CREATE INDEX ix_composite_res ON ix_composite(res_pk, param_id);
-- Type searches without a selective parameter walk the live resources of a type in pk order.
CREATE INDEX resource_live ON resource(type_id, pk) WHERE deleted = 0;
CREATE INDEX resource_updated ON resource(type_id, last_updated) WHERE deleted = 0;
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
