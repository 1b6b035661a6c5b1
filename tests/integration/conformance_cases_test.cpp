// The conformance harness: every case in conformance/cases/<interaction>/<name>.json is a request (with
// optional setup requests) and the expected status, headers and OperationOutcome issue ids, run over real
// HTTP against one server. Behaviour lives in data; this file only runs it. See conformance/README.md.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fhir::testing;

namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

const fhir::json::value* member(const fhir::json::value& v, std::string_view key) { return v.find(key); }

std::string string_member(const fhir::json::value& v, std::string_view key) {
  const std::string* s = v.find_string(key);
  return s ? *s : std::string();
}

http_reply send(http_connection& c, const fhir::json::value& request) {
  std::string method = string_member(request, "method");
  std::string path = "/fhir/" + string_member(request, "path");
  std::string body;
  if (const auto* b = member(request, "body")) body = fhir::json::serialize(*b);
  if (const auto* t = member(request, "bodyText")) body = t->as_string();
  header_list headers;
  if (const auto* h = member(request, "headers"))
    for (const auto& m : h->as_object()) headers.emplace_back(m.key, m.value.as_string());
  return c.request(method, path, body, headers);
}

std::vector<std::string> issue_ids(const std::string& body) {
  std::vector<std::string> out;
  auto v = fhir::json::parse(body);
  if (!v) return out;
  if (const auto* issues = v->find("issue"))
    for (const auto& i : issues->as_array()) {
      const auto* details = i.find("details");
      const auto* coding = details ? details->find("coding") : nullptr;
      out.push_back(coding ? string_member(coding->as_array()[0], "code") : std::string());
    }
  return out;
}

void check_expectations(const fhir::json::value& expect, const http_reply& reply) {
  INFO("response body: " << reply.body.substr(0, 1000));
  if (const auto* status = member(expect, "status")) CHECK(std::to_string(reply.status) == status->as_number().text);
  if (const auto* type = member(expect, "resourceType")) {
    auto body = fhir::json::parse(reply.body);
    REQUIRE(body.ok());
    CHECK(string_member(*body, "resourceType") == type->as_string());
  }
  if (const auto* issues = member(expect, "issues")) {
    std::vector<std::string> expected;
    for (const auto& i : issues->as_array()) expected.push_back(i.as_string());
    CHECK(issue_ids(reply.body) == expected);
  }
  if (const auto* headers = member(expect, "headers"))
    for (const auto& h : headers->as_object()) {
      INFO("header " << h.key);
      CHECK(reply.header(h.key) == h.value.as_string());
    }
  if (const auto* present = member(expect, "headersPresent"))
    for (const auto& h : present->as_array()) {
      INFO("header " << h.as_string());
      CHECK_FALSE(reply.header(h.as_string()).empty());
    }
  if (const auto* contains = member(expect, "bodyContains"))
    for (const auto& text : contains->as_array()) CHECK_THAT(reply.body, Catch::Contains(text.as_string()));
  if (const auto* empty = member(expect, "bodyEmpty"); empty && empty->as_bool()) CHECK(reply.body.empty());
}

// One server for all cases: Catch2 re-runs the test case for each DYNAMIC_SECTION, so it is kept here.
struct shared_server {
  temp_dir dir;
  server_process server{dir.file("db.sqlite")};
};

server_process& the_server() {
  static shared_server instance;
  return instance.server;
}

}  // namespace

TEST_CASE("conformance cases", "[integration][conformance]") {
  std::filesystem::path root = std::filesystem::path(FHIR_SOURCE_DIR) / "conformance" / "cases";
  std::vector<std::filesystem::path> cases;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root))
    if (entry.is_regular_file() && entry.path().extension() == ".json") cases.push_back(entry.path());
  std::sort(cases.begin(), cases.end());
  REQUIRE(cases.size() >= 20);

  server_process& server = the_server();
  for (const auto& file : cases) {
    std::string name = std::filesystem::relative(file, root).replace_extension().string();
    DYNAMIC_SECTION(name) {
      // {{case}} gives each case its own ids, so cases cannot see each other's resources.
      std::string token = replace_all(name, "/", "-");
      auto parsed = fhir::json::parse(replace_all(read_text(file), "{{case}}", token));
      INFO(file.string());
      REQUIRE(parsed.ok());
      http_connection c(server.port());
      if (const auto* setup = parsed->find("setup"))
        for (const auto& step : setup->as_array()) {
          auto reply = send(c, step);
          INFO("setup " << string_member(step, "method") << " " << string_member(step, "path") << ": " << reply.body);
          REQUIRE(reply.status / 100 == 2);
        }
      check_expectations(*parsed->find("expect"), send(c, *parsed->find("request")));
    }
  }
}
