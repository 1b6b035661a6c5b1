#include <catch2/catch.hpp>

#include "server/cli/options.hpp"

namespace {
server::cli::parse_result parse(std::vector<std::string> args) {
  args.insert(args.begin(), "fhir-server");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return server::cli::parse(static_cast<int>(argv.size()), argv.data());
}
}  // namespace

TEST_CASE("serve is the default command with documented defaults", "[server][cli]") {
  auto r = parse({});
  REQUIRE(r.parsed);
  CHECK(r.parsed->what == server::cli::command::kind::serve);
  CHECK(r.parsed->serve.port == 8080);
  CHECK(r.parsed->serve.host == "127.0.0.1");
  CHECK(r.parsed->serve.auth == "jwt");  // secure by default
  CHECK_FALSE(r.parsed->serve.plain_http);
}

TEST_CASE("serve options parse in both spellings", "[server][cli]") {
  auto r = parse({"serve", "--db", "x.db", "--port=0", "--max-body", "2M", "--load", "a", "--load=b", "--threads", "3",
                  "--base-url", "https://shcr.example/fhir/"});
  REQUIRE(r.parsed);
  const auto& s = r.parsed->serve;
  CHECK(s.database == "x.db");
  CHECK(s.port == 0);
  CHECK(s.max_body == 2 * 1024 * 1024);
  CHECK(s.load_directories == std::vector<std::string>{"a", "b"});
  CHECK(s.threads == 3);
  CHECK(s.base_url == "https://shcr.example/fhir");
  CHECK_FALSE(s.conditional_delete_multiple);
  CHECK(s.skip_unchanged_updates);
  CHECK(s.max_connections == 0);  // derived from the open-file limit
  CHECK(s.max_pending == 0);      // 8 per worker
  CHECK(s.header_timeout_s == 30);
  auto shedding = parse({"--max-connections", "500", "--max-pending=64", "--header-timeout", "5"});
  REQUIRE(shedding.parsed);
  CHECK(shedding.parsed->serve.max_connections == 500);
  CHECK(shedding.parsed->serve.max_pending == 64);
  CHECK(shedding.parsed->serve.header_timeout_s == 5);
  auto policies = parse({"--conditional-delete", "multiple", "--unchanged-updates=version"});
  REQUIRE(policies.parsed);
  CHECK(policies.parsed->serve.conditional_delete_multiple);
  CHECK_FALSE(policies.parsed->serve.skip_unchanged_updates);
}

TEST_CASE("bad command lines are refused with a message", "[server][cli]") {
  CHECK_FALSE(parse({"--port", "99999"}).parsed);
  CHECK_FALSE(parse({"--port"}).parsed);
  CHECK_FALSE(parse({"--bogus"}).parsed);
  CHECK_FALSE(parse({"frobnicate"}).parsed);
  CHECK_FALSE(parse({"--auth", "none"}).parsed);
  CHECK_FALSE(parse({"validate"}).parsed);
  CHECK_FALSE(parse({"--conditional-delete", "all"}).parsed);
  CHECK_FALSE(parse({"--unchanged-updates", "maybe"}).parsed);
  CHECK_FALSE(parse({"--max-connections", "0"}).parsed);
  CHECK_FALSE(parse({"--max-pending", "-1"}).parsed);
  CHECK_FALSE(parse({"--header-timeout", "0"}).parsed);
  CHECK_FALSE(parse({"--log-format", "xml"}).parsed);
  CHECK(parse({"--log-format", "json"}).parsed->serve.log_format == "json");
  CHECK_FALSE(parse({"backup", "--db", "a.db"}).parsed);  // --to is required
  CHECK_FALSE(parse({"--to", "b.db"}).parsed);            // only backup takes --to
  auto backup = parse({"backup", "--db", "a.db", "--to", "b.db"});
  REQUIRE(backup.parsed);
  CHECK(backup.parsed->what == server::cli::command::kind::backup);
  CHECK(backup.parsed->serve.database == "a.db");
  CHECK(backup.parsed->backup_to == "b.db");
  CHECK(parse({"validate", "a.json", "b.json"}).parsed->files.size() == 2);
  // The commands that write index rows take the server's base URL (which absolute references are ours).
  auto reindex = parse({"reindex", "--db", "a.db", "--base-url", "https://shcr.example/fhir/"});
  REQUIRE(reindex.parsed);
  CHECK(reindex.parsed->serve.base_url == "https://shcr.example/fhir");
  CHECK(parse({"import", "--base-url=https://shcr.example/fhir", "a.ndjson"}).parsed->serve.base_url == "https://shcr.example/fhir");
  CHECK_FALSE(parse({"backup", "--db", "a.db", "--to", "b.db", "--base-url", "https://x/fhir"}).parsed);
  // A base URL is an absolute http(s) URL with a host (references are compared with it exactly).
  CHECK(parse({"serve", "--base-url", "HTTPS://shcr.example/fhir"}).parsed->serve.base_url == "https://shcr.example/fhir");
  CHECK(parse({"reindex", "--base-url", "http://localhost:8080"}).parsed->serve.base_url == "http://localhost:8080");
  CHECK(parse({"serve", "--base-url", "http://[::1]:8080/fhir"}).parsed->serve.base_url == "http://[::1]:8080/fhir");
  CHECK(parse({"serve", "--base-url", "https://h.example/fhir/@t/"}).parsed->serve.base_url == "https://h.example/fhir/@t");
  for (const char* bad : {"shcr.example/fhir", "localhost:8080/fhir", "ftp://shcr.example/fhir", "https://", "https:///fhir", "urn:x",
                          "http://:8080/fhir", "http://x/fhir?a=b", "http://x/fhir#f", "http://u@x/fhir", "http://x y/fhir"}) {
    INFO(bad);
    CHECK_FALSE(parse({"serve", "--base-url", bad}).parsed);
    CHECK_FALSE(parse({"reindex", "--base-url", bad}).parsed);
  }
  CHECK(parse({"--help"}).parsed->what == server::cli::command::kind::help);
  CHECK(server::cli::usage().find("--max-body") != std::string::npos);
}
