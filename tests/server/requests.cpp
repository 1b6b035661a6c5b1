#include "tests/server/requests.hpp"

#include <chrono>
#include <thread>

#include "fhir/base64.hpp"

namespace fhir::testing {

std::string consent_json(std::string_view id, std::string_view patient, std::string_view kind, std::string_view status,
                         std::string_view provision) {
  return R"({"resourceType":"Consent","id":")" + std::string(id) + R"(","status":")" + std::string(status) + R"(",
    "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
    "category":[{"coding":[{"system":"https://shared-care-record.github.io/fhir/CodeSystem/consent-kind","code":")" +
         std::string(kind) + R"("}]}],
    "patient":{"reference":"Patient/)" + std::string(patient) +
         R"("},"dateTime":"2026-01-01","policy":[{"uri":"https://example.org/policy"}],"provision":)" + std::string(provision) + "}";
}

std::string patient_with_identifier(std::string_view id, std::string_view system, std::string_view value, std::string_view family,
                                    std::string_view birth_date) {
  std::string out = R"({"resourceType":"Patient",)";
  if (!id.empty()) out += R"("id":")" + std::string(id) + R"(",)";
  out += R"("identifier":[{"system":")" + std::string(system) + R"(","value":")" + std::string(value) +
         R"("}],"name":[{"family":")" + std::string(family) + R"("}],"birthDate":")" + std::string(birth_date) + R"("})";
  return out;
}

std::string text(const json::value* v, std::string_view key) {
  if (!v) return {};
  const std::string* s = v->find_string(key);
  return s ? *s : std::string();
}

const json::value* first(const json::value* v) {
  return v && v->is_array() && !v->as_array().empty() ? &v->as_array()[0] : nullptr;
}

std::size_t count_matches(const json::value& searchset) {
  std::size_t n = 0;
  if (const auto* entries = searchset.find("entry"))
    for (const auto& e : entries->as_array()) {
      std::string mode = text(e.find("search"), "mode");
      if (mode.empty() || mode == "match") ++n;
    }
  return n;
}

std::size_t matches(const app_fixture& app, const std::string& query) {
  auto r = app.get("/fhir/" + query);
  INFO(query << "\n" << r.http.body);
  REQUIRE(r.status() == 200);
  return count_matches(r.json());
}

std::size_t history_size(const app_fixture& app, const std::string& target) {
  auto r = app.get(target + "?_count=100");
  INFO(target << "\n" << r.http.body);
  REQUIRE(r.status() == 200);
  auto b = r.json();
  const json::value* entries = b.find("entry");
  return entries ? entries->as_array().size() : 0;
}

json::value read_ok(const app_fixture& app, const std::string& path) {
  auto r = app.get("/fhir/" + path);
  INFO(path << "\n" << r.http.body);
  REQUIRE(r.status() == 200);
  return r.json();
}

void put_ok(const app_fixture& app, const std::string& path, const std::string& body) {
  auto r = app.put("/fhir/" + path, body);
  INFO(path << "\n" << r.http.body);
  REQUIRE((r.status() == 200 || r.status() == 201));
}

std::string post_ok(const app_fixture& app, const std::string& type, const std::string& body) {
  auto r = app.post("/fhir/" + type, body);
  INFO(type << "\n" << r.http.body);
  REQUIRE(r.status() == 201);
  auto created = r.json();
  return text(&created, "id");
}

server::http::header dev_token(std::string_view claims_json) {
  return {"Authorization", "Bearer dev." + fhir::base64url_encode(claims_json)};
}

server::http::header as_organisation(std::string_view ods) {
  return dev_token(R"({"sub":"feed-user","org_ods":")" + std::string(ods) +
                   R"(","scope":"user/*.cruds","nhs_role":{"role_code":"R8000"},"purpose_of_use":["TREAT"],"jti":"t"})");
}

json::value wait_for_job(const app_fixture& app, const std::string& status_path, const server::http::header& caller) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    reply r = app.get(status_path, {caller});
    if (r.status() == 200) {
      CHECK(r.header("Content-Type") == "application/json");
      CHECK(!r.header("Expires").empty());
      return r.json();
    }
    INFO(r.http.body);
    REQUIRE(r.status() == 202);
    CHECK(!r.header("X-Progress").empty());
    CHECK(r.header("Retry-After") == "2");
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace fhir::testing
