// Running the server (issue 10, operations): liveness and readiness probes, Prometheus metrics, and an
// online backup taken while the server writes, restored by starting a server on it.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "fhir/json/parse.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fhir::testing;

namespace {

const header_list fhir_json = {{"Content-Type", "application/fhir+json"}};

std::string patient(const std::string& family) {
  return R"({"resourceType":"Patient","name":[{"family":")" + family + R"("}],"gender":"female","birthDate":"1980-01-01"})";
}

// The value of the sample `line_start` ("name{labels}") in a metrics text; -1 when absent.
double sample(const std::string& text, const std::string& line_start) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with(line_start + " ")) return std::stod(line.substr(line_start.size() + 1));
  return -1;
}

}  // namespace

TEST_CASE("health, readiness and Prometheus metrics", "[integration][operations]") {
  temp_dir dir;
  server_process server(dir.file("db.sqlite"));
  http_connection c(server.port());

  http_reply health = c.request("GET", "/health");
  CHECK(health.status == 200);
  CHECK(health.body == R"({"status":"pass"})");
  CHECK(c.request("GET", "/ready").status == 200);
  CHECK(c.request("HEAD", "/ready").status == 200);
  http_reply post = c.request("POST", "/metrics", "x");
  CHECK(post.status == 405);
  CHECK(post.header("Allow") == "GET, HEAD");

  http_reply created = c.request("POST", "/fhir/Patient", patient("Metrics"), fhir_json);
  REQUIRE(created.status == 201);
  std::string id = *fhir::json::parse(created.body)->find_string("id");
  for (int i = 0; i < 3; ++i) REQUIRE(c.request("GET", "/fhir/Patient/" + id).status == 200);
  REQUIRE(c.request("GET", "/fhir/Patient/missing").status == 404);
  REQUIRE(c.request("GET", "/fhir/Patient?family=Metrics").status == 200);
  REQUIRE(c.request("POST", "/fhir/Patient", R"({"resourceType":"Patient","gender":"unknown-gender"})", fhir_json).status == 422);

  http_reply metrics = c.request("GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = metrics.body;
  INFO(text);
  CHECK(sample(text, R"(fhir_requests_total{interaction="create",status="201"})") == 1);
  CHECK(sample(text, R"(fhir_requests_total{interaction="read",status="200"})") == 3);
  CHECK(sample(text, R"(fhir_requests_total{interaction="read",status="404"})") == 1);
  CHECK(sample(text, R"(fhir_requests_total{interaction="search-type",status="200"})") == 1);
  CHECK(sample(text, R"(fhir_request_duration_seconds_count{interaction="read"})") == 4);
  CHECK(sample(text, R"(fhir_request_duration_seconds_bucket{interaction="read",le="+Inf"})") == 4);
  CHECK(sample(text, R"(fhir_request_duration_seconds_bucket{interaction="read",le="10"})") == 4);
  // The development user acts for organisation DEV (docs/authentication.md).
  CHECK(sample(text, R"(fhir_writes_total{organization="DEV",type="Patient"})") == 1);
  // Validation issues by organisation, type, severity and message id: the warning kept with the write
  // (no narrative, dom-6) and the error that refused the other.
  CHECK(text.find("\nfhir_validation_issues_total{organization=\"DEV\",type=\"Patient\",severity=\"warning\",message_id=") != std::string::npos);
  CHECK(text.find("\nfhir_validation_issues_total{organization=\"DEV\",type=\"Patient\",severity=\"error\",message_id=") != std::string::npos);
  CHECK(sample(text, "fhir_sqlite_database_bytes") > 0);
  CHECK(sample(text, "fhir_sqlite_wal_bytes") >= 0);
  CHECK(sample(text, "fhir_sqlite_page_cache_bytes") > 0);
  CHECK(sample(text, "fhir_sqlite_memory_bytes") > 0);  // counted by our allocator: SQLite's own count is off
  CHECK(sample(text, "fhir_break_glass_sessions_open") == 0);
  CHECK(sample(text, "process_resident_memory_bytes") > 1e6);
  CHECK(sample(text, "process_open_fds") > 3);
  // Probes and metrics are not requests of the FHIR API: neither counted nor audited.
  CHECK(text.find("interaction=\"none\"") == std::string::npos);

  // Every line is a comment or a sample in the text format, and every family is declared once.
  std::regex sample_line(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+(Inf)?$)");
  std::istringstream lines(text);
  std::size_t samples = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    INFO(line);
    CHECK(std::regex_match(line, sample_line));
    ++samples;
  }
  CHECK(samples > 20);
  CHECK(server.stop() == 0);
}

TEST_CASE("an online backup taken during writes is consistent and restores by starting a server on it",
          "[integration][operations][backup]") {
  temp_dir dir;
  std::string db = dir.file("db.sqlite"), copy = dir.file("backup.sqlite");
  server_process server(db);
  std::vector<std::string> before;
  {
    http_connection c(server.port());
    for (int i = 0; i < 50; ++i) {
      http_reply r = c.request("POST", "/fhir/Patient", patient("Before" + std::to_string(i)), fhir_json);
      REQUIRE(r.status == 201);
      before.push_back(*fhir::json::parse(r.body)->find_string("id"));
    }
  }
  // Writers keep writing while the backup runs.
  std::atomic<bool> stop = false;
  std::atomic<int> written_during = 0;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      http_connection c(server.port());
      for (int i = 0; !stop; ++i)
        if (c.request("POST", "/fhir/Patient", patient("During" + std::to_string(w) + "x" + std::to_string(i)), fhir_json).status == 201)
          ++written_during;
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  run_result backup = run_server_command({"backup", "--db", db, "--to", copy});
  stop = true;
  for (auto& t : writers) t.join();
  INFO(backup.output);
  REQUIRE(backup.status == 0);
  CHECK(backup.output.find("integrity check ok") != std::string::npos);
  CHECK(written_during > 0);
  for (const char* leftover : {".partial", ".partial-wal", ".partial-shm", ".partial-journal", "-wal", "-shm"})
    for (const std::string& file : {copy, copy + "-read-audit"})  // the database and its read trail, one file each
      CHECK_FALSE(std::filesystem::exists(file + leftover));
  CHECK(std::filesystem::exists(copy + "-read-audit"));

  // A backup never overwrites, and a missing source is an error.
  run_result again = run_server_command({"backup", "--db", db, "--to", copy});
  CHECK(again.status != 0);
  CHECK(again.output.find("exists") != std::string::npos);
  CHECK(run_server_command({"backup", "--db", dir.file("missing.sqlite"), "--to", dir.file("x.sqlite")}).status != 0);
  CHECK(run_server_command({"backup", "--db", db}).status != 0);  // --to is required
  CHECK(server.stop() == 0);

  // Restore: a server started on the copy has everything written before the backup began, and its
  // audit trail's hash chain is intact.
  run_result verified = run_server_command({"audit", "verify", "--db", copy});
  INFO(verified.output);
  CHECK(verified.status == 0);
  server_process restored(copy);
  http_connection c(restored.port());
  for (const std::string& id : before) CHECK(c.request("GET", "/fhir/Patient/" + id).status == 200);
  CHECK(c.request("POST", "/fhir/Patient", patient("AfterRestore"), fhir_json).status == 201);
  CHECK(restored.stop() == 0);
}

TEST_CASE("--log-format json writes one JSON object per line, requests with their request id", "[integration][operations][logging]") {
  temp_dir dir;
  server_process server(dir.file("db.sqlite"), {"--log-level", "debug", "--log-format", "json"});
  http_connection c(server.port());
  REQUIRE(c.request("GET", "/fhir/Patient/nobody", {}, {{"X-Request-Id", "ops-log-1"}}).status == 404);
  REQUIRE(c.request("POST", "/fhir/Patient", patient("Logged"), fhir_json).status == 201);
  CHECK(server.stop() == 0);

  std::istringstream lines(server.log());
  std::size_t objects = 0;
  bool found_request = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    INFO(line);
    auto event = fhir::json::parse(line);
    REQUIRE(event.ok());  // every line, whatever it says, is one JSON object
    REQUIRE(event->is_object());
    CHECK(event->find_string("time"));
    CHECK(event->find_string("level"));
    CHECK(event->find_string("message"));
    ++objects;
    const std::string* id = event->find_string("request_id");
    if (id && *id == "ops-log-1") {
      found_request = true;
      CHECK(*event->find_string("message") == "request");
      CHECK(*event->find_string("level") == "debug");
      CHECK(*event->find_string("status") == "404");
      CHECK(*event->find_string("method") == "GET");
      CHECK(*event->find_string("target") == "/fhir/Patient/nobody");
    }
  }
  CHECK(objects >= 3);
  CHECK(found_request);
}

namespace {

std::string patient_line(const std::string& id) {
  return R"({"resourceType":"Patient","id":")" + id + R"(","name":[{"family":"Imported"}],"gender":"male","birthDate":"1990-02-03"})";
}

std::size_t count_of(http_connection& c, const std::string& search) {
  http_reply r = c.request("GET", "/fhir/" + search + (search.find('?') == std::string::npos ? "?" : "&") + "_summary=count");
  REQUIRE(r.status == 200);
  return static_cast<std::size_t>(std::stoll(fhir::json::parse(r.body)->find("total")->as_number().text));
}

}  // namespace

TEST_CASE("fhir-server import loads NDJSON in batches, names bad lines, is idempotent and resumes", "[integration][operations][import]") {
  temp_dir dir;
  std::string db = dir.file("db.sqlite"), file = dir.file("patients.ndjson");
  {
    std::ofstream out(file);
    for (int i = 1; i <= 250; ++i) {
      if (i == 10) out << "{not json\n";                                                             // line 10
      else if (i == 20) out << R"({"resourceType":"Patient","id":"bad20","gender":"sometimes"})" << "\n";  // line 20
      else if (i == 30) out << R"({"resourceType":"Patient","name":[{"family":"NoId"}]})" << "\n";         // line 30
      else if (i == 40) out << "   \n";                                                               // blank: skipped
      else out << patient_line("imp" + std::to_string(i)) << "\n";
    }
  }
  run_result first = run_server_command({"import", "--db", db, "--batch", "50", file});
  INFO(first.output);
  CHECK(first.status == 1);  // some lines were rejected
  CHECK(first.output.find("246 created, 0 updated, 0 unchanged, 3 rejected") != std::string::npos);
  CHECK(first.output.find(file + ":10: ") != std::string::npos);
  CHECK(first.output.find(file + ":20: Patient.gender") != std::string::npos);
  CHECK(first.output.find(file + ":30: a Patient without an id") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(file + ".import-progress"));  // removed once the file is done

  // Again: nothing changes (updates with the same content write no version).
  run_result again = run_server_command({"import", "--db", db, file});
  INFO(again.output);
  CHECK(again.output.find("0 created, 0 updated, 246 unchanged, 3 rejected") != std::string::npos);

  // Resuming: progress saved after line 100 (as a killed import leaves it) skips what was committed.
  std::string second = dir.file("more.ndjson");
  std::uintmax_t offset_after_100 = 0;
  {
    std::ofstream out(second);
    for (int i = 1; i <= 200; ++i) {
      out << (i == 150 ? std::string("[]") : patient_line("more" + std::to_string(i))) << "\n";
      if (i == 100) offset_after_100 = static_cast<std::uintmax_t>(out.tellp());
    }
  }
  auto write_progress = [&](std::uintmax_t size) {
    std::ofstream progress(second + ".import-progress");
    // offset, line, lines rejected so far, and the file's size and modification time when saved
    progress << offset_after_100 << " 100 2 " << size << " "
             << std::filesystem::last_write_time(second).time_since_epoch().count() << "\n";
  };
  // A file that changed since the progress was saved is not resumed (it would start mid-line).
  write_progress(std::filesystem::file_size(second) + 1);
  run_result refused = run_server_command({"import", "--db", db, second});
  CHECK(refused.status != 0);
  CHECK(refused.output.find("changed since its import was interrupted") != std::string::npos);
  write_progress(std::filesystem::file_size(second));
  run_result resumed = run_server_command({"import", "--db", db, second});
  INFO(resumed.output);
  CHECK(resumed.status == 1);  // the lines rejected before the interruption still count
  CHECK(resumed.output.find("99 created, 0 updated, 0 unchanged, 3 rejected (1 files resumed; 2 lines rejected before)") !=
        std::string::npos);
  CHECK(resumed.output.find(second + ":150: ") != std::string::npos);  // line numbers count from the file's start
  CHECK(run_server_command({"import", "--db", db, dir.file("missing.ndjson")}).status != 0);
  CHECK(run_server_command({"import", "--db", db}).status != 0);  // no input

  // --organization: the data controller recorded on every resource; a line naming another controller,
  // and another controller's stored resource, are refused.
  std::string owned = dir.file("owned.ndjson");
  {
    std::ofstream out(owned);
    out << patient_line("own1") << "\n"
        << R"({"resourceType":"Patient","id":"own2","meta":{"tag":[{"system":"https://shared-care-record.github.io/fhir/CodeSystem/data-controller","code":"ORG9"}]}})"
        << "\n";
  }
  CHECK(run_server_command({"import", "--db", db, "--organization", "not an ods code", owned}).status != 0);
  run_result by_gp = run_server_command({"import", "--db", db, "--organization", "GP1", owned});
  INFO(by_gp.output);
  CHECK(by_gp.output.find("1 created, 0 updated, 0 unchanged, 1 rejected") != std::string::npos);
  CHECK(by_gp.output.find(owned + ":2: Patient.meta.tag: The resource names ORG9 as its data controller, but it is sent by GP1") !=
        std::string::npos);
  run_result takeover = run_server_command({"import", "--db", db, "--organization", "ORG2", owned});
  INFO(takeover.output);
  CHECK(takeover.output.find("0 created, 0 updated, 0 unchanged, 2 rejected") != std::string::npos);
  CHECK(takeover.output.find(owned + ":1: ") != std::string::npos);  // own1 is GP1's

  server_process server(db);
  http_connection c(server.port());
  CHECK(count_of(c, "Patient?family=Imported") == 246 + 99 + 1);  // and own1
  CHECK(c.request("GET", "/fhir/Patient/imp1").status == 200);
  CHECK(c.request("GET", "/fhir/Patient/imp1/_history/2").status == 404);  // the second import wrote no version
  CHECK(c.request("GET", "/fhir/Patient/more100").status == 404);          // before the saved progress: not read
  CHECK(c.request("GET", "/fhir/Patient/more101").status == 200);
  http_reply own1 = c.request("GET", "/fhir/Patient/own1");
  CHECK(own1.body.find(R"("code":"GP1")") != std::string::npos);
  CHECK(own1.body.find(R"("versionId":"1")") != std::string::npos);
  CHECK(server.stop() == 0);
}

TEST_CASE("a bulk export over HTTP: files are streamed from disk, and a restart forgets its jobs", "[integration][operations]") {
  temp_dir dir;
  std::string database = dir.file("db.sqlite");
  std::string export_dir = database + ".exports";
  std::string status_path;
  {
    server_process server(database);
    http_connection c(server.port());
    constexpr int patients = 120;
    for (int i = 0; i < patients; ++i) REQUIRE(c.request("POST", "/fhir/Patient", patient("Export" + std::to_string(i)), fhir_json).status == 201);

    http_reply kicked = c.request("GET", "/fhir/$export?_type=Patient", {}, {{"Prefer", "respond-async"}, {"Accept", "application/fhir+json"}});
    REQUIRE(kicked.status == 202);
    std::string location = kicked.header("Content-Location");
    status_path = location.substr(location.find("/fhir/"));
    http_reply status;
    for (int polls = 0; polls < 1500; ++polls) {
      status = c.request("GET", status_path);
      if (status.status != 202) break;
      CHECK(!status.header("X-Progress").empty());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(status.status == 200);
    auto manifest = fhir::json::parse(status.body);
    REQUIRE(manifest.ok());
    const auto& output = manifest->find("output")->as_array();
    REQUIRE(output.size() == 1);
    std::string url = *output[0].find_string("url");
    std::string file_path = url.substr(url.find("/fhir/"));

    http_reply file = c.request("GET", file_path);
    REQUIRE(file.status == 200);
    CHECK(file.header("Content-Type") == "application/fhir+ndjson");
    CHECK(file.header("Content-Length") == std::to_string(file.body.size()));
    std::istringstream lines(file.body);
    int count = 0;
    for (std::string line; std::getline(lines, line); ++count) REQUIRE(fhir::json::parse(line).ok());
    CHECK(count == patients);
    http_reply head = c.request("HEAD", file_path);
    CHECK(head.status == 200);
    CHECK(head.header("Content-Length") == std::to_string(file.body.size()));
    // The connection is still usable after a file response.
    CHECK(c.request("GET", "/fhir/metadata").status == 200);
    REQUIRE(std::distance(std::filesystem::directory_iterator(export_dir), std::filesystem::directory_iterator()) == 1);
  }
  // A new run forgets earlier jobs and removes their files.
  server_process restarted(database);
  http_connection c(restarted.port());
  CHECK(c.request("GET", status_path).status == 404);
  CHECK(std::distance(std::filesystem::directory_iterator(export_dir), std::filesystem::directory_iterator()) == 0);
}
