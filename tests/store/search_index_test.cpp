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

const std::vector<std::string> types = {"Patient",           "Observation",       "Organization",         "ValueSet",
                                        "Location",          "DocumentReference", "MolecularSequence",   "QuestionnaireResponse",
                                        "Questionnaire"};

const fhir::search::search_parameters& parameters() {
  static const fhir::search::search_parameters p(fhir::definitions::r4());
  return p;
}

const fhir::search::indexer& indexer() {
  static const fhir::search::indexer i(parameters(), {"http://shcr.example/fhir"});  // this store's base URL
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

// An Observation coded LOINC `code`: a type no upgrade reindexes (its rows show whether one did).
fhir::json::value coded(std::string_view id, std::string_view code) {
  return parse(R"({"resourceType":"Observation","id":")" + std::string(id) + R"(","status":"final",
    "code":{"coding":[{"system":"http://loinc.org","code":")" + std::string(code) + R"("}]}})");
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

// The index kinds an upgrade left to fill (reindex_pending), as a count.
int pending_reindex_rows(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM reindex_pending", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  int rows = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return rows;
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

TEST_CASE("reindex rebuilds the index, and a schema-1 database is indexed when upgraded", "[store][search]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  {
    auto s = open(path, false);  // no indexer: nothing indexed
    REQUIRE(s->update(patient("p1", "Smith"), {}).ok());
    REQUIRE(s->update(patient("p2", "Jones"), {}).ok());
    REQUIRE(s->update(coded("o1", "8867-4"), {}).ok());
    CHECK(find(*s, "Patient", {{"family", "smith"}}).empty());
  }
  {
    auto s = open(path);
    CHECK(find(*s, "Observation", {{"code", "8867-4"}}).empty());  // only what the schema's upgrades left pending
    auto indexed = s->reindex();
    REQUIRE(indexed.ok());
    CHECK(*indexed == 3);
    CHECK(find(*s, "Patient", {{"family", "smith"}}) == std::vector<std::string>{"p1"});
    CHECK(find(*s, "Observation", {{"code", "8867-4"}}) == std::vector<std::string>{"o1"});
  }
  // Back to schema 1 (what a server before search left), then opened by this one.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  for (const char* table : {"search_param", "ix_string", "ix_token", "ix_date", "ix_number", "ix_quantity", "ix_reference", "ix_uri", "ix_composite", "ix_text", "ix_position", "reindex_pending", "contained_resource", "index_base"})
    exec(db, (std::string("DROP TABLE ") + table).c_str());
  exec(db, "DROP INDEX resource_live");
  exec(db, "DROP INDEX resource_updated");
  for (const char* trigger : {"resource_version_immutable_update", "resource_version_immutable_delete"})
    exec(db, (std::string("DROP TRIGGER ") + trigger).c_str());
  for (const char* table : {"audit_record", "audit_key", "quality_count", "read_trail_link"}) exec(db, (std::string("DROP TABLE ") + table).c_str());
  exec(db, "PRAGMA user_version = 1");
  sqlite3_close(db);
  auto s = open(path);
  CHECK(find(*s, "Patient", {{"family", "jones"}}) == std::vector<std::string>{"p2"});
}

// A database of schema 6 has no positions, nor contained resources' rows (schema 8): opening it with this
// server indexes the Locations (only the types with a position parameter) and the resources that
// contain others, so `near` and chains into contained resources find what was stored before; a reindex
// cut short (the pending row still there) is finished at the next open.
TEST_CASE("a schema-6 database gets its positions and contained resources indexed when upgraded, and a cut-short reindex is finished",
          "[store][search][near][contained]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  {
    auto s = open(path);
    REQUIRE(s->update(parse(R"({"resourceType":"Location","id":"leeds","position":{"latitude":53.7997,"longitude":-1.5492}})"), {}).ok());
    REQUIRE(s->update(patient("p1", "Smith"), {}).ok());
    REQUIRE(s->update(coded("o9", "8867-4"), {}).ok());
    REQUIRE(s->update(parse(R"({"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},
      "contained":[{"resourceType":"Patient","id":"pt","name":[{"family":"Taylor"}]}],"subject":{"reference":"#pt"}})"), {}).ok());
    CHECK(find(*s, "Location", {{"near", "53.8|-1.55|1"}}) == std::vector<std::string>{"leeds"});
    CHECK(find(*s, "Observation", {{"subject.family", "taylor"}}) == std::vector<std::string>{"o1"});
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  exec(db, "DROP TABLE ix_position");
  exec(db, "DROP TABLE reindex_pending");
  exec(db, "DELETE FROM ix_string");  // the contained Patient's rows
  exec(db, "DELETE FROM ix_token");   // o9's rows too: a full reindex would bring them back
  exec(db, "DELETE FROM ix_reference WHERE target_id LIKE '#%'");  // schema 6 did not index local references
  exec(db, "DROP TABLE contained_resource");
  exec(db, "DROP TABLE index_base");
  exec(db, "PRAGMA user_version = 6");
  sqlite3_close(db);
  {
    auto s = open(path);
    CHECK(find(*s, "Location", {{"near", "53.8|-1.55|1"}}) == std::vector<std::string>{"leeds"});
    CHECK(find(*s, "Observation", {{"subject.family", "taylor"}}) == std::vector<std::string>{"o1"});
    CHECK(find(*s, "Observation", {{"code", "8867-4"}}).empty());  // only what the upgrades concern was reindexed
  }
  // As if the process had died after the upgrade's commit, before the reindex's.
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  CHECK(pending_reindex_rows(db) == 0);  // done, so cleared
  exec(db, "DELETE FROM ix_position");
  exec(db, "INSERT INTO reindex_pending(kind) VALUES ('positions')");
  sqlite3_close(db);
  {
    auto s = open(path);
    CHECK(find(*s, "Location", {{"near", "53.8|-1.55|1"}}) == std::vector<std::string>{"leeds"});
    CHECK(find(*s, "Observation", {{"code", "8867-4"}}).empty());
  }
  // A kind this server does not know is filled by reindexing everything, not dropped.
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  exec(db, "INSERT INTO reindex_pending(kind) VALUES ('unknown')");
  sqlite3_close(db);
  auto s = open(path);
  CHECK(find(*s, "Observation", {{"code", "8867-4"}}) == std::vector<std::string>{"o9"});
}

// Schema 9 widened ix_composite (a reference first, a third component): a schema-8 database keeps its
// composite rows (copied, not reindexed) and gets the types with a composite of a new shape reindexed.
TEST_CASE("a schema-8 database keeps its composite rows and gets the new composite shapes indexed when upgraded", "[store][search]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  {
    auto s = open(path);
    REQUIRE(s->update(patient("p1", "Smith"), {}).ok());
    REQUIRE(s->update(parse(R"({"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},
      "valueQuantity":{"value":72.5,"system":"http://unitsofmeasure.org","code":"kg"}})"), {}).ok());
    auto stored = s->update(parse(R"({"resourceType":"DocumentReference","id":"d2","status":"current","content":[{"attachment":{}}],
      "relatesTo":[{"code":"replaces","target":{"reference":"DocumentReference/d1"}}]})"), {});
    INFO((stored.ok() ? std::string() : stored.error().summary()));
    REQUIRE(stored.ok());
    // A contained DocumentReference has the rows too (a chain continues inside it).
    REQUIRE(s->update(parse(R"({"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},
      "contained":[{"resourceType":"DocumentReference","id":"doc","status":"current","content":[{"attachment":{}}],
                    "relatesTo":[{"code":"replaces","target":{"reference":"DocumentReference/d1"}}]}],
      "derivedFrom":[{"reference":"#doc"}]})"), {}).ok());
    REQUIRE(s->update(parse(R"({"resourceType":"MolecularSequence","id":"s1","coordinateSystem":0,
      "variant":[{"start":150,"end":160}],
      "referenceSeq":{"chromosome":{"coding":[{"code":"2"}]},"genomeBuild":"GRCh38","windowStart":100,"windowEnd":900}})"), {}).ok());
    REQUIRE(s->update(parse(R"({"resourceType":"Observation","id":"o3","status":"final","code":{"text":"x"},
      "subject":{"reference":"https://other.example/fhir/Patient/p9"}})"), {}).ok());
    REQUIRE(s->update(parse(R"({"resourceType":"Observation","id":"o4","status":"final","code":{"text":"x"},
      "subject":{"reference":"http://shcr.example/fhir/Patient/p9"}})"), {}).ok());
    CHECK(find(*s, "DocumentReference", {{"relationship", "d1$replaces"}}) == std::vector<std::string>{"d2"});
    CHECK(find(*s, "Observation", {{"derived-from:DocumentReference.relationship", "d1$replaces"}}) == std::vector<std::string>{"o2"});
    CHECK(find(*s, "MolecularSequence", {{"chromosome-variant-coordinate", "2$150$160"}}) == std::vector<std::string>{"s1"});
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  exec(db, "DELETE FROM ix_composite WHERE url1 <> '' OR system1 = 'DocumentReference' OR value3 <> 0");  // schema 8 had none
  exec(db, R"(CREATE TABLE ix_composite_8 (param_id INTEGER NOT NULL, code1 TEXT NOT NULL, system1 TEXT NOT NULL, res_pk INTEGER NOT NULL,
      system2 TEXT NOT NULL, code2 TEXT NOT NULL, value2 REAL NOT NULL, low2 REAL NOT NULL, high2 REAL NOT NULL, cunit2 TEXT NOT NULL,
      cvalue2 REAL NOT NULL, PRIMARY KEY (param_id, code1, system1, res_pk, system2, code2, value2, low2, high2)) WITHOUT ROWID)");
  exec(db, "INSERT INTO ix_composite_8 SELECT param_id, code1, system1, res_pk, system2, code2, value2, low2, high2, cunit2, cvalue2 FROM ix_composite");
  exec(db, "DROP TABLE ix_composite");
  exec(db, "ALTER TABLE ix_composite_8 RENAME TO ix_composite");
  exec(db, "CREATE INDEX ix_composite_res ON ix_composite(res_pk, param_id)");
  exec(db, "DELETE FROM ix_token WHERE code = '29463-7'");  // o1's: a full reindex would bring them back
  // Schema 8 took another server's Patient/p9 for ours.
  exec(db, "UPDATE ix_reference SET target_type = 'Patient', target_id = 'p9' WHERE url = 'https://other.example/fhir/Patient/p9'");
  REQUIRE(find(*open(path), "Observation", {{"subject", "Patient/p9"}}) == std::vector<std::string>{"o3", "o4"});
  exec(db, "DROP TABLE index_base");
  exec(db, "PRAGMA user_version = 8");
  sqlite3_close(db);
  auto s = open(path);
  CHECK(find(*s, "Observation", {{"code-value-quantity", "29463-7$72.5"}}) == std::vector<std::string>{"o1"});  // copied
  CHECK(find(*s, "DocumentReference", {{"relationship", "d1$replaces"}}) == std::vector<std::string>{"d2"});  // reindexed
  CHECK(find(*s, "MolecularSequence", {{"chromosome-variant-coordinate", "2$150$160"}}) == std::vector<std::string>{"s1"});
  CHECK(find(*s, "Observation", {{"derived-from:DocumentReference.relationship", "d1$replaces"}}) == std::vector<std::string>{"o2"});
  // Reindexed: another server's Patient/p9 is found by its URL only; one under this store's base is ours.
  CHECK(find(*s, "Observation", {{"subject", "Patient/p9"}}) == std::vector<std::string>{"o4"});
  CHECK(find(*s, "Observation", {{"subject", "https://other.example/fhir/Patient/p9"}}) == std::vector<std::string>{"o3"});
  CHECK(find(*s, "Observation", {{"code", "29463-7"}}).empty());  // o1: only what the upgrade concerns was reindexed
  s.reset();
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  CHECK(pending_reindex_rows(db) == 0);  // done, so cleared
  sqlite3_close(db);
}

// Schema 10 stores a name's or an address's parts once (under `family`, `given`, `address-city`...), not
// again under `name` and `address`: a schema-9 database has them twice, and gets the types with such
// parameters reindexed, which drops the repeats; searches find the same before and after. (Schema 9's
// phonetic already read name's rows; the test gives it rows too, which the reindex drops as well.)
TEST_CASE("a schema-9 database stores names and addresses once after the upgrade", "[store][search]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  {
    auto s = open(path);
    REQUIRE(s->update(parse(R"({"resourceType":"Patient","id":"p1","name":[{"family":"Smith","given":["John"],"prefix":["Dr"]}],
      "address":[{"line":["1 Park Row"],"city":"Leeds"}]})"), {}).ok());
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  auto count = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
  };
  const char* rows_of = "SELECT count(*) FROM ix_string x JOIN search_param p ON p.param_id = x.param_id WHERE p.code = '";
  auto rows = [&](std::string code) { return count((rows_of + code + "'").c_str()); };
  CHECK(rows("name") == 1);  // Dr
  CHECK(rows("phonetic") == 0);
  CHECK(rows("address") == 1);  // 1 Park Row
  // Schema 9 stored every part under name and phonetic, and address's under address.
  for (const char* code : {"name", "phonetic"})
    exec(db, (std::string("INSERT OR IGNORE INTO ix_string(param_id, norm, res_pk, exact) SELECT (SELECT param_id FROM search_param "
                          "WHERE code = '") + code + "' AND type_id = p.type_id), norm, res_pk, exact FROM ix_string x JOIN search_param p "
                          "ON p.param_id = x.param_id WHERE p.code IN ('family', 'given', 'name')").c_str());
  exec(db, "INSERT OR IGNORE INTO ix_string(param_id, norm, res_pk, exact) SELECT (SELECT param_id FROM search_param WHERE code = 'address' "
           "AND type_id = p.type_id), norm, res_pk, exact FROM ix_string x JOIN search_param p ON p.param_id = x.param_id WHERE p.code = 'address-city'");
  CHECK(rows("name") == 3);
  CHECK(rows("phonetic") == 3);
  CHECK(rows("address") == 2);
  exec(db, "PRAGMA user_version = 9");
  sqlite3_close(db);
  {
    auto s = open(path);
    CHECK(find(*s, "Patient", {{"name", "john"}}) == std::vector<std::string>{"p1"});
    CHECK(find(*s, "Patient", {{"phonetic", "dr"}}) == std::vector<std::string>{"p1"});
    CHECK(find(*s, "Patient", {{"address", "leeds"}}) == std::vector<std::string>{"p1"});
  }
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  CHECK(rows("name") == 1);
  CHECK(rows("phonetic") == 0);
  CHECK(rows("address") == 1);
  CHECK(pending_reindex_rows(db) == 0);
  sqlite3_close(db);
}

// The base URL decides which absolute references are ours; the database records the one its index was
// built for, and a store opened with another reindexes the resources with an absolute reference.
TEST_CASE("a new base URL reindexes absolute references, and the base is recorded", "[store][search]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  static const fhir::search::indexer moved(parameters(), {"https://moved.example/fhir/"});
  auto open_with = [&](const fhir::search::indexer& ix) {
    auto s = store::open_sqlite_store(store::sqlite_options{.path = path, .resource_types = types, .indexer = &ix});
    REQUIRE(s.ok());
    return std::move(*s);
  };
  CHECK(store::recorded_index_base(path).empty());
  {
    auto s = open(path);
    REQUIRE(s->update(patient("p1", "Smith"), {}).ok());
    REQUIRE(s->update(parse(R"({"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},
      "subject":{"reference":"http://shcr.example/fhir/Patient/p1"}})"), {}).ok());
    REQUIRE(s->update(parse(R"({"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},
      "subject":{"reference":"https://moved.example/fhir/Patient/p1"}})"), {}).ok());
    CHECK(find(*s, "Observation", {{"subject", "Patient/p1"}}) == std::vector<std::string>{"o1"});
  }
  CHECK(store::recorded_index_base(path) == std::vector<std::string>{"http://shcr.example/fhir"});
  {
    auto s = open_with(moved);
    CHECK(find(*s, "Observation", {{"subject", "Patient/p1"}}) == std::vector<std::string>{"o2"});
    CHECK(find(*s, "Patient", {{"family", "smith"}}) == std::vector<std::string>{"p1"});
  }
  CHECK(store::recorded_index_base(path) == std::vector<std::string>{"https://moved.example/fhir"});
  auto s = open(path);
  CHECK(find(*s, "Observation", {{"subject", "Patient/p1"}}) == std::vector<std::string>{"o1"});
}

// search.html#contained: chains continue inside contained resources, and out of them to resources.
TEST_CASE("chains into and out of contained resources", "[store][search][contained]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  REQUIRE(s->update(parse(R"({"resourceType":"Organization","id":"org1","name":"Leeds"})"), {}).ok());
  REQUIRE(s->update(parse(R"({"resourceType":"Organization","id":"org2","name":"York"})"), {}).ok());
  auto observation = [](std::string_view id, std::string_view org) {
    return parse(R"({"resourceType":"Observation","id":")" + std::string(id) + R"(","status":"final","code":{"text":"x"},
      "contained":[{"resourceType":"Patient","id":"pt","name":[{"family":"Taylor"}],
                    "managingOrganization":{"reference":"Organization/)" + std::string(org) + R"("}}],
      "subject":{"reference":"#pt"}})");
  };
  REQUIRE(s->update(observation("o1", "org1"), {}).ok());
  REQUIRE(s->update(observation("o2", "org2"), {}).ok());
  CHECK(find(*s, "Observation", {{"subject.family", "taylor"}}) == std::vector<std::string>{"o1", "o2"});
  CHECK(find(*s, "Observation", {{"subject.organization.name", "york"}}) == std::vector<std::string>{"o2"});
  CHECK(find(*s, "Observation", {{"subject:Patient.organization:Organization._id", "org1"}}) == std::vector<std::string>{"o1"});
  CHECK(find(*s, "Patient", {{"family", "taylor"}}).empty());
  CHECK(find(*s, "Organization", {{"_has:Patient:organization:family", "taylor"}}).empty());  // contained sources are not
}

TEST_CASE("the main searches use indexes, never a scan of a table", "[store][search][plan]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  REQUIRE(s->update(parse(R"({"resourceType":"Patient","id":"p1","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number",
    "value":"9000000009"}],"name":[{"family":"Smith"}],"birthDate":"1970-01-01","managingOrganization":{"reference":"Organization/org1"}})"), {}).ok());
  REQUIRE(s->update(parse(R"({"resourceType":"Organization","id":"org1","name":"Leeds"})"), {}).ok());
  REQUIRE(s->create(parse(R"({"resourceType":"ValueSet","status":"active","url":"http://acme.org/fhir/ValueSet/1"})")).ok());
  REQUIRE(s->create(parse(R"({"resourceType":"Location","position":{"latitude":53.7997,"longitude":-1.5492}})")).ok());
  REQUIRE(s->create(parse(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
    "contained":[{"resourceType":"Patient","id":"pt","name":[{"family":"Taylor"}]}],"subject":{"reference":"#pt"}})")).ok());
  for (int i = 0; i < 3; ++i)
    REQUIRE(s->create(parse(R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org",
      "code":"8867-4"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-05-01"})")).ok());
  REQUIRE(s->create(parse(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
    "subject":{"reference":"https://other.example/fhir/Patient/p9"}})")).ok());
  REQUIRE(s->create(parse(R"({"resourceType":"QuestionnaireResponse","status":"completed",
    "questionnaire":"http://shcr.example/fhir/Questionnaire/q1"})")).ok());
  REQUIRE(s->create(parse(R"({"resourceType":"Questionnaire","status":"active","url":"http://shcr.example/fhir/Questionnaire/q1",
    "version":"3"})")).ok());
  struct expectation {
    std::string type;
    std::vector<std::pair<std::string, std::string>> query;
  };
  const std::vector<expectation> searches = {
      {"Observation", {{"subject", "Patient/p1"}, {"code", "http://loinc.org|8867-4"}, {"date", "ge2024-01-01"}}},
      {"Patient", {{"identifier", "https://fhir.nhs.uk/Id/nhs-number|9000000009"}}},
      {"Patient", {{"family", "smi"}, {"birthdate", "1970"}}},
      {"Observation", {{"subject.identifier", "https://fhir.nhs.uk/Id/nhs-number|9000000009"}}},
      {"Observation", {{"subject.family", "taylor"}}},  // through a contained Patient (and resources)
      {"Observation", {{"subject._id", "pt"}}},         // a contained resource's local id
      {"Observation", {{"subject.birthdate:missing", "true"}}},
      {"Patient", {{"family", "taylor"}, {"_contained", "true"}}},  // the containers of matching contained resources
      {"Patient", {{"family", "taylor"}, {"_contained", "both"}}},
      {"Patient", {{"family", "taylor"}, {"_contained", "true"}, {"_containedType", "contained"}}},  // them alone
      {"Patient", {{"family", "taylor"}, {"_contained", "both"}, {"_containedType", "contained"}}},
      {"Patient", {{"_id", "p1"}, {"_revinclude", "Observation:subject"}}},  // the include's plan follows the page's
      {"Observation", {{"code", "http://loinc.org|8867-4"}, {"_include", "Observation:subject"}}},
      {"QuestionnaireResponse", {{"status", "completed"}, {"_include", "QuestionnaireResponse:questionnaire"}}},
      {"Questionnaire", {{"url", "http://shcr.example/fhir/Questionnaire/q1"}, {"_revinclude", "QuestionnaireResponse:questionnaire"}}},
      {"Patient", {{"_has:Observation:subject:code", "8867-4"}}},
      {"Organization", {{"_has:Patient:organization:_has:Observation:subject:code", "8867-4"}}},
      {"ValueSet", {{"url:above", "http://acme.org/fhir/ValueSet/1/_history/2"}}},
      {"Location", {{"near", "53.8|-1.55|5"}}},
      {"Observation", {{"code", "http://loinc.org|8867-4"}, {"date", "lt2025"}, {"_sort", "-date"}}},
      {"Observation", {{"date", "gt2020"}}},
      // Absolute values: another server's by URL; one under the base by type and id, a canonical by URL too.
      {"Observation", {{"subject", "https://other.example/fhir/Patient/p9"}}},
      {"Observation", {{"subject", "http://shcr.example/fhir/Patient/p1"}}},
      {"QuestionnaireResponse", {{"questionnaire", "http://shcr.example/fhir/Questionnaire/q1"}}},
      // Through a canonical: from the targets' url rows to the sources' by URL, and back.
      {"QuestionnaireResponse", {{"questionnaire.version", "3"}}},
      {"Questionnaire", {{"_has:QuestionnaireResponse:questionnaire:status", "completed"}}},
  };
  const std::vector<std::string> bases{"http://shcr.example/fhir"};
  for (const auto& e : searches) {
    auto parsed = fhir::search::parse_query(parameters(), e.type, e.query, {.containers = true, .local_bases = bases});
    REQUIRE(parsed.ok());
    auto page = s->search(store::search_request{*parsed, 20, "", true});
    REQUIRE(page.ok());
    CHECK_FALSE(page->entries.empty());
    std::string all;
    for (const auto& l : page->plan) all += l + "\n";
    INFO(e.type << " " << e.query.front().first << "\n" << all);
    REQUIRE(page->plan.size() > 1);
    for (const auto& line : page->plan) {
      std::string_view l = line;
      while (l.starts_with(' ')) l.remove_prefix(1);
      // A SCAN is a full pass over a table or an index; only the bound list (json_each) and the matches
      // already selected by index (`m`, materialised for _containedType=contained with both) may be.
      CHECK_FALSE((l.starts_with("SCAN ") && l.find("json_each") == std::string_view::npos && l != "SCAN m"));
      // Index rows are read by value, target or source, never all of a parameter's.
      CHECK_FALSE(l.ends_with("(param_id=?)"));
    }
  }
}
