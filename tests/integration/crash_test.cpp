// An acknowledged write survives kill -9 of the server: the store commits (synchronous=FULL, WAL)
// before the response is sent. So does the audit record of every answered read.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "fhir/json/parse.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fhir::testing;

namespace {

struct acknowledged {
  std::string id;
  int version;
};

std::string integrity_check(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
  std::string out = sqlite3_step(st) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : "no answer";
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// Writes as fast as it can until the connection fails, recording every write answered with 2xx.
void writer(std::uint16_t port, int worker, std::atomic<bool>& stop, std::mutex& m, std::vector<acknowledged>& acks) {
  try {
    http_connection c(port, 10000);
    std::string own = "w" + std::to_string(worker);
    for (int i = 0; !stop; ++i) {
      http_reply r = (i % 2 == 0)
                         ? c.request("POST", "/fhir/Observation",
                                     R"({"resourceType":"Observation","status":"final","code":{"text":"n)" + std::to_string(i) + R"("}})")
                         : c.request("PUT", "/fhir/Patient/" + own,
                                     R"({"resourceType":"Patient","id":")" + own + R"(","birthDate":"2000-01-01"})");
      if (r.status != 200 && r.status != 201) continue;
      auto body = fhir::json::parse(r.body);
      if (!body) continue;
      std::lock_guard lock(m);
      acks.push_back({std::string(i % 2 == 0 ? "Observation/" : "Patient/") + *body->find_string("id"),
                      std::stoi(*body->find("meta")->find_string("versionId"))});
    }
  } catch (const std::exception&) {
    // The server was killed: the connection failed mid-request, which is expected.
  }
}

}  // namespace

TEST_CASE("every acknowledged write is readable after kill -9", "[integration][crash]") {
  temp_dir dir;
  std::string db = dir.file("db.sqlite");
  std::mt19937 random(std::random_device{}());
  std::vector<acknowledged> acks;
  std::mutex m;

  for (int round = 0; round < 3; ++round) {
    server_process server(db);
    std::atomic<bool> stop = false;
    std::vector<std::thread> writers;
    for (int w = 0; w < 8; ++w) writers.emplace_back(writer, server.port(), w, std::ref(stop), std::ref(m), std::ref(acks));
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + random() % 600));
    server.kill();
    stop = true;
    for (auto& t : writers) t.join();
    REQUIRE(integrity_check(db) == "ok");
  }

  REQUIRE(acks.size() > 50);
  server_process server(db);
  http_connection c(server.port());
  std::size_t missing = 0;
  for (const auto& a : acks) {
    auto r = c.request("GET", "/fhir/" + a.id + "/_history/" + std::to_string(a.version));
    if (r.status != 200) {
      ++missing;
      UNSCOPED_INFO("lost: " << a.id << " version " << a.version << " -> " << r.status);
    }
  }
  INFO(acks.size() << " acknowledged writes checked");
  CHECK(missing == 0);
}

namespace {

// Reads until the connection fails, recording the X-Request-Id of every read answered.
void reader(std::uint16_t port, int worker, std::atomic<bool>& stop, std::mutex& m, std::vector<std::string>& answered) {
  try {
    http_connection c(port, 10000);
    for (int i = 0; !stop; ++i) {
      std::string id = "r" + std::to_string(worker) + "-" + std::to_string(i);
      http_reply r = c.request("GET", "/fhir/Patient/p" + std::to_string(i % 5), {}, {{"X-Request-Id", id}});
      if (r.status != 200) continue;
      std::lock_guard lock(m);
      answered.push_back(id);
    }
  } catch (const std::exception&) {
    // killed mid-request
  }
}

}  // namespace

TEST_CASE("every answered read's audit record is in the trail after kill -9", "[integration][crash][audit]") {
  // A read's record commits before its answer without waiting for the disk (write_queue.hpp,
  // invariant 3): the log's frames must be in the file, not in a buffer of this process, when it answers.
  temp_dir dir;
  std::string db = dir.file("db.sqlite");
  std::mt19937 random(std::random_device{}());
  std::vector<std::string> answered;
  std::mutex m;
  {
    server_process server(db);
    http_connection c(server.port());
    for (int p = 0; p < 5; ++p)
      REQUIRE(c.request("PUT", "/fhir/Patient/p" + std::to_string(p), R"({"resourceType":"Patient","id":"p)" + std::to_string(p) + R"("})")
                  .status == 201);
    std::atomic<bool> stop = false;
    std::vector<std::thread> readers;
    for (int w = 0; w < 8; ++w) readers.emplace_back(reader, server.port(), w, std::ref(stop), std::ref(m), std::ref(answered));
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + random() % 500));
    server.kill();
    stop = true;
    for (auto& t : readers) t.join();
  }
  REQUIRE(integrity_check(db) == "ok");
  REQUIRE(answered.size() > 50);
  std::set<std::string> recorded;
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(handle, "SELECT json_extract(body, '$.r') FROM audit_record", -1, &st, nullptr) == SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW)
    if (const unsigned char* id = sqlite3_column_text(st, 0)) recorded.insert(reinterpret_cast<const char*>(id));
  sqlite3_finalize(st);
  sqlite3_close(handle);
  std::size_t missing = 0;
  for (const std::string& id : answered)
    if (!recorded.contains(id)) {
      ++missing;
      UNSCOPED_INFO("no audit record for answered read " << id);
    }
  INFO(answered.size() << " answered reads checked against " << recorded.size() << " records");
  CHECK(missing == 0);
}
