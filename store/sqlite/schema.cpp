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
};

int user_version(database& db) {
  auto st = db.cached("PRAGMA user_version");
  st->step();
  return static_cast<int>(st->column_int64(0));
}

}  // namespace

void migrate(database& db, const std::vector<std::string>& types) {
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
}

}  // namespace store::sqlite
