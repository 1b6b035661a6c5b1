// The store's search index: rows follow every write, reindex rebuilds them, a schema-1 database is
// indexed when it is upgraded, and the main searches use indexes (no scan of a whole table).
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "fhir/definitions/r4.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/search/indexer.hpp"
#include "fhir/search/search_parameters.hpp"
#include "fhir/search/search_query.hpp"
#include "store/store.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

const std::vector<std::string> types = {"Patient", "Observation", "Organization"};

const fhir::search::search_parameters& parameters() {
  static const fhir::search::search_parameters p(fhir::definitions::r4());
  return p;
}

const fhir::search::indexer& indexer() {
  static const fhir::search::indexer i(parameters());
  return i;
}

std::unique_ptr<store::store> open(const std::string& path, bool with_index = true) {
  auto s = store::open_sqlite_store(
      store::sqlite_options{.path = path, .resource_types = types, .indexer = with_index ? &indexer() : nullptr});
  INFO((s.ok() ? std::string() : s.error().summary()));
  REQUIRE(s.ok());
  return std::move(*s);
}

fhir::json::value parse(std::string_view text) {
  auto v = fhir::json::parse(text);
  REQUIRE(v.ok());
  return std::move(*v);
}

fhir::json::value patient(std::string_view id, std::string_view family) {
  return parse(R"({"resourceType":"Patient","id":")" + std::string(id) + R"(","name":[{"family":")" + std::string(family) + R"("}]})");
}

std::vector<std::string> find(store::store& s, std::string_view type, std::vector<std::pair<std::string, std::string>> query) {
  auto parsed = fhir::search::parse_query(parameters(), type, query);
  REQUIRE(parsed.ok());
  auto page = s.search(store::search_request{*parsed, 100, ""});
  INFO((page.ok() ? std::string() : page.error().summary()));
  REQUIRE(page.ok());
  std::vector<std::string> ids;
  for (const auto& e : page->entries) ids.push_back(e.version.info.id);
  return ids;
}

void exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  INFO(sql << ": " << (error ? error : ""));
  sqlite3_free(error);
  REQUIRE(rc == SQLITE_OK);
}

// The EXPLAIN QUERY PLAN lines of `sql` with its parameters left unbound (NULL): enough for the plan's shape.
std::vector<std::string> plan(sqlite3* db, const std::string& sql) {
  std::vector<std::string> out;
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &st, nullptr) == SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 3)));
  sqlite3_finalize(st);
  return out;
}

}  // namespace

TEST_CASE("index rows follow creates, updates and deletes", "[store][search]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  REQUIRE(s->update(patient("p1", "Smith"), {}).ok());
  auto created = s->create(patient("", "Smythe"));
  REQUIRE(created.ok());
  CHECK(find(*s, "Patient", {{"family", "sm"}}) == std::vector<std::string>{"p1", created->version.info.id});
  REQUIRE(s->update(patient("p1", "Jones"), {}).ok());
  CHECK(find(*s, "Patient", {{"family", "smith"}}).empty());
  CHECK(find(*s, "Patient", {{"family", "jones"}}) == std::vector<std::string>{"p1"});
  REQUIRE(s->remove("Patient", "p1", {}).ok());
  CHECK(find(*s, "Patient", {{"family", "jones"}}).empty());
  CHECK(find(*s, "Patient", {}) == std::vector<std::string>{created->version.info.id});
}

TEST_CASE("reindex rebuilds the index; a schema-1 database is indexed when upgraded", "[store][search]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  {
    auto s = open(path, false);  // no indexer: nothing indexed
    REQUIRE(s->update(patient("p1", "Smith"), {}).ok());
    REQUIRE(s->update(patient("p2", "Jones"), {}).ok());
    CHECK(find(*s, "Patient", {{"family", "smith"}}).empty());
  }
  {
    auto s = open(path);
    CHECK(find(*s, "Patient", {{"family", "smith"}}).empty());
    auto indexed = s->reindex();
    REQUIRE(indexed.ok());
    CHECK(*indexed == 2);
    CHECK(find(*s, "Patient", {{"family", "smith"}}) == std::vector<std::string>{"p1"});
  }
  // Back to schema 1 (what a server before search left), then opened by this one.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  for (const char* table : {"search_param", "ix_string", "ix_token", "ix_date", "ix_number", "ix_quantity", "ix_reference", "ix_uri", "ix_composite"})
    exec(db, (std::string("DROP TABLE ") + table).c_str());
  exec(db, "DROP INDEX resource_live");
  exec(db, "DROP INDEX resource_updated");
  exec(db, "PRAGMA user_version = 1");
  sqlite3_close(db);
  auto s = open(path);
  CHECK(find(*s, "Patient", {{"family", "jones"}}) == std::vector<std::string>{"p2"});
}

TEST_CASE("the main searches use indexes, never a scan of an index table or of every resource", "[store][search][plan]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  open(path);  // creates the schema
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  // The shapes the executor produces (store/sqlite/search_executor.cpp): a reference driver with token
  // and date filters (correlated lookups), a chain, a revinclude, a type scan and a string prefix.
  std::string token_driver =
      "SELECT r.pk FROM resource r JOIN resource_version v ON v.pk = r.pk AND v.version = r.version "
      "WHERE r.pk IN (SELECT x.res_pk FROM ix_reference x WHERE x.param_id = ? AND ((x.target_id = ? AND x.target_type = ?))) "
      "AND +r.deleted = 0 AND +r.type_id = ? "
      "AND EXISTS (SELECT 1 FROM ix_token x INDEXED BY ix_token_res WHERE x.res_pk = r.pk AND x.param_id = ? AND ((x.code = ? AND x.system = ?))) "
      "AND EXISTS (SELECT 1 FROM ix_date x INDEXED BY ix_date_res WHERE x.res_pk = r.pk AND x.param_id = ? AND x.hi > ? AND (x.hi > ? OR x.lo >= ?)) "
      "AND r.pk <= ? ORDER BY r.pk LIMIT ?";
  std::string chain =
      "SELECT r.pk FROM resource r WHERE r.pk IN (SELECT s.res_pk FROM ix_reference s WHERE s.param_id = ? AND "
      "((s.target_type = ? AND s.target_id IN (SELECT t.id FROM resource t WHERE +t.type_id = ? AND t.pk IN "
      "(SELECT x.res_pk FROM ix_token x WHERE x.param_id = ? AND ((x.code = ? AND x.system = ?))))))) "
      "AND +r.deleted = 0 AND +r.type_id = ? ORDER BY r.pk LIMIT ?";
  std::string revinclude =
      "SELECT DISTINCT s.res_pk FROM ix_reference s WHERE s.param_id IN (SELECT value FROM json_each(?)) "
      "AND s.target_id IN (SELECT value FROM json_each(?)) AND s.target_type = ?";
  std::string has =
      "SELECT r.pk FROM resource r WHERE r.pk IN (SELECT t.pk FROM ix_reference s INDEXED BY ix_reference_res JOIN resource t ON t.type_id = ? AND "
      "t.id = s.target_id WHERE s.param_id = ? AND s.target_type = ? AND s.res_pk IN (SELECT x.res_pk FROM ix_token x WHERE "
      "x.param_id = ? AND ((x.code = ?)))) AND +r.deleted = 0 AND +r.type_id = ? ORDER BY r.pk LIMIT ?";
  std::string type_scan = "SELECT r.pk FROM resource r WHERE r.type_id = ? AND r.deleted = 0 AND r.pk <= ? ORDER BY r.pk LIMIT ?";
  std::string string_prefix =
      "SELECT r.pk FROM resource r WHERE r.pk IN (SELECT x.res_pk FROM ix_string x WHERE x.param_id = ? AND ((x.norm >= ? AND x.norm < ?))) "
      "AND +r.deleted = 0 AND +r.type_id = ? ORDER BY r.pk LIMIT ?";
  for (const std::string& sql : {token_driver, chain, has, revinclude, type_scan, string_prefix}) {
    auto lines = plan(db, sql);
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    INFO(sql << "\n" << all);
    for (const auto& l : lines) {
      // A SCAN is a full pass over a table or index; only json_each (the bound list) may be scanned.
      bool full_scan = l.starts_with("SCAN ") && l.find("json_each") == std::string::npos && l.find("CONSTANT ROW") == std::string::npos;
      CHECK_FALSE(full_scan);
      // A date filter must seek by (res_pk, param_id), not read the whole parameter's rows.
      if (l.find("ix_date") != std::string::npos) CHECK(l.find("res_pk=?") != std::string::npos);
      // References are read by target or by source, never all of a parameter's.
      if (l.find("ix_reference") != std::string::npos) CHECK(l.find("(param_id=?)") == std::string::npos);
    }
  }
  sqlite3_close(db);
}
