// The audit trail (consent.md section 4) through the router with signed tokens: exactly one AuditEvent
// per request (reads, searches, histories, operations, writes, each batch entry, refused and failed
// requests) with the right agents, entities and outcome; writes audited in their own transaction; the
// hash chain and its verification; AuditEvents searchable by privacy officers only.

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>

#include "fhir/base64.hpp"
#include "fhir/json/serialize.hpp"
#include "server/audit/audit_record_codec.hpp"
#include "tests/server/app_fixture.hpp"
#include "tests/server/identity_provider.hpp"
#include "tests/server/requests.hpp"

using fhir::testing::app_fixture;
using fhir::testing::identity_provider;
using fhir::testing::jwt_options;
using fhir::json::value;
using server::http::header;

namespace {

// Every AuditEvent, oldest first, read from the store directly (a search through the API would itself
// be audited).
std::vector<value> audit_trail(const app_fixture& app) {
  auto page = app.application().context().store.history(store::history_request{.type = "AuditEvent", .count = 10000});
  REQUIRE(page.ok());
  std::vector<value> out;
  for (auto it = page->entries.rbegin(); it != page->entries.rend(); ++it) {
    auto parsed = fhir::json::parse(it->json);
    REQUIRE(parsed.ok());
    out.push_back(std::move(*parsed));
  }
  return out;
}

// The events a request added.
std::vector<value> events_of(const app_fixture& app, std::size_t before) {
  auto all = audit_trail(app);
  return std::vector<value>(all.begin() + static_cast<std::ptrdiff_t>(before), all.end());
}

std::string code_of(const value& event, std::string_view member) {
  const value* v = event.find(member);
  if (!v) return {};
  if (v->is_string()) return v->as_string();
  if (v->is_array()) v = &v->as_array().front();
  if (const std::string* c = v->find_string("code")) return *c;
  return {};
}

std::vector<std::string> entity_references(const value& event) {
  std::vector<std::string> out;
  for (const value& e : event.find("entity")->as_array())
    if (const value* what = e.find("what"))
      if (const std::string* ref = what->find_string("reference")) out.push_back(*ref);
  return out;
}

std::string entity_identifier(const value& event, std::string_view system) {
  for (const value& e : event.find("entity")->as_array())
    if (const value* what = e.find("what"))
      if (const value* id = what->find("identifier"); id && *id->find_string("system") == system) return *id->find_string("value");
  return {};
}

std::string user_of(const value& event) {
  for (const value& a : event.find("agent")->as_array())
    if (a.find("requestor")->as_bool())
      if (const value* who = a.find("who"))
        if (const value* id = who->find("identifier")) return *id->find_string("value");
  return {};
}

std::string purpose_of(const value& event) {
  const value* p = event.find("purposeOfEvent");
  return p ? *p->as_array().front().find("coding")->as_array().front().find_string("code") : std::string();
}

std::string patient_body(std::string_view id) {
  return R"({"resourceType":"Patient","id":")" + std::string(id) + R"(","name":[{"family":"Audit"}]})";
}

std::string observation_body(std::string_view id, std::string_view patient) {
  return R"({"resourceType":"Observation","id":")" + std::string(id) +
         R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/)" +
         std::string(patient) + R"("},"valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}})";
}

header privacy_officer(const identity_provider& idp) {
  return idp.bearer(R"("sub":"po-1","org_ods":"ICB1","client_id":"audit-viewer","scope":"user/*.rs","nhs_role":{"role_code":"R0001"},"purpose_of_use":["HSYSADMIN"])");
}

}  // namespace

TEST_CASE("each request leaves exactly one AuditEvent naming the user, the patient, the resources and the outcome", "[server][audit]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto dr = idp.clinician("ACU1");
  std::vector<header> json = {{"Content-Type", "application/fhir+json"}, dr};

  std::size_t n = audit_trail(app).size();
  REQUIRE(app.put("/fhir/Patient/p1", patient_body("p1"), json).status() == 201);
  auto created = events_of(app, n);
  REQUIRE(created.size() == 1);
  CHECK(code_of(created[0], "subtype") == "update");
  CHECK(code_of(created[0], "action") == "U");
  CHECK(code_of(created[0], "outcome") == "0");
  CHECK(user_of(created[0]) == "555000000123");
  CHECK(purpose_of(created[0]) == "TREAT");
  CHECK(entity_references(created[0]) == std::vector<std::string>{"Patient/p1", "Patient/p1/_history/1"});

  n = audit_trail(app).size();
  REQUIRE(app.put("/fhir/Observation/o1", observation_body("o1", "p1"), json).status() == 201);
  REQUIRE(app.get("/fhir/Observation/o1", {dr, {"X-Request-Id", "req-42"}}).status() == 200);
  REQUIRE(app.get("/fhir/Observation?patient=p1", {dr}).status() == 200);
  REQUIRE(app.get("/fhir/Patient/p1/_history", {dr}).status() == 200);
  REQUIRE(app.get("/fhir/Patient/p1/$everything", {dr}).status() == 200);
  auto events = events_of(app, n);
  REQUIRE(events.size() == 5);
  CHECK(entity_references(events[0]) == std::vector<std::string>{"Patient/p1", "Observation/o1/_history/1"});
  CHECK(code_of(events[1], "subtype") == "read");
  CHECK(entity_references(events[1]) == std::vector<std::string>{"Patient/p1", "Observation/o1/_history/1"});
  CHECK(entity_identifier(events[1], "https://shared-care-record.github.io/fhir/Id/request-id") == "req-42");
  CHECK(!entity_identifier(events[1], "https://shared-care-record.github.io/fhir/Id/token-jti").empty());
  CHECK(code_of(events[2], "subtype") == "search-type");
  CHECK(code_of(events[2], "action") == "E");
  CHECK(entity_references(events[2]) == std::vector<std::string>{"Patient/p1", "Observation/o1/_history/1"});
  CHECK(code_of(events[3], "subtype") == "history-instance");
  CHECK(code_of(events[4], "subtype") == "$everything");
  CHECK(entity_references(events[4]) == std::vector<std::string>{"Patient/p1", "Patient/p1/_history/1", "Observation/o1/_history/1"});

  // Refused and failed requests are audited too: 401 and 403 as serious failures, 404 as minor.
  n = audit_trail(app).size();
  CHECK(app.get("/fhir/Patient/p1").status() == 401);
  CHECK(app.get("/fhir/AuditEvent", {dr}).status() == 403);
  CHECK(app.get("/fhir/Observation/missing", {dr}).status() == 404);
  events = events_of(app, n);
  REQUIRE(events.size() == 3);
  CHECK(code_of(events[0], "outcome") == "8");
  CHECK(user_of(events[0]).empty());
  CHECK(code_of(events[1], "outcome") == "8");
  CHECK(user_of(events[1]) == "555000000123");
  CHECK(code_of(events[2], "outcome") == "4");
  // The CapabilityStatement holds no one's data: reading it is not audited.
  n = audit_trail(app).size();
  CHECK(app.get("/fhir/metadata").status() == 200);
  CHECK(audit_trail(app).size() == n);
}

// A local reference ("#pt", indexed so that chains continue inside contained resources) names a
// resource the written one contains, not a patient of the shared record.
TEST_CASE("a write whose subject is a contained Patient names no patient of the record", "[server][audit][contained]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto dr = idp.clinician("ACU1");
  std::size_t n = audit_trail(app).size();
  REQUIRE(app.put("/fhir/Observation/o1", R"({"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},
    "contained":[{"resourceType":"Patient","id":"pt","name":[{"family":"Taylor"}]}],"subject":{"reference":"#pt"}})",
                  {{"Content-Type", "application/fhir+json"}, dr}).status() == 201);
  auto events = events_of(app, n);
  REQUIRE(events.size() == 1);
  CHECK(entity_references(events[0]) == std::vector<std::string>{"Observation/o1/_history/1"});
}

TEST_CASE("a Bundle is audited once, and each batch entry and transaction read once more", "[server][audit][bundle]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto dr = idp.clinician("ACU1");
  std::size_t n = audit_trail(app).size();
  std::string transaction = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":)" + patient_body("t1") + R"(,"request":{"method":"PUT","url":"Patient/t1"}},
    {"resource":)" + observation_body("t2", "t1") + R"(,"request":{"method":"PUT","url":"Observation/t2"}},
    {"request":{"method":"GET","url":"Patient/t1"}}]})";
  REQUIRE(app.post("/fhir", transaction, {{"Content-Type", "application/fhir+json"}, dr, {"X-Request-Id", "bundle-7"}}).status() == 200);
  auto events = events_of(app, n);
  REQUIRE(events.size() == 2);  // the GET entry (after the commit), then the transaction with both writes
  std::vector<std::string> subtypes = {code_of(events[0], "subtype"), code_of(events[1], "subtype")};
  std::sort(subtypes.begin(), subtypes.end());
  CHECK(subtypes == std::vector<std::string>{"read", "transaction"});
  for (const value& e : events) CHECK(entity_identifier(e, "https://shared-care-record.github.io/fhir/Id/request-id") == "bundle-7");
  const value& tx = code_of(events[0], "subtype") == "transaction" ? events[0] : events[1];
  CHECK(entity_references(tx) == std::vector<std::string>{"Patient/t1", "Patient/t1/_history/1", "Observation/t2/_history/1"});

  n = audit_trail(app).size();
  std::string batch = R"({"resourceType":"Bundle","type":"batch","entry":[
    {"request":{"method":"GET","url":"Patient/t1"}},{"request":{"method":"GET","url":"Patient/nope"}}]})";
  REQUIRE(app.post("/fhir", batch, {{"Content-Type", "application/fhir+json"}, dr}).status() == 200);
  events = events_of(app, n);
  REQUIRE(events.size() == 3);  // two entries, then the batch
  CHECK(code_of(events[0], "outcome") == "0");
  CHECK(code_of(events[1], "outcome") == "4");
  CHECK(code_of(events[2], "subtype") == "transaction");
}

TEST_CASE("privacy officers search the audit trail as FHIR, and nobody else reads or writes it", "[server][audit]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto dr = idp.clinician("ACU1");
  REQUIRE(app.put("/fhir/Patient/p1", patient_body("p1"), {{"Content-Type", "application/fhir+json"}, dr}).status() == 201);
  REQUIRE(app.get("/fhir/Patient/p1", {dr}).status() == 200);
  CHECK(app.get("/fhir/Patient/p2", {dr}).status() == 404);

  auto po = privacy_officer(idp);
  auto by_patient = app.get("/fhir/AuditEvent?patient=p1", {po});
  REQUIRE(by_patient.status() == 200);
  CHECK(fhir::testing::count_matches(by_patient.json()) == 2);  // the write and the read
  CHECK(fhir::testing::count_matches(app.get("/fhir/AuditEvent?patient=p2&outcome=4", {po}).json()) == 1);
  CHECK(fhir::testing::count_matches(
            app.get("/fhir/AuditEvent?agent:identifier=https://fhir.nhs.uk/Id/sds-user-id|555000000123&subtype=read", {po}).json()) == 2);
  CHECK(fhir::testing::count_matches(app.get("/fhir/AuditEvent?date=ge2020-01-01&patient=p1&action=R", {po}).json()) == 1);
  // The officer's own searches are audited as well.
  CHECK(fhir::testing::count_matches(
            app.get("/fhir/AuditEvent?agent:identifier=https://fhir.nhs.uk/Id/sds-user-id|po-1", {po}).json()) >= 4);
  CHECK(app.get("/fhir/AuditEvent?patient=p1", {dr}).status() == 403);
  CHECK(app.put("/fhir/AuditEvent/x", "{}", {{"Content-Type", "application/fhir+json"}, po}).status() == 405);
}

TEST_CASE("the audit trail is hash-chained: an altered record is found and named", "[server][audit]") {
  identity_provider idp;
  auto options = jwt_options(idp);
  app_fixture app(options);
  auto dr = idp.clinician("ACU1");
  REQUIRE(app.put("/fhir/Patient/p1", patient_body("p1"), {{"Content-Type", "application/fhir+json"}, dr}).status() == 201);
  for (int i = 0; i < 5; ++i) REQUIRE(app.get("/fhir/Patient/p1", {dr}).status() == 200);
  auto& store = app.application().context().store;
  auto intact = store.verify_audit();
  REQUIRE(intact.ok());
  CHECK(intact->intact);
  CHECK(intact->records == 6);
  CHECK(intact->head.size() == 64);
  CHECK(intact->read_trail_head.size() == 64);

  // Record 1 is the write's, in the database (same transaction as the write); records 2-6 are the
  // reads', in the read trail beside it (store/sqlite/read_trail.hpp). A tamperer with the files: the
  // append-only triggers refuse plain edits...
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(app.database_path().c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  REQUIRE(sqlite3_exec(db, ("ATTACH '" + app.database_path() + "-read-audit' AS read_trail").c_str(), nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  {
    sqlite3_stmt* where = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT (SELECT group_concat(seq) FROM main.audit_record), "
                                   "(SELECT group_concat(seq) FROM read_trail.audit_record)", -1, &where, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(where) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(where, 0))) == "1");
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(where, 1))) == "2,3,4,5,6");
    sqlite3_finalize(where);
  }
  CHECK(sqlite3_exec(db, "UPDATE read_trail.audit_record SET body = replace(body, '\"p1\"', '\"p9\"') WHERE seq = 3", nullptr,
                     nullptr, nullptr) != SQLITE_OK);
  CHECK(sqlite3_exec(db, "DELETE FROM read_trail.audit_record WHERE seq = 6", nullptr, nullptr, nullptr) != SQLITE_OK);
  CHECK(sqlite3_exec(db, "DELETE FROM read_trail.audit_key WHERE seq = 2", nullptr, nullptr, nullptr) != SQLITE_OK);
  CHECK(sqlite3_exec(db, "DELETE FROM main.audit_record WHERE seq = 1", nullptr, nullptr, nullptr) != SQLITE_OK);
  // ...so they drop them first; the chain still gives them away.
  REQUIRE(sqlite3_exec(db, "DROP TRIGGER read_trail.audit_record_append_only_update", nullptr, nullptr, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE read_trail.audit_record SET body = replace(body, '\"p1\"', '\"p9\"') WHERE seq = 3", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_changes(db) == 1);
  auto broken = store.verify_audit();
  REQUIRE(broken.ok());
  CHECK_FALSE(broken->intact);
  CHECK(broken->first_broken == 3);
  CHECK(broken->records == 2);
  CHECK_THAT(broken->problem, Catch::Contains("audit record 3"));
  // Hiding a record from the patient's searches (removing its search key) is found as well.
  REQUIRE(sqlite3_exec(db, "DROP TRIGGER read_trail.audit_key_append_only_delete", nullptr, nullptr, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "DELETE FROM read_trail.audit_key WHERE seq = 2 AND key = 'patient|p1'", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  REQUIRE(sqlite3_changes(db) == 1);
  auto hidden = store.verify_audit();
  REQUIRE(hidden.ok());
  CHECK_FALSE(hidden->intact);
  CHECK(hidden->first_broken == 2);
  CHECK_THAT(hidden->problem, Catch::Contains("search key 'patient|p1' is missing"));
  // The database's chain (the write's record) is checked as well, and first.
  REQUIRE(sqlite3_exec(db, "DROP TRIGGER main.audit_record_append_only_update", nullptr, nullptr, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE main.audit_record SET body = replace(body, '\"p1\"', '\"p9\"') WHERE seq = 1", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_changes(db) == 1);
  sqlite3_close(db);
  auto write_altered = store.verify_audit();
  REQUIRE(write_altered.ok());
  CHECK_FALSE(write_altered->intact);
  CHECK(write_altered->first_broken == 1);
  CHECK(write_altered->records == 0);
}

TEST_CASE("a request whose audit record cannot be written is not served (503), and a write without its record does not commit", "[server][audit][errors]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto dr = idp.clinician("ACU1");
  REQUIRE(app.put("/fhir/Patient/p1", patient_body("p1"), {{"Content-Type", "application/fhir+json"}, dr}).status() == 201);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(app.database_path().c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  REQUIRE(sqlite3_exec(db, ("ATTACH '" + app.database_path() + "-read-audit' AS read_trail").c_str(), nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  // Both files: a write's record is in the database, a read's (and a failed request's) in the read trail.
  for (const char* file : {"main", "read_trail"})
    REQUIRE(sqlite3_exec(db, (std::string("CREATE TRIGGER ") + file +
                              ".audit_full BEFORE INSERT ON audit_record BEGIN SELECT RAISE(ABORT, 'disk full'); END")
                                 .c_str(),
                         nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto read = app.get("/fhir/Patient/p1", {dr});
  CHECK(read.status() == 503);
  CHECK(read.header("Retry-After") == "1");
  CHECK(read.issue_ids() == std::vector<std::string>{"audit-unavailable"});
  auto write = app.put("/fhir/Patient/p2", patient_body("p2"), {{"Content-Type", "application/fhir+json"}, dr});
  CHECK(write.status() == 503);
  auto version = app.application().context().store.read("Patient", "p2");
  CHECK_FALSE(version.ok());  // rolled back with its record
}

TEST_CASE("the trail stores the facts and renders the same AuditEvent, with the keys the AuditEvent gives", "[server][audit]") {
  server::audit::audit_facts facts{
      .interaction = "search-type", .method = "GET", .target = "/fhir/Observation?patient=p1&_include=Observation:subject",
      .query = "patient=p1&_include=Observation:subject", .request_id = "req-1", .remote_address = "10.0.0.7", .status = 404,
      .failure = "Resource \"x\" is not known", .caller = server::audit::audited_caller{
          .subject = "555000000123", .fhir_user = "https://idp.test/fhir/Practitioner/dr-1", .roles = {"R8000", "R0260"},
          .person_roleid = "role-1", .org_ods = "RX1", .client_id = "ehr", .purpose = "TREAT", .jti = "j-1"},
      .resources = {{"Observation", "o1", 3}, {"Patient", "p1", 1}}, .resource_count = 2, .patients = {"p1", "p2"},
      .decisions = {{"Consent/c1", "deny", 2}}, .server_url = "https://shcr.test/fhir", .recorded = 1767225600123};
  store::audit_record stored = server::audit::record_of(facts, "a-1");
  CHECK(stored.json.size() < 700);  // the facts, not the ~4 KB AuditEvent

  std::string rendered = server::audit::render_record(stored.json);
  CHECK(rendered == fhir::json::serialize(server::audit::audit_event(facts, "a-1")));
  auto parsed = fhir::json::parse(rendered);
  REQUIRE(parsed.ok());
  store::audit_record derived = store::make_audit_record(*parsed);
  CHECK(derived.keys == stored.keys);
  CHECK(derived.id == stored.id);
  CHECK(derived.recorded == stored.recorded);
  CHECK(derived.type == stored.type);
  CHECK(derived.subtype == stored.subtype);
  CHECK(derived.action == stored.action);
  CHECK(derived.outcome == stored.outcome);
  CHECK(std::find(stored.keys.begin(), stored.keys.end(), "agent|Practitioner/dr-1") != stored.keys.end());
  CHECK(std::find(stored.keys.begin(), stored.keys.end(), "entity|Consent/c1") != stored.keys.end());

  // An unauthenticated request has no user, and a schema 3 record (a whole AuditEvent) renders as it is.
  server::audit::audit_facts anonymous{.interaction = "read", .method = "GET", .target = "/fhir/Patient/p1", .request_id = "r",
                                       .status = 401, .server_url = "https://shcr.test/fhir", .recorded = 1};
  store::audit_record plain = server::audit::record_of(anonymous, "a-2");
  auto plain_event = fhir::json::parse(server::audit::render_record(plain.json));
  REQUIRE(plain_event.ok());
  CHECK(store::make_audit_record(*plain_event).keys == plain.keys);
  CHECK(server::audit::render_record(rendered) == rendered);
}
