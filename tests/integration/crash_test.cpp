// An acknowledged write survives kill -9 of the server: the store commits (WAL), and syncs the log,
// before the response is sent. So does the audit record of every answered read.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "fhir/json/parse.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fhir::testing;

namespace {

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

// A version the server acknowledged (2xx), and a string only that version's content holds.
struct acknowledged {
  std::string reference;  // "Observation/abc"
  int version;
  std::string marker;
};

// The writes of all writers of all rounds. A transaction is "sent" before it is written to the socket.
struct ledger {
  std::mutex m;
  std::vector<acknowledged> acks;
  std::vector<std::string> transactions_sent;
  std::set<std::string> transactions_acknowledged;
  std::size_t creates = 0, updates = 0, transactions = 0;
};

constexpr std::string_view transaction_system = "http://crash.test/transaction";
constexpr int observations_per_transaction = 3;

// A transaction that creates a Patient and three Observations referring to it (urn:uuid references),
// each carrying `marker` as an identifier, and updates the writer's own transaction Patient: all of it
// or none of it must be stored.
std::string transaction_bundle(const std::string& marker, const std::string& own) {
  std::string identifier = R"({"system":")" + std::string(transaction_system) + R"(","value":")" + marker + R"("})";
  std::string entries = R"({"fullUrl":"urn:uuid:6f1c2a9e-0000-4000-8000-000000000001","resource":{"resourceType":"Patient",)"
                        R"("identifier":[)" + identifier + R"(]},"request":{"method":"POST","url":"Patient"}})";
  for (int k = 0; k < observations_per_transaction; ++k)
    entries += R"(,{"resource":{"resourceType":"Observation","status":"final","identifier":[)" + identifier +
               R"(],"code":{"text":")" + marker + "-" + std::to_string(k) +
               R"("},"subject":{"reference":"urn:uuid:6f1c2a9e-0000-4000-8000-000000000001"}},"request":{"method":"POST","url":"Observation"}})";
  entries += R"(,{"resource":{"resourceType":"Patient","id":")" + own + R"(","name":[{"given":[")" + marker +
             R"("]}]},"request":{"method":"PUT","url":"Patient/)" + own + R"("}})";
  return R"({"resourceType":"Bundle","type":"transaction","entry":[)" + entries + "]}";
}

// "Observation/abc/_history/2" -> {"Observation/abc", 2}
std::optional<std::pair<std::string, int>> parse_location(std::string_view location) {
  std::size_t history = location.find("/_history/");
  if (history == std::string_view::npos) return std::nullopt;
  return std::pair{std::string(location.substr(0, history)), std::stoi(std::string(location.substr(history + 10)))};
}

// Creates, updates and transactions as fast as the server answers, until the connection fails (the
// kill). Records every write answered with 2xx, and every transaction sent.
void writer(std::uint16_t port, const std::string& name, ledger& book) {
  try {
    http_connection c(port, 10000);
    std::string own = "upd-" + name, own_tx = "txp-" + name;
    for (int i = 0;; ++i) {
      std::string marker = name + "-" + std::to_string(i);
      int kind = i % 4;  // 0, 1: create; 2: update; 3: transaction
      if (kind == 3) {
        {
          std::lock_guard lock(book.m);
          book.transactions_sent.push_back(marker);
        }
        http_reply r = c.request("POST", "/fhir", transaction_bundle(marker, own_tx));
        if (r.status != 200) continue;
        auto response = fhir::json::parse(r.body);
        if (!response) continue;
        std::vector<acknowledged> written;
        for (const auto& entry : response->find("entry")->as_array())
          if (auto location = parse_location(*entry.find("response")->find_string("location")))
            written.push_back({location->first, location->second, marker});
        std::lock_guard lock(book.m);
        book.acks.insert(book.acks.end(), written.begin(), written.end());
        book.transactions_acknowledged.insert(marker);
        ++book.transactions;
        continue;
      }
      http_reply r = kind == 2 ? c.request("PUT", "/fhir/Patient/" + own,
                                           R"({"resourceType":"Patient","id":")" + own + R"(","name":[{"given":[")" + marker + R"("]}]})")
                               : c.request("POST", "/fhir/Observation",
                                           R"({"resourceType":"Observation","status":"final","code":{"text":")" + marker + R"("}})");
      if (r.status != 200 && r.status != 201) continue;
      auto body = fhir::json::parse(r.body);
      if (!body) continue;
      std::lock_guard lock(book.m);
      book.acks.push_back({std::string(kind == 2 ? "Patient/" : "Observation/") + *body->find_string("id"),
                           std::stoi(*body->find("meta")->find_string("versionId")), marker});
      ++(kind == 2 ? book.updates : book.creates);
    }
  } catch (const std::exception&) {
    // The server was killed: the connection failed mid-request, which is expected.
  }
}

// How many resources of `type` carry the transaction's marker.
std::size_t stored_with_marker(http_connection& c, std::string_view type, const std::string& marker) {
  http_reply r = c.request("GET", "/fhir/" + std::string(type) + "?identifier=" + std::string(transaction_system) + "%7C" + marker +
                                      "&_count=100");
  REQUIRE(r.status == 200);
  auto bundle = fhir::json::parse(r.body);
  REQUIRE(bundle.ok());
  const fhir::json::value* entries = bundle->find("entry");
  return entries ? entries->as_array().size() : 0;
}

}  // namespace

TEST_CASE("acknowledged writes survive kill -9 and no transaction is half-applied", "[integration][crash]") {
  temp_dir dir;
  std::string db = dir.file("db.sqlite");
  std::mt19937 random(std::random_device{}());
  ledger book;
  constexpr int kills = 20, writers_per_round = 6;

  for (int round = 0; round < kills; ++round) {
    server_process server(db);
    std::vector<std::thread> writers;
    for (int w = 0; w < writers_per_round; ++w)
      writers.emplace_back(writer, server.port(), "r" + std::to_string(round) + "w" + std::to_string(w), std::ref(book));
    // A random moment: creates, updates and transactions are in flight on every connection.
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + random() % 500));
    server.kill();
    for (auto& t : writers) t.join();
    INFO("after kill " << round + 1);
    REQUIRE(integrity_check(db) == "ok");
  }

  INFO(book.creates << " creates, " << book.updates << " updates, " << book.transactions << " transactions acknowledged; "
                    << book.transactions_sent.size() << " transactions sent");
  REQUIRE(book.creates > 20);
  REQUIRE(book.updates > 20);
  REQUIRE(book.transactions > 5);

  server_process server(db);
  REQUIRE(integrity_check(db) == "ok");
  // Every acknowledged version is readable, with the content that was acknowledged.
  std::atomic<std::size_t> checked = 0;
  std::vector<std::string> lost;
  {
    std::vector<std::thread> checkers;
    for (int t = 0; t < 4; ++t)
      checkers.emplace_back([&, t] {
        http_connection c(server.port());
        for (std::size_t i = static_cast<std::size_t>(t); i < book.acks.size(); i += 4) {
          const acknowledged& a = book.acks[i];
          http_reply r = c.request("GET", "/fhir/" + a.reference + "/_history/" + std::to_string(a.version));
          ++checked;
          if (r.status != 200 || r.body.find("\"" + a.marker) == std::string::npos) {
            std::lock_guard lock(book.m);  // Catch2's macros are not thread-safe: report after the join
            lost.push_back(a.reference + " version " + std::to_string(a.version) + " -> " + std::to_string(r.status));
          }
        }
      });
    for (auto& t : checkers) t.join();
  }
  for (const std::string& l : lost) UNSCOPED_INFO("lost: " << l);
  INFO(checked.load() << " acknowledged versions checked");
  CHECK(lost.empty());

  // Every transaction is stored whole or not at all; an acknowledged one whole. Its update of the
  // writer's transaction Patient counts too: the markers every version of those Patients carries.
  http_connection c(server.port());
  std::set<std::string> updated_by_transactions;
  for (int round = 0; round < kills; ++round)
    for (int w = 0; w < writers_per_round; ++w) {
      http_reply history = c.request("GET", "/fhir/Patient/txp-r" + std::to_string(round) + "w" + std::to_string(w) + "/_history?_count=1000");
      if (history.status != 200) continue;  // no transaction of that writer committed
      auto bundle = fhir::json::parse(history.body);
      REQUIRE(bundle.ok());
      if (const fhir::json::value* entries = bundle->find("entry"))
        for (const auto& entry : entries->as_array())
          if (const fhir::json::value* resource = entry.find("resource"))
            if (const fhir::json::value* names = resource->find("name"))
              updated_by_transactions.insert(names->as_array()[0].find("given")->as_array()[0].as_string());
    }
  std::size_t half_applied = 0, unacknowledged_stored = 0;
  for (const std::string& marker : book.transactions_sent) {
    std::size_t patients = stored_with_marker(c, "Patient", marker);
    std::size_t observations = stored_with_marker(c, "Observation", marker);
    bool updated = updated_by_transactions.contains(marker);
    bool whole = patients == 1 && observations == observations_per_transaction && updated;
    bool none = patients == 0 && observations == 0 && !updated;
    bool acknowledged = book.transactions_acknowledged.contains(marker);
    if (!(whole || none) || (acknowledged && !whole)) {
      ++half_applied;
      UNSCOPED_INFO("transaction " << marker << ": " << patients << " patients, " << observations << " observations stored, update "
                                   << (updated ? "applied" : "not applied") << (acknowledged ? " (acknowledged)" : ""));
    }
    if (!acknowledged && whole) ++unacknowledged_stored;  // committed, then killed before the answer: allowed
  }
  INFO(book.transactions_sent.size() << " transactions checked, " << unacknowledged_stored
                                     << " committed without an answer");
  CHECK(half_applied == 0);
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
  // Reads' records are in the read trail beside the database (store/sqlite/read_trail.hpp).
  temp_dir dir;
  std::string db = dir.file("db.sqlite");
  std::string read_trail = db + "-read-audit";
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
  REQUIRE(integrity_check(read_trail) == "ok");
  REQUIRE(answered.size() > 50);
  std::set<std::string> recorded;
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(read_trail.c_str(), &handle) == SQLITE_OK);
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
