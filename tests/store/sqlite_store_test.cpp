#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>

#include "fhir/json/parse.hpp"
#include "store/store.hpp"
#include "tests/store/hold_writer.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

const std::vector<std::string> types = {"Patient", "Observation", "Organization"};

std::unique_ptr<store::store> open(const std::string& path) {
  auto s = store::open_sqlite_store(store::sqlite_options{.path = path, .resource_types = types});
  INFO((s.ok() ? std::string() : s.error().summary()));
  REQUIRE(s.ok());
  return std::move(*s);
}

fhir::json::value patient(std::string_view id, std::string_view family) {
  std::string text = R"({"resourceType":"Patient",)";
  if (!id.empty()) text += R"("id":")" + std::string(id) + R"(",)";
  text += R"("name":[{"family":")" + std::string(family) + R"("}]})";
  auto v = fhir::json::parse(text);
  REQUIRE(v.ok());
  return std::move(*v);
}

fhir::json::value parse(std::string_view text) {
  auto v = fhir::json::parse(text);
  REQUIRE(v.ok());
  return std::move(*v);
}

std::string family_of(const std::string& json) {
  auto v = parse(json);
  return v.find("name")->as_array()[0].find("family")->as_string();
}

}  // namespace

TEST_CASE("create assigns a random id, version 1 and lastUpdated, and read returns it", "[store]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  auto created = s->create(patient("client-chosen", "Smith"));
  REQUIRE(created.ok());
  const auto& info = created->version.info;
  CHECK(created->created);
  CHECK(info.version == 1);
  CHECK(info.id != "client-chosen");  // a create ignores the id in the body
  // A version-4 UUID: 8-4-4-4-12 lowercase hex digits, version nibble 4, variant 8-b.
  REQUIRE(info.id.size() == 36);
  for (std::size_t i = 0; i < info.id.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    CHECK((dash ? info.id[i] == '-' : std::isxdigit(static_cast<unsigned char>(info.id[i])) && !std::isupper(static_cast<unsigned char>(info.id[i]))));
  }
  CHECK(info.id[14] == '4');
  CHECK(std::string_view("89ab").find(info.id[19]) != std::string_view::npos);

  auto read = s->read("Patient", info.id);
  REQUIRE(read.ok());
  auto body = parse(read->json);
  CHECK(body.find("id")->as_string() == info.id);
  CHECK(body.find("meta")->find("versionId")->as_string() == "1");
  CHECK(body.find("meta")->find("lastUpdated")->as_string() == fhir::format_instant(info.last_updated));
  CHECK(read->json == created->version.json);
}

TEST_CASE("server-assigned ids are distinct and not sequential", "[store]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.insert(s->create(patient("", "X"))->version.info.id);
  CHECK(ids.size() == 200);
}

TEST_CASE("update adds versions, vread returns each, and update of an unknown id creates it", "[store]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  auto first = s->update(patient("p1", "One"), {});
  REQUIRE(first.ok());
  CHECK(first->created);
  CHECK(first->version.info.version == 1);
  auto second = s->update(patient("p1", "Two"), {});
  REQUIRE(second.ok());
  CHECK_FALSE(second->created);
  CHECK(second->version.info.version == 2);
  CHECK(second->version.info.last_updated >= first->version.info.last_updated);

  CHECK(family_of(s->read("Patient", "p1")->json) == "Two");
  CHECK(family_of(s->vread("Patient", "p1", 1)->json) == "One");
  CHECK(family_of(s->vread("Patient", "p1", 2)->json) == "Two");
  CHECK(s->vread("Patient", "p1", 3).error().kind() == fhir::error_kind::not_found);
  CHECK(s->read("Patient", "p2").error().kind() == fhir::error_kind::not_found);
  CHECK(s->read("Observation", "p1").error().kind() == fhir::error_kind::not_found);
  CHECK(s->read("Basic", "p1").error().kind() == fhir::error_kind::not_found);
}

TEST_CASE("If-Match is checked atomically with the write", "[store]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  REQUIRE(s->update(patient("p1", "One"), {}).ok());
  auto stale = s->update(patient("p1", "Two"), store::preconditions{.if_match = 7});
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().kind() == fhir::error_kind::precondition_failed);
  CHECK(family_of(s->read("Patient", "p1")->json) == "One");
  CHECK(s->update(patient("p1", "Two"), store::preconditions{.if_match = 1}).ok());
  auto absent = s->update(patient("p9", "X"), store::preconditions{.if_match = 1});
  CHECK(absent.error().kind() == fhir::error_kind::precondition_failed);
  CHECK(s->read("Patient", "p9").error().kind() == fhir::error_kind::not_found);
  CHECK(s->remove("Patient", "p1", store::preconditions{.if_match = 1}).error().kind() ==
        fhir::error_kind::precondition_failed);
}

TEST_CASE("delete makes a deletion version, read is then gone, and update brings it back", "[store]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  REQUIRE(s->update(patient("p1", "One"), {}).ok());
  auto deleted = s->remove("Patient", "p1", {});
  REQUIRE(deleted.ok());
  REQUIRE(deleted->has_value());
  CHECK((*deleted)->info.version == 2);
  CHECK((*deleted)->info.deleted);
  CHECK(s->read("Patient", "p1").error().kind() == fhir::error_kind::gone);
  CHECK(s->vread("Patient", "p1", 2).error().kind() == fhir::error_kind::gone);
  CHECK(s->vread("Patient", "p1", 1).ok());

  auto again = s->remove("Patient", "p1", {});
  REQUIRE(again.ok());
  CHECK_FALSE(again->has_value());
  auto unknown = s->remove("Patient", "nobody", {});
  REQUIRE(unknown.ok());
  CHECK_FALSE(unknown->has_value());

  auto back = s->update(patient("p1", "Back"), {});
  REQUIRE(back.ok());
  CHECK(back->created);
  CHECK(back->version.info.version == 3);
  CHECK(family_of(s->read("Patient", "p1")->json) == "Back");
}

TEST_CASE("history is newest first, paged by token, and filtered by _since", "[store]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  for (int i = 1; i <= 5; ++i) REQUIRE(s->update(patient("p1", "V" + std::to_string(i)), {}).ok());
  REQUIRE(s->update(patient("p2", "Other"), {}).ok());
  REQUIRE(s->remove("Patient", "p2", {})->has_value());
  REQUIRE(s->update(parse(R"({"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"}})"), {}).ok());

  auto page1 = s->history(store::history_request{.type = "Patient", .id = "p1", .count = 2});
  REQUIRE(page1.ok());
  REQUIRE(page1->entries.size() == 2);
  CHECK(page1->entries[0].info.version == 5);
  CHECK(page1->entries[1].info.version == 4);
  CHECK(page1->total == 5);
  REQUIRE_FALSE(page1->next_page_token.empty());

  // A write after the first page does not shift the later pages.
  REQUIRE(s->update(patient("p1", "V6"), {}).ok());
  auto page2 = s->history(store::history_request{.type = "Patient", .id = "p1", .count = 2, .page_token = page1->next_page_token});
  REQUIRE(page2.ok());
  REQUIRE(page2->entries.size() == 2);
  CHECK(page2->entries[0].info.version == 3);
  CHECK(page2->entries[1].info.version == 2);
  auto page3 = s->history(store::history_request{.type = "Patient", .id = "p1", .count = 2, .page_token = page2->next_page_token});
  REQUIRE(page3->entries.size() == 1);
  CHECK(page3->entries[0].info.version == 1);
  CHECK(page3->next_page_token.empty());

  auto type_history = s->history(store::history_request{.type = "Patient", .count = 100});
  REQUIRE(type_history.ok());
  CHECK(type_history->entries.size() == 8);  // p1: 6 versions, p2: created and deleted
  CHECK(type_history->entries[0].info.id == "p1");
  CHECK(type_history->entries[1].info.deleted);
  CHECK(type_history->entries[1].json.empty());
  for (std::size_t i = 1; i < type_history->entries.size(); ++i)
    CHECK(type_history->entries[i - 1].info.last_updated >= type_history->entries[i].info.last_updated);

  auto system = s->history(store::history_request{.count = 100});
  REQUIRE(system.ok());
  CHECK(system->entries.size() == 9);
  CHECK(system->entries[1].info.type == "Observation");

  fhir::epoch_ms newest = system->entries[0].info.last_updated;
  auto since = s->history(store::history_request{.since = newest, .count = 100});
  REQUIRE(since.ok());
  CHECK_FALSE(since->entries.empty());
  for (const auto& e : since->entries) CHECK(e.info.last_updated >= newest);
  auto future = s->history(store::history_request{.since = newest + 60'000, .count = 100});
  CHECK(future->entries.empty());

  CHECK(s->history(store::history_request{.type = "Patient", .id = "nope"}).error().kind() == fhir::error_kind::not_found);
  CHECK(s->history(store::history_request{.page_token = "x1"}).error().kind() == fhir::error_kind::invalid);
}

TEST_CASE("data survives closing and reopening, and the schema is versioned", "[store]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  {
    auto s = open(path);
    REQUIRE(s->update(patient("p1", "Kept"), {}).ok());
  }
  {
    auto s = open(path);
    CHECK(family_of(s->read("Patient", "p1")->json) == "Kept");
    CHECK(s->update(patient("p1", "Again"), {})->version.info.version == 2);
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == 10);
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal");
  sqlite3_finalize(st);
  sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(db);

  auto newer = store::open_sqlite_store(store::sqlite_options{.path = path, .resource_types = types});
  REQUIRE_FALSE(newer.ok());
  CHECK_THAT(newer.error().summary(), Catch::Contains("newer"));
}

TEST_CASE("concurrent readers and writers never see a locked database", "[store][concurrency]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  REQUIRE(s->update(patient("shared", "Start"), {}).ok());
  std::atomic<int> failures = 0, writes = 0, reads = 0;
  std::vector<std::thread> threads;
  for (int w = 0; w < 8; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 50; ++i) {
        auto r = (i % 2) ? s->create(patient("", "W" + std::to_string(w)))
                         : s->update(patient("p" + std::to_string(w), "I" + std::to_string(i)), {});
        if (!r.ok()) ++failures;
        else ++writes;
      }
    });
  }
  for (int r = 0; r < 8; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!s->read("Patient", "shared").ok()) ++failures;
        else ++reads;
        if (!s->history(store::history_request{.type = "Patient", .count = 10}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(writes == 400);
  CHECK(reads == 1600);
  for (int w = 0; w < 8; ++w) CHECK(s->read("Patient", "p" + std::to_string(w))->info.version == 25);
}

TEST_CASE("a failing write in a batch is rolled back alone", "[store][concurrency]") {
  // Stale If-Match updates fail inside the same group-commit batches as valid writes: each failure must
  // be rolled back alone (to its savepoint, or with its transaction when first), leaving the valid
  // writes of the batch committed.
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  REQUIRE(s->update(patient("target", "V1"), {}).ok());
  std::atomic<int> stale_refused = 0, created = 0, other = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        if (t % 2 == 0) {
          auto r = s->update(patient("target", "stale"), store::preconditions{.if_match = 999});
          if (!r.ok() && r.error().kind() == fhir::error_kind::precondition_failed) ++stale_refused;
          else ++other;
        } else if (s->create(patient("", "N" + std::to_string(t))).ok()) {
          ++created;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(stale_refused == 240);
  CHECK(created == 240);
  CHECK(other == 0);
  auto target = s->read("Patient", "target");
  CHECK(target->info.version == 1);
  CHECK(family_of(target->json) == "V1");
  CHECK(s->history(store::history_request{.type = "Patient", .count = 1000})->entries.size() == 241);
}

TEST_CASE("a unit that wrote and then failed leaves nothing, first in its batch or not", "[store][concurrency]") {
  // store/sqlite/write_queue.hpp, invariant 2: the first job of a transaction runs without a savepoint
  // and a failure rolls the whole transaction back, which then runs again without it; the others have
  // savepoints. The writer is held busy so that the units below share batches; whichever order they
  // are queued in, the failed units' writes must be gone and every other unit's stored.
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  enum class ending { commits, fails, throws };
  auto unit = [&](std::string id, ending end) {
    auto prepared = s->prepare(patient(id, "Written"));  // off the writer: a failed REQUIRE there would terminate
    return s->transact([&, id, end](store::transaction& tx) -> fhir::result<fhir::done> {
      if (auto written = tx.update(std::move(prepared), {}); !written) return std::move(written).error();
      if (end == ending::throws) throw std::runtime_error("thrown after writing");
      if (end == ending::fails) return fhir::error(fhir::error_kind::conflict, fhir::issue_type::conflict, "fails after writing", "test");
      return fhir::done{};
    });
  };
  for (int round = 0; round < 2; ++round) {
    std::thread busy = fhir::testing::hold_writer(*s, std::chrono::milliseconds(300));
    // Round 0: failing and throwing units first and in the middle; round 1: every unit fails.
    std::vector<std::pair<std::string, ending>> units = {
        {"f1", ending::fails}, {"t2", ending::throws}, {"ok3", ending::commits}, {"f4", ending::fails}, {"ok5", ending::commits}};
    if (round == 1) units = {{"t6", ending::throws}, {"f7", ending::fails}, {"f8", ending::fails}};
    std::vector<std::thread> writers;
    std::vector<int> outcomes(units.size(), -1);
    for (std::size_t i = 0; i < units.size(); ++i) {
      writers.emplace_back([&, i] { outcomes[i] = unit(units[i].first, units[i].second).ok() ? 1 : 0; });
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // queued in this order, most likely
    }
    for (auto& w : writers) w.join();
    busy.join();
    for (std::size_t i = 0; i < units.size(); ++i) {
      INFO(units[i].first);
      const bool commits = units[i].second == ending::commits;
      CHECK(outcomes[i] == (commits ? 1 : 0));
      CHECK(s->read("Patient", units[i].first).ok() == commits);
    }
  }
  CHECK(s->history(store::history_request{.type = "Patient", .count = 100})->entries.size() == 2);
  // The writer goes on after batches whose every unit failed.
  REQUIRE(s->update(patient("after", "Written"), {}).ok());
}

TEST_CASE("If-Match: * requires a current version", "[store]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  store::preconditions any{.if_match = store::preconditions::any_version};
  CHECK(s->update(patient("p1", "X"), any).error().kind() == fhir::error_kind::precondition_failed);
  REQUIRE(s->update(patient("p1", "X"), {}).ok());
  CHECK(s->update(patient("p1", "Y"), any).ok());
  REQUIRE(s->remove("Patient", "p1", {})->has_value());
  CHECK(s->update(patient("p1", "Z"), any).error().kind() == fhir::error_kind::precondition_failed);
  CHECK(s->remove("Patient", "p1", any).error().kind() == fhir::error_kind::precondition_failed);
}

TEST_CASE("versions record whether they created the resource", "[store]") {
  fhir::testing::temp_dir dir;
  auto s = open(dir.file("db.sqlite"));
  REQUIRE(s->update(patient("p1", "A"), {}).ok());
  REQUIRE(s->update(patient("p1", "B"), {}).ok());
  REQUIRE(s->remove("Patient", "p1", {})->has_value());
  REQUIRE(s->update(patient("p1", "C"), {}).ok());
  auto h = s->history(store::history_request{.type = "Patient", .id = "p1"});
  REQUIRE(h->entries.size() == 4);
  CHECK(h->entries[0].info.created);   // re-created after the deletion
  CHECK_FALSE(h->entries[1].info.created);
  CHECK_FALSE(h->entries[2].info.created);
  CHECK(h->entries[3].info.created);
}

TEST_CASE("data-quality counts add up by key, keep their first example and survive reopening", "[store][quality]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("db.sqlite");
  auto count = [](std::string org, std::int64_t day, std::string metric, std::int64_t n, std::string example, fhir::epoch_ms seen) {
    return store::quality_count{.day = day, .organization = std::move(org), .type = "Patient", .metric = std::move(metric), .key = "",
                                .count = n, .example = std::move(example), .last_seen = seen};
  };
  {
    auto s = open(path);
    REQUIRE(s->add_quality({count("GP1", 100, "accepted", 2, "Patient/a", 10), count("RX2", 100, "accepted", 1, "Patient/x", 11)}).ok());
    REQUIRE(s->add_quality({count("GP1", 100, "accepted", 3, "Patient/b", 30), count("GP1", 101, "rejected", 1, "Patient/c", 40)}).ok());
  }
  auto s = open(path);
  auto gp1 = s->quality_counts({.organization = "GP1"});
  REQUIRE(gp1.ok());
  REQUIRE(gp1->size() == 2);
  CHECK((*gp1)[0].metric == "accepted");
  CHECK((*gp1)[0].count == 5);
  CHECK((*gp1)[0].example == "Patient/a");
  CHECK((*gp1)[0].last_seen == 30);
  CHECK((*gp1)[1].day == 101);
  CHECK(s->quality_counts({})->size() == 3);
  CHECK(s->quality_counts({.since_day = 101})->size() == 1);
  CHECK(s->quality_counts({.type = "Observation"})->empty());
}
