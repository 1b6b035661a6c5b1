#pragma once
// The database schema and its migrations. The schema version is SQLite's `PRAGMA user_version`; each
// migration moves it up by one inside a transaction, so a crash mid-migration leaves the previous version.
// A database from a newer server (a version we do not know) is refused rather than misread.
//
// Schema (version 1), see docs/store-schema.md:
//   resource_type(type_id, name)                      one row per resource type, created at open
//   resource(pk, type_id, id, version, last_updated, deleted)
//                                                     the current state of every resource: one row each,
//                                                     small, so reads and existence checks stay in cache
//   resource_version(vid, pk, type_id, version, last_updated, deleted, verb, created, body)
//                                                     every version ever written, body = the JSON served
//                                                     (NULL for a deletion); vid is the commit order
// Version 2 adds search: search_param (param ids) and the typed index tables ix_string, ix_token,
// ix_date, ix_number, ix_quantity, ix_reference, ix_uri, each keyed by (param_id, value..., res_pk)
// with a reverse index on res_pk. Version 7 adds ix_position (near) and reindex_pending; version 8
// contained_resource; version 9 widens ix_composite (a reference first, a third component); version
// 10 reindexes the string parameters over names and addresses (their parts are stored once).

#include <string>
#include <vector>

#include "store/sqlite/database.hpp"

namespace store::sqlite {

constexpr int latest_schema_version = 10;

// Brings the schema to latest_schema_version and ensures a resource_type row for each of `types`.
// Returns the version the database had (0 for a new one). Throws sqlite_error on failure,
// std::runtime_error for a database newer than this server.
int migrate(database& db, const std::vector<std::string>& types);

}  // namespace store::sqlite
