// ingest-bench: how fast feeds can load the record through transaction Bundles, next to the physical
// limit of the same bytes. Builds transactions of 100 entries (1 Patient + 99 Observations,
// MedicationStatements and AllergyIntolerances whose subject/patient is the Patient's urn:uuid fullUrl)
// from the synthetic records of bench/generate_records.py, then alternately, round by round:
//   - posts them to the application in-process (routing, parsing, validation against R4 + UK Core,
//     id assignment and reference rewriting, search indexing, durable commit) from T threads;
//   - inserts the same resources' JSON bytes into a bare SQLite table, one transaction per Bundle, with
//     the store's settings (WAL, synchronous=FULL): the raw insert rate.
// Prints resources/s (median of the rounds) for both and their ratio, and the process's peak RSS.
//
//   ingest-bench --data DIR [--bundles N] [--rounds R] [--threads T]
//   (DIR: the output of generate_records.py generate; defaults: 100 bundles, 3 rounds, 2 threads)
//   ingest-bench --data DIR --one-transaction N
//   (the entries of N bundles as ONE transaction: its size, time and the peak RSS it adds)

#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "profiles/definition_set.hpp"
#include "server/application.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

std::vector<fhir::json::value> read_ndjson(const std::filesystem::path& file, std::size_t limit) {
  std::vector<fhir::json::value> out;
  std::ifstream in(file);
  std::string line;
  while (out.size() < limit && std::getline(in, line)) {
    auto v = fhir::json::parse(line);
    if (!v) {
      std::cerr << file << ": " << v.error().summary() << "\n";
      std::exit(1);
    }
    out.push_back(std::move(*v));
  }
  if (out.empty()) {
    std::cerr << "ingest-bench: no resources in " << file << " (run bench/generate_records.py generate)\n";
    std::exit(2);
  }
  return out;
}

struct bundle_text {
  std::string json;                     // the transaction Bundle
  std::vector<std::string> resources;   // each entry's resource, for the raw insert
};

// Bundle b: Patient b and the next 99 clinical resources (about 7 Observations to 2 MedicationStatements
// to 1 AllergyIntolerance, as the generated records have), re-pointed at the Patient's urn:uuid.
std::vector<bundle_text> build_bundles(const std::filesystem::path& dir, std::size_t count) {
  auto patients = read_ndjson(dir / "Patient.ndjson", count);
  auto observations = read_ndjson(dir / "Observation.ndjson", count * 70);
  auto medications = read_ndjson(dir / "MedicationStatement.ndjson", count * 20);
  auto allergies = read_ndjson(dir / "AllergyIntolerance.ndjson", count * 9);
  std::size_t next_obs = 0, next_med = 0, next_allergy = 0;
  std::vector<bundle_text> out;
  for (std::size_t b = 0; b < count; ++b) {
    bundle_text bundle;
    std::string patient_url = "urn:uuid:" + std::to_string(100000000 + b) + "-0000-4000-8000-000000000000";
    fhir::json::array entries;
    auto add = [&](fhir::json::value resource, std::string full_url) {
      resource.erase("id");
      bundle.resources.push_back(fhir::json::serialize(resource));
      std::string type = *resource.find_string("resourceType");
      fhir::json::value entry = fhir::json::object{};
      entry.set("fullUrl", fhir::json::value(full_url));
      entry.set("resource", std::move(resource));
      fhir::json::value request = fhir::json::object{};
      request.set("method", fhir::json::value("POST"));
      request.set("url", fhir::json::value(type));
      entry.set("request", std::move(request));
      entries.push_back(std::move(entry));
    };
    add(patients[b % patients.size()], patient_url);
    for (int i = 0; i < 99; ++i) {
      int slot = i % 10;
      fhir::json::value r = slot < 7   ? observations[next_obs++ % observations.size()]
                            : slot < 9 ? medications[next_med++ % medications.size()]
                                       : allergies[next_allergy++ % allergies.size()];
      for (const char* key : {"subject", "patient"})
        if (fhir::json::value* ref = r.find(key); ref && ref->is_object()) ref->set("reference", fhir::json::value(patient_url));
      add(std::move(r), "urn:uuid:" + std::to_string(100000000 + b) + "-0000-4000-8000-" + std::to_string(100000000000 + i));
    }
    fhir::json::value json = fhir::json::object{};
    json.set("resourceType", fhir::json::value("Bundle"));
    json.set("type", fhir::json::value("transaction"));
    json.set("entry", fhir::json::value(std::move(entries)));
    bundle.json = fhir::json::serialize(json);
    out.push_back(std::move(bundle));
  }
  return out;
}

std::filesystem::path fresh_dir(const char* name) {
  auto dir = std::filesystem::temp_directory_path() / (std::string(name) + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The application as fhir-server runs it (R4 + UK Core, UK Core default profiles), on a database in `dir`.
std::unique_ptr<server::application> open_app(const std::filesystem::path& dir) {
  fhir::validation::validation_options validation{.default_profiles = fhir::profiles::server_default_profiles()};
  auto app = server::application::open(
      fhir::profiles::r4_uk_core(),
      server::application_options{.database_path = (dir / "bench.db").string(), .base_url = "http://bench/fhir", .validation = validation,
                                  .auth = {.mode = server::auth::auth_mode::dev}});
  if (!app) {
    std::cerr << app.error().summary() << "\n";
    std::exit(1);
  }
  return std::move(*app);
}

double ingest_rate(const std::vector<bundle_text>& bundles, int threads) {
  auto dir = fresh_dir("ingest-bench-app");
  double rate = 0;
  {
    auto app = open_app(dir);
    std::atomic<std::size_t> next{0};
    std::size_t resources = 0;
    for (const auto& b : bundles) resources += b.resources.size();
    auto start = clock_type::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&] {
        for (std::size_t i; (i = next++) < bundles.size();) {
          server::http::request request{.method = "POST", .target = "/fhir",
                                        .headers = {{"Content-Type", "application/fhir+json"}, {"Prefer", "return=minimal"}},
                                        .body = bundles[i].json, .remote_address = "127.0.0.1"};
          auto response = app->handle(request);
          if (response.status != 200) {
            std::cerr << "transaction failed: " << response.status << " " << response.body.substr(0, 2000) << "\n";
            std::exit(1);
          }
        }
      });
    for (auto& w : workers) w.join();
    rate = resources / std::chrono::duration<double>(clock_type::now() - start).count();
  }
  std::filesystem::remove_all(dir);
  return rate;
}

void exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::cerr << "sqlite: " << (message ? message : "?") << "\n";
    std::exit(1);
  }
}

double raw_rate(const std::vector<bundle_text>& bundles) {
  auto dir = fresh_dir("ingest-bench-raw");
  sqlite3* db = nullptr;
  sqlite3_open((dir / "raw.db").string().c_str(), &db);
  exec(db, "PRAGMA journal_mode = WAL");
  exec(db, "PRAGMA synchronous = FULL");
  exec(db, "CREATE TABLE resource (pk INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO resource(body) VALUES (?1)", -1, &insert, nullptr);
  std::size_t resources = 0;
  auto start = clock_type::now();
  for (const auto& b : bundles) {
    exec(db, "BEGIN");
    for (const std::string& r : b.resources) {
      sqlite3_bind_text(insert, 1, r.data(), static_cast<int>(r.size()), SQLITE_STATIC);
      sqlite3_step(insert);
      sqlite3_reset(insert);
      ++resources;
    }
    exec(db, "COMMIT");
  }
  double rate = resources / std::chrono::duration<double>(clock_type::now() - start).count();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  std::filesystem::remove_all(dir);
  return rate;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

double current_rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024.0) / 1024.0;
}

// One transaction made of the entries of `count` 100-entry bundles: how long it takes and how much
// memory beyond the request itself the server needs for it.
int run_one_transaction(const std::filesystem::path& data, std::size_t count) {
  std::string body;
  std::size_t resources = 0;
  {
    auto bundles = build_bundles(data, count);
    body = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
    for (std::size_t b = 0; b < bundles.size(); ++b) {
      std::string_view json = bundles[b].json;
      std::size_t start = json.find("\"entry\":[") + 9;
      if (b) body += ',';
      body.append(json.substr(start, json.size() - start - 2));
      resources += bundles[b].resources.size();
    }
    body += "]}";
  }
  auto dir = fresh_dir("ingest-bench-one");
  auto app = open_app(dir);
  server::http::request request{.method = "POST", .target = "/fhir",
                                .headers = {{"Content-Type", "application/fhir+json"}, {"Prefer", "return=minimal"}},
                                .body = std::move(body), .remote_address = "127.0.0.1"};
  double before = current_rss_mb();
  auto start = clock_type::now();
  auto response = app->handle(request);
  double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  if (response.status != 200) {
    std::cerr << "transaction failed: " << response.status << " " << response.body.substr(0, 2000) << "\n";
    return 1;
  }
  std::printf("one transaction of %zu entries, %.1f MB: %.1f s (%.0f resources/s); RSS %.0f MB before, peak %.0f MB "
              "(+%.0f MB, %.1fx the request)\n",
              resources, request.body.size() / 1e6, seconds, resources / seconds, before, peak_rss_mb(),
              peak_rss_mb() - before, (peak_rss_mb() - before) / (request.body.size() / 1e6));
  app.reset();
  std::filesystem::remove_all(dir);
  return 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string data;
  std::size_t count = 100;
  int rounds = 3, threads = 2;
  std::size_t one_transaction = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data" && i + 1 < argc) data = argv[++i];
    else if (a == "--bundles" && i + 1 < argc) count = static_cast<std::size_t>(std::atol(argv[++i]));
    else if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--one-transaction" && i + 1 < argc) one_transaction = static_cast<std::size_t>(std::atol(argv[++i]));
    else {
      std::cerr << "usage: ingest-bench --data DIR [--bundles N] [--rounds R] [--threads T]\n";
      return 2;
    }
  }
  if (data.empty()) {
    std::cerr << "usage: ingest-bench --data DIR [--bundles N] [--rounds R] [--threads T]\n";
    return 2;
  }
  if (one_transaction > 0) return run_one_transaction(data, one_transaction);
  auto bundles = build_bundles(data, count);
  std::size_t bytes = 0;
  for (const auto& b : bundles) bytes += b.json.size();
  std::printf("%zu transaction Bundles of 100 entries, %.1f MB in all; %d client threads\n", bundles.size(), bytes / 1e6, threads);
  std::vector<double> ingest, raw;
  for (int r = 0; r < rounds; ++r) {
    ingest.push_back(ingest_rate(bundles, threads));
    raw.push_back(raw_rate(bundles));
    std::printf("  round %d: transactions %.0f resources/s, raw SQLite %.0f resources/s\n", r + 1, ingest.back(), raw.back());
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double a = median(ingest), b = median(raw);
  std::printf("median: transactions %.0f resources/s, raw SQLite inserts %.0f resources/s (%.1f%%); peak RSS %.0f MB\n", a, b,
              100 * a / b, usage.ru_maxrss / 1024.0);
  return 0;
}
