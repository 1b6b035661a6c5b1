// The audit trail in the store: records appended (synchronously and in group commits), read, searched
// by each of its keys and columns with paging, verified; the records of requests that wrote nothing in
// the read trail beside the database; and the AuditEvents of a schema 3 database moved into it with
// their hashes intact.
#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "fhir/definitions/r4.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/search/search_parameters.hpp"
#include "fhir/search/search_query.hpp"
#include "store/backup.hpp"
#include "store/store.hpp"
#include "tests/store/hold_writer.hpp"
#include "tests/support/bytes.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

const std::vector<std::string> types = {"Patient", "Observation", "AuditEvent"};

const fhir::search::search_parameters& parameters() {
  static const fhir::search::search_parameters p(fhir::definitions::r4());
  return p;
}

std::unique_ptr<store::store> open(const std::string& path) {
  auto s = store::open_sqlite_store(store::sqlite_options{.path = path, .resource_types = types});
  INFO((s.ok() ? std::string() : s.error().summary()));
  REQUIRE(s.ok());
  return std::move(*s);
}

// An AuditEvent as the server shapes them: a user and organisation agent, patient and resource entities.
fhir::json::value event(const std::string& id, const std::string& recorded, const std::string& patient, const std::string& user,
                        const std::string& subtype, const std::string& outcome) {
  std::string text = R"({"resourceType":"AuditEvent","id":")" + id + R"(","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code":"rest"},"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":")" + subtype + R"("}],"action":"R",
    "recorded":")" + recorded + R"(","outcome":")" + outcome + R"(","agent":[{"who":{"reference":"Practitioner/)" + user + R"(",
    "identifier":{"system":"https://fhir.nhs.uk/Id/sds-user-id","value":")" + user + R"("}},"requestor":true},
    {"who":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"RX1"}},"requestor":false}],
    "source":{"observer":{"display":"test"}},"entity":[{"what":{"reference":"Patient/)" + patient + R"("}},
    {"what":{"reference":"Observation/o-)" + id + R"(/_history/2"}}]})";
  auto v = fhir::json::parse(text);
  REQUIRE(v.ok());
  return std::move(*v);
}

std::vector<std::string> find(store::store& s, std::vector<std::pair<std::string, std::string>> query, std::size_t count = 100) {
  auto parsed = fhir::search::parse_query(parameters(), "AuditEvent", query);
  REQUIRE(parsed.ok());
  auto page = s.search(store::search_request{*parsed, count, ""});
  INFO((page.ok() ? std::string() : page.error().summary()));
  REQUIRE(page.ok());
  std::vector<std::string> ids;
  for (const auto& e : page->entries) ids.push_back(e.version.info.id);
  return ids;
}

using ids = std::vector<std::string>;

// "seq:id,..." of the records in one file (the database or its read trail), in seq order.
std::string seqs_in(const std::string& file) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT group_concat(seq || ':' || id) FROM (SELECT seq, id FROM audit_record ORDER BY seq)", -1, &st,
                             nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  std::string seqs = sqlite3_column_text(st, 0) ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : "";
  sqlite3_finalize(st);
  sqlite3_close(db);
  return seqs;
}

bool append_async(store::store& s, const fhir::json::value& e) {
  std::promise<bool> done;
  s.append_audit_async(store::make_audit_record(e), [&done](fhir::result<fhir::done> r) { done.set_value(r.ok()); });
  return done.get_future().get();
}

}  // namespace

TEST_CASE("audit records are appended, read, searched by every key and column, and verified", "[store][audit]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  REQUIRE(s->append_audit(store::make_audit_record(event("a1", "2026-01-01T10:00:00Z", "p1", "u1", "read", "0"))).ok());
  REQUIRE(s->append_audit(store::make_audit_record(event("a2", "2026-01-02T10:00:00Z", "p2", "u1", "search-type", "0"))).ok());
  // Group-committed records: the callback runs once each is durable.
  std::vector<std::future<bool>> committed;
  for (auto [id, day, patient, outcome] : {std::tuple{"a3", "03", "p1", "4"}, std::tuple{"a4", "04", "p2", "8"}}) {
    auto done = std::make_shared<std::promise<bool>>();
    committed.push_back(done->get_future());
    s->append_audit_async(store::make_audit_record(event(id, std::string("2026-01-") + day + "T10:00:00Z", patient, "u2", "read", outcome)),
                          [done](fhir::result<fhir::done> r) { done->set_value(r.ok()); });
  }
  for (auto& c : committed) CHECK(c.get());

  auto read = s->read("AuditEvent", "a3");
  REQUIRE(read.ok());
  CHECK(read->info.version == 1);
  CHECK(read->json.find(R"("id":"a3")") != std::string::npos);
  CHECK(s->read("AuditEvent", "nope").error().kind() == fhir::error_kind::not_found);
  CHECK(s->vread("AuditEvent", "a3", 1).ok());
  CHECK_FALSE(s->vread("AuditEvent", "a3", 2).ok());

  // Newest first unless sorted by date.
  CHECK(find(*s, {}) == ids{"a4", "a3", "a2", "a1"});
  CHECK(find(*s, {{"_sort", "date"}}) == ids{"a1", "a2", "a3", "a4"});
  CHECK(find(*s, {{"patient", "p1"}}) == ids{"a3", "a1"});
  CHECK(find(*s, {{"patient", "Patient/p2"}}) == ids{"a4", "a2"});
  CHECK(find(*s, {{"patient", "p1,p2"}, {"outcome", "4"}}) == ids{"a3"});
  CHECK(find(*s, {{"entity", "Observation/o-a2"}}) == ids{"a2"});
  CHECK(find(*s, {{"entity", "Patient/p1"}}) == ids{"a3", "a1"});
  CHECK(find(*s, {{"agent", "Practitioner/u2"}}) == ids{"a4", "a3"});
  CHECK(find(*s, {{"agent:identifier", "https://fhir.nhs.uk/Id/sds-user-id|u1"}}) == ids{"a2", "a1"});
  CHECK(find(*s, {{"agent:identifier", "https://fhir.nhs.uk/Id/ods-organization-code|RX1"}}).size() == 4);
  CHECK(find(*s, {{"date", "ge2026-01-02"}, {"date", "lt2026-01-04"}}) == ids{"a3", "a2"});
  CHECK(find(*s, {{"date", "2026-01-03"}}) == ids{"a3"});
  CHECK(find(*s, {{"_lastUpdated", "le2026-01-01"}}) == ids{"a1"});
  CHECK(find(*s, {{"subtype", "search-type"}}) == ids{"a2"});
  CHECK(find(*s, {{"subtype", "http://hl7.org/fhir/restful-interaction|read"}, {"patient", "p2"}}) == ids{"a4"});
  CHECK(find(*s, {{"subtype", "http://example.org/other|read"}}).empty());
  CHECK(find(*s, {{"outcome:not", "0"}}) == ids{"a4", "a3"});
  CHECK(find(*s, {{"_id", "a1,a4"}}) == ids{"a4", "a1"});
  CHECK(find(*s, {{"action", "R"}, {"type", "rest"}}).size() == 4);

  // Paging on the append order: later records never join; previous pages walk back.
  auto parsed = fhir::search::parse_query(parameters(), "AuditEvent", {});
  REQUIRE(parsed.ok());
  auto first = s->search(store::search_request{*parsed, 3, ""});
  REQUIRE(first.ok());
  CHECK(first->entries.size() == 3);
  REQUIRE_FALSE(first->next_token.empty());
  REQUIRE(s->append_audit(store::make_audit_record(event("a5", "2026-01-05T10:00:00Z", "p1", "u1", "read", "0"))).ok());
  auto second = s->search(store::search_request{*parsed, 3, first->next_token});
  REQUIRE(second.ok());
  REQUIRE(second->entries.size() == 1);
  CHECK(second->entries[0].version.info.id == "a1");
  REQUIRE_FALSE(second->previous_token.empty());
  auto back = s->search(store::search_request{*parsed, 3, second->previous_token});
  REQUIRE(back.ok());
  REQUIRE(back->entries.size() == 3);
  CHECK(back->entries[0].version.info.id == "a4");
  parsed->total = fhir::search::total_mode::accurate;
  CHECK(s->search(store::search_request{*parsed, 0, ""})->total == 5);

  // What the trail cannot answer is refused, never widened.
  for (auto query : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {{"site", "x"}}, {{"entity", "o-a2"}}, {{"agent:identifier", "u1"}}, {{"_sort", "outcome"}}, {{"_include", "AuditEvent:agent"}},
           {{"patient:missing", "true"}}}) {
    auto q = fhir::search::parse_query(parameters(), "AuditEvent", query);
    REQUIRE(q.ok());
    auto refused = s->search(store::search_request{*q, 10, ""});
    INFO(query.front().first);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().kind() == fhir::error_kind::invalid);
  }
  // AuditEvents are written by the trail only.
  CHECK_FALSE(s->create(event("x", "2026-01-01T00:00:00Z", "p1", "u1", "read", "0")).ok());

  auto check = s->verify_audit();
  REQUIRE(check.ok());
  CHECK(check->intact);
  CHECK(check->records == 5);
}

TEST_CASE("a schema 3 database's AuditEvents move into the trail with their hashes", "[store][audit]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  { open(path); }
  // Rebuild what schema 3 kept: AuditEvents as resources, linked by audit_chain.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  auto exec = [&](const std::string& sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    INFO(sql << ": " << (message ? message : ""));
    sqlite3_free(message);
    REQUIRE(rc == SQLITE_OK);
  };
  for (const char* table : {"audit_record", "audit_key", "quality_count", "read_trail_link", "ix_position", "reindex_pending", "contained_resource", "index_base"}) exec(std::string("DROP TABLE ") + table);
  exec("CREATE TABLE audit_chain (seq INTEGER PRIMARY KEY, vid INTEGER NOT NULL UNIQUE, hash BLOB NOT NULL)");
  unsigned char previous[32] = {};
  for (int seq = 1; seq <= 3; ++seq) {
    std::string id = "old" + std::to_string(seq);
    std::string body = fhir::json::serialize(event(id, "2025-06-0" + std::to_string(seq) + "T09:00:00Z", "p9", "u9", "read", "0"));
    exec("INSERT INTO resource(type_id, id, version, last_updated, deleted) SELECT type_id, '" + id +
         "', 1, 0, 0 FROM resource_type WHERE name = 'AuditEvent'");
    exec("INSERT INTO resource_version(pk, type_id, version, last_updated, deleted, verb, created, body) "
         "SELECT pk, type_id, 1, 0, 0, 0, 1, '" + body + "' FROM resource WHERE id = '" + id + "'");
    unsigned char seq_bytes[8] = {0, 0, 0, 0, 0, 0, 0, static_cast<unsigned char>(seq)};
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned int length = 0;
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx, previous, 32);
    EVP_DigestUpdate(ctx, seq_bytes, 8);
    EVP_DigestUpdate(ctx, body.data(), body.size());
    EVP_DigestFinal_ex(ctx, previous, &length);
    EVP_MD_CTX_free(ctx);
    std::string hex;
    for (unsigned char c : previous) hex += "0123456789abcdef"[c >> 4], hex += "0123456789abcdef"[c & 15];
    exec("INSERT INTO audit_chain(seq, vid, hash) SELECT " + std::to_string(seq) + ", max(vid), X'" + hex + "' FROM resource_version");
  }
  exec("PRAGMA user_version = 3");
  sqlite3_close(db);

  auto s = open(path);
  auto check = s->verify_audit();
  REQUIRE(check.ok());
  INFO(check->problem);
  CHECK(check->intact);
  CHECK(check->records == 3);
  CHECK(find(*s, {{"patient", "p9"}}) == ids{"old3", "old2", "old1"});
  auto read = s->read("AuditEvent", "old2");
  REQUIRE(read.ok());
  CHECK(read->json.find("2025-06-02T09:00:00") != std::string::npos);
  // Gone from the resource tables: no AuditEvent versions are left there.
  auto history = s->history(store::history_request{.count = 100});
  REQUIRE(history.ok());
  CHECK(history->entries.empty());
  // And the trail continues the chain.
  REQUIRE(s->append_audit(store::make_audit_record(event("new", "2026-01-01T00:00:00Z", "p9", "u9", "read", "0"))).ok());
  CHECK(s->verify_audit()->records == 4);
  CHECK(s->verify_audit()->intact);
}

TEST_CASE("records of requests that wrote nothing go to the read trail beside the database: one sequence, two chains, one backup",
          "[store][audit]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  auto appended_async = [](store::store& s, const std::string& id, const std::string& day) {
    return append_async(s, event(id, "2026-02-" + day + "T10:00:00Z", "p1", "u1", "read", "0"));
  };
  {
    auto s = open(path);
    // Interleaved: w = a write's record (database), r = a read's (read trail).
    REQUIRE(s->append_audit(store::make_audit_record(event("w1", "2026-02-01T10:00:00Z", "p1", "u1", "update", "0"))).ok());
    REQUIRE(appended_async(*s, "r2", "02"));
    REQUIRE(appended_async(*s, "r3", "03"));
    REQUIRE(s->append_audit(store::make_audit_record(event("w4", "2026-02-04T10:00:00Z", "p1", "u1", "update", "0"))).ok());
    REQUIRE(appended_async(*s, "r5", "05"));
  }
  // Each record is in one file, numbered in one sequence.
  CHECK(seqs_in(path) == "1:w1,4:w4");
  CHECK(seqs_in(path + "-read-audit") == "2:r2,3:r3,5:r5");

  // Reopened: the sequence continues after the highest of both files; reads, searches and history see both.
  auto s = open(path);
  REQUIRE(appended_async(*s, "r6", "06"));
  CHECK(seqs_in(path + "-read-audit") == "2:r2,3:r3,5:r5,6:r6");
  CHECK(s->read("AuditEvent", "w4").ok());
  CHECK(s->read("AuditEvent", "r5").ok());
  CHECK(find(*s, {{"patient", "p1"}}) == ids{"r6", "r5", "w4", "r3", "r2", "w1"});
  CHECK(find(*s, {{"patient", "p1"}, {"_sort", "date"}}, 4) == ids{"w1", "r2", "r3", "w4"});
  CHECK(find(*s, {{"subtype", "update"}}) == ids{"w4", "w1"});
  auto history = s->history(store::history_request{.type = "AuditEvent", .count = 4});
  REQUIRE(history.ok());
  ids in_history;
  for (const auto& v : history->entries) in_history.push_back(v.info.id);
  CHECK(in_history == ids{"r6", "r5", "w4", "r3"});
  auto rest = s->history(store::history_request{.type = "AuditEvent", .count = 4, .page_token = history->next_page_token});
  REQUIRE(rest.ok());
  REQUIRE(rest->entries.size() == 2);
  CHECK(rest->entries[1].info.id == "w1");
  auto check = s->verify_audit();
  REQUIRE(check.ok());
  CHECK(check->intact);
  CHECK(check->records == 6);
  CHECK(check->head != check->read_trail_head);

  // A backup copies both files; the copy verifies with every record.
  auto copied = store::backup_database(path, dir.file("copy.sqlite"));
  REQUIRE(copied.ok());
  CHECK(std::filesystem::exists(dir.file("copy.sqlite-read-audit")));
  CHECK(seqs_in(dir.file("copy.sqlite-read-audit")) == "2:r2,3:r3,5:r5,6:r6");
  auto copy = open(dir.file("copy.sqlite"));
  auto copy_check = copy->verify_audit();
  REQUIRE(copy_check.ok());
  CHECK(copy_check->intact);
  CHECK(copy_check->records == 6);
  CHECK(copy_check->read_trail_head == check->read_trail_head);
  // A backup interrupted after naming the trail (it is named first) leaves it alone: the next backup to
  // that name says so rather than overwrite it.
  std::filesystem::copy_file(dir.file("copy.sqlite-read-audit"), dir.file("again.sqlite-read-audit"));
  auto again = store::backup_database(path, dir.file("again.sqlite"));
  REQUIRE_FALSE(again.ok());
  CHECK_THAT(again.error().summary(), Catch::Contains("was interrupted"));
  CHECK_FALSE(std::filesystem::exists(dir.file("again.sqlite")));
}

TEST_CASE("the writer's memory of where the chains end is dropped by a rollback and by another connection's appends",
          "[store][audit]") {
  // store/sqlite/audit_log.hpp, audit_tail: the next seq and each file's last hash are kept in memory.
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  auto record = [](const std::string& id, const std::string& subtype) {
    return store::make_audit_record(event(id, "2026-04-01T10:00:00Z", "p1", "u1", subtype, "0"));
  };
  auto s = open(path);
  REQUIRE(s->append_audit(record("w1", "update")).ok());
  REQUIRE(append_async(*s, event("r2", "2026-04-01T10:00:00Z", "p1", "u1", "read", "0")));
  // A unit of work that appended a record and then failed: its record is rolled back with it, and the
  // next records neither skip its seq nor chain onto its hash.
  auto failed = s->transact([&](store::transaction& tx) -> fhir::result<fhir::done> {
    REQUIRE(tx.append_audit(record("w3", "update")).ok());
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, "the unit fails after its audit record", "test");
  });
  REQUIRE_FALSE(failed.ok());
  REQUIRE(s->append_audit(record("w4", "update")).ok());
  REQUIRE(append_async(*s, event("r5", "2026-04-01T10:00:00Z", "p1", "u1", "read", "0")));
  CHECK(seqs_in(path) == "1:w1,3:w4");
  CHECK(seqs_in(path + "-read-audit") == "2:r2,4:r5");
  // Another connection appends to both files (as another process would: an offline import); this
  // store's next records follow them in both.
  {
    auto other = open(path);
    REQUIRE(other->append_audit(record("w6", "update")).ok());
    REQUIRE(append_async(*other, event("r7", "2026-04-01T10:00:00Z", "p1", "u1", "read", "0")));
  }
  REQUIRE(s->append_audit(record("w8", "update")).ok());
  REQUIRE(append_async(*s, event("r9", "2026-04-01T10:00:00Z", "p1", "u1", "read", "0")));
  CHECK(seqs_in(path) == "1:w1,3:w4,5:w6,7:w8");
  CHECK(seqs_in(path + "-read-audit") == "2:r2,4:r5,6:r7,8:r9");
  // Another connection appends to the read trail only: this store's next record in the database still
  // follows it (one sequence across both files).
  {
    auto other = open(path);
    REQUIRE(append_async(*other, event("r10", "2026-04-01T10:00:00Z", "p1", "u1", "read", "0")));
  }
  REQUIRE(s->append_audit(record("w11", "update")).ok());
  CHECK(seqs_in(path) == "1:w1,3:w4,5:w6,7:w8,10:w11");
  // A transaction that fails as a whole (a read record whose id is taken fails the read trail's batch)
  // takes the batch's earlier records with it. The writer is held busy so the three share one batch.
  std::thread busy = fhir::testing::hold_writer(*s, std::chrono::milliseconds(200));
  std::vector<std::future<bool>> outcomes;
  for (const char* id : {"g12", "r2", "g13"}) {  // r2 is taken
    auto done = std::make_shared<std::promise<bool>>();
    outcomes.push_back(done->get_future());
    s->append_audit_async(store::make_audit_record(event(id, "2026-04-01T10:00:00Z", "p1", "u1", "read", "0")),
                          [done](fhir::result<fhir::done> r) { done->set_value(r.ok()); });
  }
  busy.join();
  for (auto& outcome : outcomes) CHECK_FALSE(outcome.get());
  REQUIRE(append_async(*s, event("r14", "2026-04-01T10:00:00Z", "p1", "u1", "read", "0")));
  CHECK(seqs_in(path + "-read-audit") == "2:r2,4:r5,6:r7,8:r9,9:r10,11:r14");
  auto check = s->verify_audit();
  REQUIRE(check.ok());
  INFO(check->problem);
  CHECK(check->intact);
  CHECK(check->records == 11);
  // Searches see every record: the committed-through bound comes from the same memory.
  CHECK(find(*s, {{"patient", "p1"}}) == ids{"r14", "w11", "r10", "r9", "w8", "r7", "w6", "r5", "w4", "r2", "w1"});
  // A unit that appended a record and failed behind another unit of its batch (so inside its own
  // savepoint, write_queue.hpp invariant 2): its record is rolled back with it, and the next unit of the
  // same transaction neither skips its seq nor chains onto its hash. The writer is held busy so the
  // three share one batch, queued in this order (most likely: they start 20 ms apart).
  std::thread hold = fhir::testing::hold_writer(*s, std::chrono::milliseconds(300));
  bool first_ok = false, second_failed = false, third_ok = false;
  std::thread first([&] { first_ok = s->append_audit(record("w15", "update")).ok(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::thread second([&] {
    auto failing = record("w16", "update");
    second_failed = !s->transact([&](store::transaction& tx) -> fhir::result<fhir::done> {
                         if (auto appended = tx.append_audit(failing); !appended) return std::move(appended).error();
                         return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, "fails after its audit record", "test");
                       }).ok();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::thread third([&] { third_ok = s->append_audit(record("w17", "update")).ok(); });
  for (std::thread* t : {&first, &second, &third, &hold}) t->join();
  CHECK(first_ok);
  CHECK(second_failed);
  CHECK(third_ok);
  CHECK(seqs_in(path) == "1:w1,3:w4,5:w6,7:w8,10:w11,12:w15,13:w17");
  auto after = s->verify_audit();
  REQUIRE(after.ok());
  INFO(after->problem);
  CHECK(after->intact);
  CHECK(after->records == 13);
}

TEST_CASE("under continuous commits the logs are checkpointed about once per threshold, not after every commit", "[store][audit][checkpoint]") {
  // store/sqlite/checkpointer.hpp: continuous commits (one record each, never idle) must be checkpointed
  // about once per threshold, not after every commit, copied back into the file, and the log restarted
  // once it holds 4 x threshold frames. A threshold of 250 frames: 2,500 commits of ~6 frames pass the
  // restart (1,000 frames) about 15 times.
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  constexpr int threshold = 250;
  auto opened = store::open_sqlite_store(
      store::sqlite_options{.path = path, .resource_types = types, .read_trail_checkpoint_frames = threshold});
  REQUIRE(opened.ok());
  auto s = std::move(*opened);
  constexpr int commits = 2500;
  for (int i = 0; i < commits; ++i) {
    std::promise<bool> done;
    s->append_audit_async(store::make_audit_record(event("c" + std::to_string(i), "2026-03-01T10:00:00Z", "p" + std::to_string(i % 300),
                                                         "u1", "read", "0")),
                          [&done](fhir::result<fhir::done> r) { done.set_value(r.ok()); });
    REQUIRE(done.get_future().get());
  }
  const auto frame = 4096 + 24;
  auto wal_frames = std::filesystem::file_size(path + "-read-audit-wal") / frame;
  INFO("read trail log: " << wal_frames << " frames");
  CHECK(std::filesystem::file_size(path + "-read-audit") > 100 * 4096);  // copied back into the file
  // The log restarted, several times: SQLite counts restarts in the log file's header (bytes 12-15,
  // big-endian, written with the first frame after each one). The file's size alone cannot say it on a
  // loaded machine: the log grows past 4 x threshold while a checkpoint's syncs run (commits go on), and
  // reached 5,528 frames in a CI run, against ~25,000 with restarts disabled.
  std::ifstream log_file(path + "-read-audit-wal", std::ios::binary);
  unsigned char header[16] = {};
  REQUIRE(log_file.read(reinterpret_cast<char*>(header), sizeof header));
  const std::uint32_t restarts = fhir::testing::be32(header + 12);
  INFO("log restarts: " << restarts);
  CHECK(restarts >= 3);
  CHECK(wal_frames < 40 * threshold);
  // About one checkpoint per threshold, more near the restart (one per eighth of a threshold from 3 x
  // threshold on): ~12 per 1,000 frames; one per commit would be ~2,500.
  auto figures = s->statistics();
  REQUIRE(figures.ok());
  INFO("checkpoints: " << figures->checkpoints);
  CHECK(figures->checkpoints >= 10);
  CHECK(figures->checkpoints <= 800);
  auto check = s->verify_audit();
  REQUIRE(check.ok());
  CHECK(check->intact);
  CHECK(check->records == commits);
}

TEST_CASE("a store whose read trail is missing or another database's does not open", "[store][audit]") {
  fhir::testing::temp_dir dir;
  const std::string a = dir.file("a.sqlite"), b = dir.file("b.sqlite");
  {
    auto first = open(a);
    auto second = open(b);
  }
  auto opened = [](const std::string& path) {
    return store::open_sqlite_store(store::sqlite_options{.path = path, .resource_types = types});
  };
  // Another database's trail in its place: refused, not adopted.
  std::filesystem::copy_file(a + "-read-audit", b + "-read-audit", std::filesystem::copy_options::overwrite_existing);
  auto other = opened(b);
  REQUIRE_FALSE(other.ok());
  CHECK_THAT(other.error().summary(), Catch::Contains("belongs to another database"));
  // No trail: refused, and no empty one is made in its place (it would verify as intact).
  std::filesystem::remove(a + "-read-audit");
  auto missing = opened(a);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().summary(), Catch::Contains("is missing"));
  CHECK_FALSE(std::filesystem::exists(a + "-read-audit"));
}

TEST_CASE("writes' and reads' records appended concurrently: one sequence, and every paged search sees a gapless prefix of it",
          "[store][audit]") {
  fhir::testing::temp_dir dir;
  const std::string path = dir.file("db.sqlite");
  auto s = open(path);
  std::atomic<bool> appending = true;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)  // records of writes: the database
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i)
        REQUIRE(s->append_audit(store::make_audit_record(
                                    event("w" + std::to_string(t) + "-" + std::to_string(i), "2026-04-01T10:00:00Z", "p1", "u1", "update", "0")))
                    .ok());
    });
  for (int t = 0; t < 4; ++t)  // records of reads: the read trail, in the same batches
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        std::promise<bool> done;
        s->append_audit_async(store::make_audit_record(event("r" + std::to_string(t) + "-" + std::to_string(i), "2026-04-01T10:00:00Z",
                                                             "p1", "u1", "read", "0")),
                              [&done](fhir::result<fhir::done> r) { done.set_value(r.ok()); });
        REQUIRE(done.get_future().get());
      }
    });
  // Paged walks while they append, newest first, 40 per page.
  auto walk = [&] {
    auto parsed = fhir::search::parse_query(parameters(), "AuditEvent", {{"patient", "p1"}});
    REQUIRE(parsed.ok());
    ids seen;
    std::string token;
    do {
      auto page = s->search(store::search_request{*parsed, 40, token});
      REQUIRE(page.ok());
      for (const auto& e : page->entries) seen.push_back(e.version.info.id);
      token = page->next_token;
    } while (!token.empty());
    return seen;
  };
  std::vector<ids> walks;
  std::thread walker([&] {
    while (appending) walks.push_back(walk());
  });
  for (auto& t : threads) t.join();
  appending = false;
  walker.join();
  walks.push_back(walk());

  // The truth, from both files: each record's seq, and no seq in both.
  std::map<std::string, std::int64_t> seq_of;
  for (const std::string& file : {path, path + "-read-audit"}) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT id, seq FROM audit_record", -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) seq_of[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  REQUIRE(seq_of.size() == 900);
  std::set<std::int64_t> seqs;
  for (const auto& [id, seq] : seq_of) seqs.insert(seq);
  CHECK(seqs.size() == 900);
  CHECK(*seqs.rbegin() == 900);  // 1..900: no seq twice, none lost
  // Each walk: the records 1..n of the sequence, each once, in order (a record its snapshot missed
  // below one it showed would be a gap).
  INFO(walks.size() << " walks");
  for (const ids& seen : walks) {
    std::int64_t expected = static_cast<std::int64_t>(seen.size());
    for (const std::string& id : seen) {
      REQUIRE(seq_of.contains(id));
      CHECK(seq_of[id] == expected--);
    }
  }
  CHECK(walks.back().size() == 900);
  auto check = s->verify_audit();
  REQUIRE(check.ok());
  CHECK(check->intact);
  CHECK(check->records == 900);
}
