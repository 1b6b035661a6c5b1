#include "fhir/json/serialize.hpp"
#include "fhir/text.hpp"
#include "tests/server/app_fixture.hpp"

using fhir::testing::app_fixture;
using Catch::Matchers::Contains;

namespace {
const std::string patient = R"({"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}],"name":[{"family":"Smith","given":["Jo"]}],"birthDate":"1980-01-01"})";

std::string with_id(std::string_view id, std::string_view family = "Smith") {
  return R"({"resourceType":"Patient","id":")" + std::string(id) + R"(","name":[{"family":")" + std::string(family) + R"("}]})";
}
}  // namespace

TEST_CASE("create returns 201 with Location, ETag, Last-Modified and the stored resource", "[server][create]") {
  app_fixture app;
  auto r = app.post("/fhir/Patient", patient);
  REQUIRE(r.status() == 201);
  auto body = r.json();
  std::string id = *body.find_string("id");
  CHECK(r.header("Location") == std::string(app_fixture::base) + "/Patient/" + id + "/_history/1");
  CHECK(r.header("ETag") == "W/\"1\"");
  CHECK_THAT(r.header("Last-Modified"), Contains("GMT"));
  CHECK(*body.find("meta")->find_string("versionId") == "1");

  auto read = app.get("/fhir/Patient/" + id);
  REQUIRE(read.status() == 200);
  CHECK(read.http.body == r.http.body);
  CHECK(read.header("ETag") == "W/\"1\"");
}

TEST_CASE("create ignores an id in the body", "[server][create]") {
  app_fixture app;
  auto r = app.post("/fhir/Patient", with_id("mine"));
  REQUIRE(r.status() == 201);
  CHECK(*r.json().find_string("id") != "mine");
  CHECK(app.get("/fhir/Patient/mine").status() == 404);
}

TEST_CASE("bad bodies are rejected with an OperationOutcome and nothing is stored", "[server][create][errors]") {
  app_fixture app;
  SECTION("malformed JSON: 400") {
    auto r = app.post("/fhir/Patient", R"({"resourceType":"Patient",)");
    CHECK(r.status() == 400);
    CHECK(r.issue_ids() == std::vector<std::string>{"json-syntax"});
  }
  SECTION("structurally invalid: 400 with every issue and its FHIRPath") {
    auto r = app.post("/fhir/Patient", R"({"resourceType":"Patient","gender":"x  y","birthDate":"1980-02-30","foo":1})");
    CHECK(r.status() == 400);
    CHECK(r.issue_expressions() == std::vector<std::string>{"Patient.gender", "Patient.birthDate", "Patient.foo"});
  }
  SECTION("a body of another type than the URL: 400") {
    auto r = app.post("/fhir/Observation", patient);
    CHECK(r.status() == 400);
    CHECK(r.issue_ids() == std::vector<std::string>{"resource-type-mismatch"});
  }
  SECTION("wrong Content-Type: 415") {
    auto r = app.post("/fhir/Patient", patient, {{"Content-Type", "application/xml"}});
    CHECK(r.status() == 415);
    CHECK(app.post("/fhir/Patient", patient, {{"Content-Type", "application/fhir+json; charset=latin1"}}).status() == 415);
  }
  SECTION("no body: 400") { CHECK(app.send("POST", "/fhir/Patient", "", {{"Content-Type", "application/fhir+json"}}).status() == 400); }
  SECTION("duplicate keys and nulls: 400") {
    CHECK(app.post("/fhir/Patient", R"({"resourceType":"Patient","active":true,"active":false})").status() == 400);
    CHECK(app.post("/fhir/Patient", R"({"resourceType":"Patient","active":null})").status() == 400);
  }
  auto history = app.get("/fhir/Patient/_history").json();
  CHECK(history.find("entry") == nullptr);
}

TEST_CASE("application/json is accepted as FHIR JSON, with or without charset", "[server][create]") {
  app_fixture app;
  CHECK(app.post("/fhir/Patient", patient, {{"Content-Type", "application/json; charset=utf-8"}}).status() == 201);
  CHECK(app.post("/fhir/Patient", patient, {{"Content-Type", "application/fhir+json;charset=\"UTF-8\""}}).status() == 201);
}

TEST_CASE("read errors: unknown id 404, unknown type 404, malformed id 400", "[server][read][errors]") {
  app_fixture app;
  auto missing = app.get("/fhir/Patient/nope");
  CHECK(missing.status() == 404);
  CHECK(*missing.json().find_string("resourceType") == "OperationOutcome");
  CHECK(app.get("/fhir/Patiant/1").status() == 404);
  CHECK(app.get("/fhir/Patiant/1").issue_ids() == std::vector<std::string>{"type-unknown"});
  CHECK(app.get("/fhir/Patient/bad%20id").status() == 400);
  CHECK(app.get("/fhir/Patient/" + std::string(65, 'a')).status() == 400);
}

TEST_CASE("update creates with a client id, then versions, and the id must match the URL", "[server][update]") {
  app_fixture app;
  auto created = app.put("/fhir/Patient/p1", with_id("p1", "One"));
  REQUIRE(created.status() == 201);
  CHECK(created.header("Location") == std::string(app_fixture::base) + "/Patient/p1/_history/1");
  auto updated = app.put("/fhir/Patient/p1", with_id("p1", "Two"));
  REQUIRE(updated.status() == 200);
  CHECK(updated.header("ETag") == "W/\"2\"");
  CHECK(updated.header("Content-Location") == std::string(app_fixture::base) + "/Patient/p1/_history/2");
  CHECK(*updated.json().find("meta")->find_string("versionId") == "2");

  CHECK(app.put("/fhir/Patient/p1", with_id("p2")).status() == 400);
  CHECK(app.put("/fhir/Patient/p1", with_id("p2")).issue_ids() == std::vector<std::string>{"id-mismatch"});
  CHECK(app.put("/fhir/Patient/p1", patient).issue_ids() == std::vector<std::string>{"id-missing"});
  CHECK(app.put("/fhir/Patient/bad$id", with_id("bad$id")).status() == 400);
}

TEST_CASE("If-Match makes an update or delete conditional on the current version", "[server][update][delete]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", with_id("p1")).status() == 201);
  CHECK(app.put("/fhir/Patient/p1", with_id("p1", "X"), {{"If-Match", "W/\"3\""}}).status() == 412);
  CHECK(app.put("/fhir/Patient/p1", with_id("p1", "X"), {{"If-Match", "banana"}}).status() == 400);
  CHECK(app.put("/fhir/Patient/p1", with_id("p1", "X"), {{"If-Match", "W/\"1\""}}).status() == 200);
  CHECK(app.del("/fhir/Patient/p1", {{"If-Match", "W/\"1\""}}).status() == 412);
  CHECK(app.del("/fhir/Patient/p1", {{"If-Match", "\"2\""}}).status() == 200);
  CHECK(app.put("/fhir/Patient/new", with_id("new"), {{"If-Match", "W/\"1\""}}).status() == 412);
}

TEST_CASE("delete: read is then 410 Gone, deleting again is harmless, update revives", "[server][delete]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", with_id("p1")).status() == 201);
  auto deleted = app.del("/fhir/Patient/p1");
  CHECK(deleted.status() == 200);
  CHECK(deleted.header("ETag") == "W/\"2\"");
  auto gone = app.get("/fhir/Patient/p1");
  CHECK(gone.status() == 410);
  CHECK(gone.issue_ids() == std::vector<std::string>{"resource-deleted"});
  CHECK(app.get("/fhir/Patient/p1/_history/1").status() == 200);
  CHECK(app.get("/fhir/Patient/p1/_history/2").status() == 410);
  CHECK(app.del("/fhir/Patient/p1").status() == 200);
  CHECK(app.del("/fhir/Patient/never").status() == 200);
  CHECK(app.del("/fhir/Patient/never", {{"Prefer", "return=minimal"}}).status() == 204);
  auto revived = app.put("/fhir/Patient/p1", with_id("p1"));
  CHECK(revived.status() == 201);
  CHECK(revived.header("ETag") == "W/\"3\"");
}

TEST_CASE("vread returns each version, and unknown versions are 404", "[server][vread]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", with_id("p1", "One")).status() == 201);
  REQUIRE(app.put("/fhir/Patient/p1", with_id("p1", "Two")).status() == 200);
  auto v1 = app.get("/fhir/Patient/p1/_history/1");
  REQUIRE(v1.status() == 200);
  CHECK(v1.header("ETag") == "W/\"1\"");
  CHECK(*v1.json().find("name")->as_array()[0].find_string("family") == "One");
  CHECK(app.get("/fhir/Patient/p1/_history/3").status() == 404);
  CHECK(app.get("/fhir/Patient/p1/_history/x").status() == 404);
  CHECK(app.get("/fhir/Patient/p1/_history/0").status() == 404);
}

TEST_CASE("Prefer: return=minimal and return=OperationOutcome", "[server][prefer]") {
  app_fixture app;
  auto minimal = app.post("/fhir/Patient", patient, {{"Prefer", "return=minimal"}});
  CHECK(minimal.status() == 201);
  CHECK(minimal.http.body.empty());
  CHECK_FALSE(minimal.header("Location").empty());
  CHECK(minimal.header("ETag") == "W/\"1\"");
  auto outcome = app.post("/fhir/Patient", patient, {{"Prefer", "return=OperationOutcome"}});
  CHECK(outcome.status() == 201);
  CHECK(*outcome.json().find_string("resourceType") == "OperationOutcome");
}

TEST_CASE("decimals keep their precision through the server", "[server][create]") {
  app_fixture app;
  auto r = app.post("/fhir/Observation",
                    R"({"resourceType":"Observation","status":"final","code":{"text":"Weight"},"valueQuantity":{"value":72.50,"unit":"kg"}})");
  REQUIRE(r.status() == 201);
  auto read = app.get("/fhir/Observation/" + *r.json().find_string("id"));
  CHECK_THAT(read.http.body, Contains(R"("value":72.50)"));
}

TEST_CASE("routing errors: unknown paths 404, wrong methods 405 with Allow", "[server][routing]") {
  app_fixture app;
  CHECK(app.get("/other/Patient").status() == 404);
  CHECK(app.get("/fhir/Patient/1/extra/segments/here").status() == 404);
  auto not_allowed = app.send("POST", "/fhir/Patient/1", "{}", {});
  CHECK(not_allowed.status() == 405);
  CHECK(not_allowed.header("Allow") == "GET, HEAD, PUT, PATCH, DELETE");
  CHECK(app.send("DELETE", "/fhir/metadata", "", {}).status() == 405);
  CHECK(app.send("HEAD", "/fhir/metadata", "", {}).status() == 200);
}

TEST_CASE("If-Match: * updates only an existing resource", "[server][update]") {
  app_fixture app;
  CHECK(app.put("/fhir/Patient/p1", with_id("p1"), {{"If-Match", "*"}}).status() == 412);
  REQUIRE(app.put("/fhir/Patient/p1", with_id("p1")).status() == 201);
  CHECK(app.put("/fhir/Patient/p1", with_id("p1", "X"), {{"If-Match", "*"}}).status() == 200);
}

TEST_CASE("a re-creation after a deletion shows as 201 in the history", "[server][history]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", with_id("p1")).status() == 201);
  REQUIRE(app.del("/fhir/Patient/p1").status() == 200);
  REQUIRE(app.put("/fhir/Patient/p1", with_id("p1")).status() == 201);
  auto entries = app.get("/fhir/Patient/p1/_history").json().find("entry")->as_array();
  CHECK(*entries[0].find("response")->find_string("status") == "201 Created");
  CHECK(*entries[1].find("response")->find_string("status") == "204 No Content");
}

TEST_CASE("diagnostics quoting a path with invalid UTF-8 are still valid UTF-8", "[server][routing]") {
  app_fixture app;
  auto r = app.get("/fhir/%FF%FE/1");
  CHECK(r.status() == 404);
  std::string_view body = r.http.body;
  for (std::size_t i = 0; i < body.size();) {
    std::size_t n = fhir::utf8_sequence_length(body.substr(i));
    REQUIRE(n > 0);
    i += n;
  }
}
