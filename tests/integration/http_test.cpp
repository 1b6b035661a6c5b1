// The real fhir-server binary over real HTTP.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "fhir/json/parse.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fhir::testing;

namespace {
fhir::json::value json(const http_reply& r) {
  auto v = fhir::json::parse(r.body);
  INFO(r.body);
  REQUIRE(v.ok());
  return std::move(*v);
}
}  // namespace

TEST_CASE("CRUD, vread and history over one keep-alive connection", "[integration][http]") {
  temp_dir dir;
  server_process server(dir.file("db.sqlite"));
  http_connection c(server.port());

  auto metadata = c.request("GET", "/fhir/metadata");
  CHECK(metadata.status == 200);
  CHECK(metadata.header("Content-Type") == "application/fhir+json; charset=utf-8");

  auto created = c.request("POST", "/fhir/Patient", R"({"resourceType":"Patient","name":[{"family":"Jones"}]})");
  REQUIRE(created.status == 201);
  std::string location = created.header("Location");
  std::string id = *json(created).find_string("id");
  CHECK(location == server.base_url() + "/Patient/" + id + "/_history/1");

  auto updated = c.request("PUT", "/fhir/Patient/" + id,
                           R"({"resourceType":"Patient","id":")" + id + R"(","name":[{"family":"Smith"}]})",
                           {{"If-Match", "W/\"1\""}});
  CHECK(updated.status == 200);
  CHECK(updated.header("ETag") == "W/\"2\"");
  CHECK(c.request("GET", "/fhir/Patient/" + id + "/_history/1").status == 200);
  CHECK(c.request("DELETE", "/fhir/Patient/" + id).status == 200);
  CHECK(c.request("GET", "/fhir/Patient/" + id).status == 410);
  auto history = json(c.request("GET", "/fhir/Patient/" + id + "/_history"));
  CHECK(history.find("entry")->as_array().size() == 3);
  for (int i = 0; i < 100; ++i) REQUIRE(c.request("GET", "/fhir/metadata").status == 200);
  CHECK(server.stop() == 0);
}

TEST_CASE("HEAD answers the headers of GET without a body", "[integration][http]") {
  temp_dir dir;
  server_process server(dir.file("db.sqlite"));
  http_connection c(server.port());
  auto get = c.request("GET", "/fhir/metadata");
  auto head = c.request("HEAD", "/fhir/metadata");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.header("Content-Length") == std::to_string(get.body.size()));
  CHECK(c.request("GET", "/fhir/metadata").status == 200);  // the connection is still in sync
}

TEST_CASE("an error after a HEAD on the same connection still has its body", "[integration][http]") {
  temp_dir dir;
  server_process server(dir.file("db.sqlite"), {"--max-body", "1K"});
  http_connection c(server.port(), 5000);
  CHECK(c.request("HEAD", "/fhir/metadata").status == 200);
  c.send_raw("POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
             "Content-Length: 5000\r\n\r\n");
  auto reply = c.read_reply();
  REQUIRE(reply);
  CHECK(reply->status == 413);
  CHECK_FALSE(reply->body.empty());
  CHECK(json(*reply).find_string("resourceType") != nullptr);
}

TEST_CASE("after a 413 the server drains the rest of the body instead of resetting", "[integration][http][limits]") {
  // Closing with unread request bytes makes the kernel reset the connection, which can destroy the
  // response before a client that is still sending reads it. The server must instead stop sending, read
  // and discard for a while, then close: a client still sending its body sees no reset.
  temp_dir dir;
  server_process server(dir.file("db.sqlite"), {"--max-body", "1K"});
  http_connection c(server.port(), 5000);
  c.send_raw("POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
             "Content-Length: 10485760\r\n\r\n" + std::string(64 * 1024, ' '));
  auto reply = c.read_reply();
  REQUIRE(reply);
  CHECK(reply->status == 413);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_NOTHROW(c.send_raw(std::string(64 * 1024, ' ')));  // no reset while the server drains
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_NOTHROW(c.send_raw(std::string(64 * 1024, ' ')));
  CHECK(c.closed_within(5000));  // and then it closes
}

TEST_CASE("a body over the limit is refused with 413 before it is sent", "[integration][http][limits]") {
  temp_dir dir;
  server_process server(dir.file("db.sqlite"), {"--max-body", "1K"});
  http_connection c(server.port(), 5000);
  c.send_raw("POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
             "Content-Length: 104857600\r\n\r\n");
  auto reply = c.read_reply();
  REQUIRE(reply);
  CHECK(reply->status == 413);
  CHECK(json(*reply).find_string("resourceType") != nullptr);
  CHECK(c.closed_within(5000));

  http_connection chunked(server.port(), 5000);
  std::string chunk(600, 'x');
  chunked.send_raw("POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n258\r\n" + chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n");
  auto chunked_reply = chunked.read_reply();
  REQUIRE(chunked_reply);
  CHECK(chunked_reply->status == 413);
  // The server is still serving others.
  CHECK(http_request(server.port(), "GET", "/fhir/metadata").status == 200);
}

TEST_CASE("malformed requests get 400 and oversized headers 431", "[integration][http][limits]") {
  temp_dir dir;
  server_process server(dir.file("db.sqlite"));
  {
    http_connection c(server.port(), 5000);
    c.send_raw("GARBAGE\r\n\r\n");
    auto reply = c.read_reply();
    REQUIRE(reply);
    CHECK(reply->status == 400);
  }
  {
    http_connection c(server.port(), 5000);
    c.send_raw("GET /fhir/metadata HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100000, 'a') + "\r\n\r\n");
    auto reply = c.read_reply();
    REQUIRE(reply);
    CHECK(reply->status == 431);
  }
  {
    http_connection c(server.port(), 5000);
    c.send_raw("GET /fhir/Patient/" + std::string(200000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
    auto reply = c.read_reply();
    REQUIRE(reply);
    CHECK(reply->status == 431);
  }
  CHECK(http_request(server.port(), "GET", "/fhir/metadata").status == 200);
}

TEST_CASE("Expect: 100-continue is honoured", "[integration][http]") {
  temp_dir dir;
  server_process server(dir.file("db.sqlite"));
  http_connection c(server.port(), 5000);
  std::string body = R"({"resourceType":"Patient","active":true})";
  c.send_raw("POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\nExpect: 100-continue\r\n"
             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  c.send_raw(body);
  auto reply = c.read_reply();  // the interim 100 is skipped by the client
  REQUIRE(reply);
  CHECK(reply->status == 201);
}

TEST_CASE("SIGTERM stops the server cleanly and the data is there after a restart", "[integration][lifecycle]") {
  temp_dir dir;
  std::string db = dir.file("db.sqlite");
  {
    server_process server(db);
    REQUIRE(http_request(server.port(), "PUT", "/fhir/Patient/kept", R"({"resourceType":"Patient","id":"kept"})").status == 201);
    CHECK(server.stop() == 0);
    CHECK_THAT(server.log(), Catch::Contains("stopped"));
  }
  server_process again(db);
  CHECK(http_request(again.port(), "GET", "/fhir/Patient/kept").status == 200);
}

TEST_CASE("SIGTERM during concurrent writes: every answered write is kept and the exit is clean", "[integration][lifecycle]") {
  temp_dir dir;
  std::string db = dir.file("db.sqlite");
  std::vector<std::string> acknowledged;
  std::mutex m;
  {
    server_process server(db);
    std::atomic<bool> stop = false;
    std::vector<std::thread> writers;
    for (int w = 0; w < 8; ++w)
      writers.emplace_back([&, w] {
        try {
          http_connection c(server.port(), 10000);
          for (int i = 0; !stop; ++i) {
            std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
            auto r = c.request("PUT", "/fhir/Patient/" + id, R"({"resourceType":"Patient","id":")" + id + R"("})");
            if (r.status == 201) {
              std::lock_guard lock(m);
              acknowledged.push_back(id);
            }
          }
        } catch (const std::exception&) {
          // the connection closed as the server stopped
        }
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    int status = server.stop();
    stop = true;
    for (auto& t : writers) t.join();
    CHECK(status == 0);
  }
  REQUIRE(acknowledged.size() > 10);
  server_process again(db);
  http_connection c(again.port());
  std::size_t missing = 0;
  for (const auto& id : acknowledged) missing += c.request("GET", "/fhir/Patient/" + id).status != 200;
  CHECK(missing == 0);
}

TEST_CASE("the load option makes example data available and is idempotent across restarts", "[integration][lifecycle]") {
  temp_dir dir;
  std::string db = dir.file("db.sqlite");
  std::string data = std::string(FHIR_SOURCE_DIR) + "/examples/data";
  {
    server_process server(db, {"--load", data});
    CHECK(http_request(server.port(), "GET", "/fhir/Patient/pat-jones").status == 200);
  }
  server_process server(db, {"--load", data});
  auto history = http_request(server.port(), "GET", "/fhir/Patient/pat-jones/_history");
  CHECK(history.body.find("\"total\":1") != std::string::npos);
}

TEST_CASE("the command line documents itself and refuses unsafe settings", "[integration][cli]") {
  auto help = run_server_command({"--help"});
  CHECK(help.status == 0);
  for (const char* flag : {"serve", "validate", "version", "--db", "--host", "--port", "--threads", "--workers",
                           "--max-body", "--load", "--auth", "--base-url", "--log-level", "--jwks", "--issuer",
                           "--audience", "--access-policy", "--tls-cert", "--tls-key", "--plain-http", "token", "jwks"})
    CHECK_THAT(help.output, Catch::Contains(flag));
  auto open = run_server_command({"serve", "--auth", "dev", "--host", "0.0.0.0", "--port", "0"});
  CHECK(open.status == 2);
  CHECK_THAT(open.output, Catch::Contains("loopback"));
  // JWT (the default) without TLS or an explicit --plain-http: tokens would travel in clear.
  auto clear = run_server_command({"serve", "--port", "0"});
  CHECK(clear.status == 2);
  CHECK_THAT(clear.output, Catch::Contains("--tls-cert"));
  // JWT without keys or issuers cannot verify anything.
  auto keyless = run_server_command({"serve", "--plain-http", "--port", "0", "--db", ":memory:"});
  CHECK(keyless.status == 1);
  CHECK_THAT(keyless.output, Catch::Contains("--jwks"));
  CHECK(run_server_command({"--frobnicate"}).status == 2);
  CHECK_THAT(run_server_command({"version"}).output, Catch::Contains("4.0.1"));
}

TEST_CASE("validate reports issues as an OperationOutcome and sets the exit status", "[integration][cli]") {
  temp_dir dir;
  std::ofstream(dir.file("good.json")) << R"({"resourceType":"Patient","birthDate":"1990-01-01"})";
  std::ofstream(dir.file("bad.json")) << R"({"resourceType":"Patient","birthDate":"1990-02-31"})";
  CHECK(run_server_command({"validate", dir.file("good.json")}).status == 0);
  auto bad = run_server_command({"validate", dir.file("bad.json")});
  CHECK(bad.status == 1);
  CHECK_THAT(bad.output, Catch::Contains("Patient.birthDate"));
}

TEST_CASE("validate loads a package, validates against a named profile and applies the flags", "[integration][cli]") {
  temp_dir dir;
  std::filesystem::create_directories(dir.file("ig/package"));
  std::ofstream(dir.file("ig/package/package.json")) << R"({"name":"example.ig","version":"0.1.0"})";
  // A profile published as a differential: birthDate becomes required.
  std::ofstream(dir.file("ig/package/StructureDefinition-DatedPatient.json")) << R"({
    "resourceType":"StructureDefinition","url":"https://example.org/StructureDefinition/DatedPatient",
    "name":"DatedPatient","status":"active","kind":"resource","abstract":false,"type":"Patient",
    "baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient","derivation":"constraint",
    "differential":{"element":[{"id":"Patient.birthDate","path":"Patient.birthDate","min":1}]}})";
  std::ofstream(dir.file("undated.json")) << R"({"resourceType":"Patient","gender":"male"})";
  std::ofstream(dir.file("extended.json"))
      << R"({"resourceType":"Patient","extension":[{"url":"https://vendor.example/x","valueString":"y"}]})";
  std::ofstream(dir.file("bad-nhs.json"))
      << R"({"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000008"}]})";
  const std::string profile = "https://example.org/StructureDefinition/DatedPatient";

  CHECK(run_server_command({"validate", dir.file("undated.json")}).status == 0);
  auto named = run_server_command({"validate", "--package", dir.file("ig"), "--profile", profile, dir.file("undated.json")});
  CHECK(named.status == 1);
  CHECK_THAT(named.output, Catch::Contains("Patient.birthDate") && Catch::Contains("profile-cardinality-min"));
  // Without the package the profile is unknown: an error, since the caller asked for it.
  auto unknown = run_server_command({"validate", "--profile", profile, dir.file("undated.json")});
  CHECK(unknown.status == 1);
  CHECK_THAT(unknown.output, Catch::Contains("profile-unknown"));

  CHECK(run_server_command({"validate", dir.file("extended.json")}).status == 0);
  auto strict = run_server_command({"validate", "--unknown-extensions", "error", dir.file("extended.json")});
  CHECK(strict.status == 1);
  CHECK_THAT(strict.output, Catch::Contains("extension-unknown"));

  // The NHS number rule is this server's, not UK Core's: it holds with or without the default profiles.
  CHECK(run_server_command({"validate", dir.file("bad-nhs.json")}).status == 1);
  CHECK(run_server_command({"validate", "--default-profiles", "none", dir.file("bad-nhs.json")}).status == 1);
  // Several files: one OperationOutcome each, exit 1 if any has an error.
  auto several = run_server_command({"validate", dir.file("undated.json"), dir.file("bad-nhs.json")});
  CHECK(several.status == 1);
  CHECK_THAT(several.output, Catch::Contains("# " + dir.file("undated.json")) && Catch::Contains("# " + dir.file("bad-nhs.json")));
  CHECK(run_server_command({"validate", "--package", dir.file("no-such-dir"), dir.file("undated.json")}).status == 2);
}
