// The README's secure set-up over real HTTPS with the real binary: a JWKS and tokens made with
// `fhir-server jwks` and `fhir-server token`, TLS 1.2+ only, 401 without a valid token, keys reloaded on
// SIGHUP, and the audit trail checked with `fhir-server audit verify` (also after tampering).

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <openssl/ssl.h>
#include <sqlite3.h>

#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_keys.hpp"

using namespace fhir::testing;

namespace {

constexpr std::string_view audience = "https://shcr.test/fhir";

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// `fhir-server token` for a clinician of ACU1, signed by `key` under `kid`.
std::string mint(const temp_dir& dir, const std::string& key, const std::string& kid) {
  std::ofstream(dir.file("claims.json")) << R"({"iss":"https://idp.test","aud":")" << audience
                                         << R"(","sub":"555000000123","client_id":"ward-ehr","org_ods":"ACU1",
    "scope":"user/*.cruds","nhs_role":{"person_roleid":"555000000123-01","role_code":"R8000"},"purpose_of_use":["TREAT"]})";
  auto token = run_server_command({"token", "--key", key, "--claims", dir.file("claims.json"), "--kid", kid});
  REQUIRE(token.status == 0);
  return trimmed(token.output);
}

std::string jwks_of(const std::string& key, const std::string& kid) {
  auto jwks = run_server_command({"jwks", "--key", key, "--kid", kid});
  REQUIRE(jwks.status == 0);
  return jwks.output;
}

}  // namespace

TEST_CASE("HTTPS with a JWKS: tokens from fhir-server token, TLS 1.2 minimum, SIGHUP reloads the keys, the audit chain verifies", "[integration][auth]") {
  temp_dir dir;
  std::ofstream(dir.file("idp-1.pem")) << generate_p256_key_pem();
  std::ofstream(dir.file("idp-2.pem")) << generate_rsa_key_pem();
  std::string tls_key = generate_p256_key_pem();
  std::ofstream(dir.file("tls-key.pem")) << tls_key;
  std::ofstream(dir.file("tls-cert.pem")) << self_signed_certificate_pem(tls_key);
  std::ofstream(dir.file("jwks.json")) << jwks_of(dir.file("idp-1.pem"), "k1");
  std::string token1 = mint(dir, dir.file("idp-1.pem"), "k1");
  std::string token2 = mint(dir, dir.file("idp-2.pem"), "k2");

  std::string db = dir.file("shcr.db");
  {
    server_process server(db, {"--auth", "jwt", "--jwks", dir.file("jwks.json"), "--issuer", "https://idp.test", "--audience",
                               std::string(audience), "--tls-cert", dir.file("tls-cert.pem"), "--tls-key", dir.file("tls-key.pem")});
    tls_client tls{dir.file("tls-cert.pem")};
    http_connection connection(server.port(), 30000, &tls);
    CHECK(connection.tls_version() == "TLSv1.3");
    CHECK(connection.request("GET", "/fhir/metadata").status == 200);
    auto anonymous = connection.request("GET", "/fhir/Patient");
    CHECK(anonymous.status == 401);
    CHECK(anonymous.header("WWW-Authenticate") == "Bearer");
    CHECK(connection.request("GET", "/fhir/Patient", {}, {{"Authorization", "Bearer " + token2}}).status == 401);  // unknown key
    auto created = connection.request("PUT", "/fhir/Patient/p1", R"({"resourceType":"Patient","id":"p1","name":[{"family":"Tls"}]})",
                                      {{"Authorization", "Bearer " + token1}});
    CHECK(created.status == 201);
    CHECK(!created.header("X-Request-Id").empty());
    CHECK(connection.request("GET", "/fhir/Patient/p1", {}, {{"Authorization", "Bearer " + token1}}).status == 200);

    // Old protocols and plain HTTP are refused.
    tls_client old{dir.file("tls-cert.pem"), TLS1_1_VERSION};
    CHECK_THROWS(http_connection(server.port(), 5000, &old));
    http_connection plain(server.port(), 5000);
    plain.send_raw("GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_FALSE(plain.read_reply().has_value());

    // The identity provider rotates to a new key: after SIGHUP the old one no longer works.
    std::ofstream(dir.file("jwks.json"), std::ios::trunc) << jwks_of(dir.file("idp-2.pem"), "k2");
    REQUIRE(kill(server.pid(), SIGHUP) == 0);
    int status1 = 0, status2 = 0;
    for (int attempt = 0; attempt < 50; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      status1 = http_request(server.port(), "GET", "/fhir/Patient/p1", {}, {{"Authorization", "Bearer " + token1}}, &tls).status;
      status2 = http_request(server.port(), "GET", "/fhir/Patient/p1", {}, {{"Authorization", "Bearer " + token2}}, &tls).status;
      if (status1 == 401 && status2 == 200) break;
    }
    CHECK(status1 == 401);
    CHECK(status2 == 200);
    INFO(server.log());
    CHECK(server.stop() == 0);
  }

  auto verified = run_server_command({"audit", "verify", "--db", db});
  INFO(verified.output);
  CHECK(verified.status == 0);
  CHECK_THAT(verified.output, Catch::Contains("audit trail intact"));

  // Someone edits an audit record in the file: the chain names it. Record 2 is the second
  // unauthenticated GET (401), in the read trail beside the database (a request that wrote nothing); the
  // edit turns it into a success.
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open((db + "-read-audit").c_str(), &handle) == SQLITE_OK);
  REQUIRE(sqlite3_exec(handle, "DROP TRIGGER audit_record_append_only_update; "
                               "UPDATE audit_record SET body = replace(body, '\"s\":401', '\"s\":200') WHERE seq = 2",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(sqlite3_changes(handle) == 1);
  sqlite3_close(handle);
  auto broken = run_server_command({"audit", "verify", "--db", db});
  INFO(broken.output);
  CHECK(broken.status == 1);
  CHECK_THAT(broken.output, Catch::Contains("BROKEN at record 2"));
}
