// An acknowledged write survives kill -9 of the server: the store commits (synchronous=FULL, WAL)
// before the response is sent.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <atomic>
#include <mutex>
#include <random>
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
