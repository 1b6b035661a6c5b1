#include "tests/server/app_fixture.hpp"

using fhir::testing::app_fixture;

namespace {

const std::vector<server::http::header> json_patch = {{"Content-Type", "application/json-patch+json"}};
const std::vector<server::http::header> fhir_json = {{"Content-Type", "application/fhir+json"}};

std::string patient(std::string_view id) {
  return R"({"resourceType":"Patient","id":")" + std::string(id) +
         R"(","identifier":[{"system":"http://example.org/mrn","value":")" + std::string(id) +
         R"("}],"name":[{"family":"Smith","given":["Jo"]}],"telecom":[{"system":"phone","value":"01632 960001"},{"system":"email","value":"jo@example.org"}],"birthDate":"1980-01-01"})";
}

std::string version_of(const fhir::json::value& resource) { return *resource.find("meta")->find_string("versionId"); }

// A FHIRPath Patch with one operation made of the given parts (JSON of each part).
std::string fhirpath_patch(const std::vector<std::string>& parts) {
  std::string out = R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[)";
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "," : "") + parts[i];
  return out + "]}]}";
}

}  // namespace

TEST_CASE("JSON Patch replaces, adds and removes elements and makes a new version", "[server][patch]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", patient("p1"), fhir_json).status() == 201);
  auto r = app.send("PATCH", "/fhir/Patient/p1",
                    R"([{"op":"test","path":"/birthDate","value":"1980-01-01"},{"op":"replace","path":"/birthDate","value":"1981-02-03"},
                       {"op":"add","path":"/name/0/given/-","value":"Ann"},{"op":"remove","path":"/telecom/1"}])",
                    json_patch);
  REQUIRE(r.status() == 200);
  auto stored = app.get("/fhir/Patient/p1").json();
  CHECK(version_of(stored) == "2");
  CHECK(*stored.find_string("birthDate") == "1981-02-03");
  CHECK(stored.find("name")->as_array()[0].find("given")->as_array().size() == 2);
  CHECK(stored.find("telecom")->as_array().size() == 1);
  CHECK(r.header("ETag") == "W/\"2\"");
}

TEST_CASE("a JSON Patch that fails a test, misses a path or breaks validation changes nothing", "[server][patch][errors]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", patient("p1"), fhir_json).status() == 201);
  SECTION("failed test") {
    auto r = app.send("PATCH", "/fhir/Patient/p1", R"([{"op":"test","path":"/birthDate","value":"1999-01-01"}])", json_patch);
    CHECK(r.status() == 422);
    CHECK(r.issue_ids() == std::vector<std::string>{"json-patch-failed"});
  }
  SECTION("missing path") {
    auto r = app.send("PATCH", "/fhir/Patient/p1", R"([{"op":"remove","path":"/deceasedBoolean"}])", json_patch);
    CHECK(r.status() == 422);
  }
  SECTION("malformed document") {
    auto r = app.send("PATCH", "/fhir/Patient/p1", R"({"op":"remove"})", json_patch);
    CHECK(r.status() == 400);
  }
  SECTION("an invalid result") {
    auto r = app.send("PATCH", "/fhir/Patient/p1", R"([{"op":"replace","path":"/birthDate","value":"1980-02-30"}])", json_patch);
    CHECK(r.status() == 422);
    CHECK(r.issue_expressions() == std::vector<std::string>{"Patient.birthDate"});
  }
  SECTION("a patch that changes the id") {
    auto r = app.send("PATCH", "/fhir/Patient/p1", R"([{"op":"replace","path":"/id","value":"p2"}])", json_patch);
    CHECK(r.status() == 422);
  }
  CHECK(version_of(app.get("/fhir/Patient/p1").json()) == "1");
}

TEST_CASE("FHIRPath Patch add, insert, replace, move and delete", "[server][patch]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", patient("p1"), fhir_json).status() == 201);
  SECTION("replace") {
    auto r = app.send("PATCH", "/fhir/Patient/p1",
                      fhirpath_patch({R"({"name":"type","valueCode":"replace"})", R"({"name":"path","valueString":"Patient.birthDate"})",
                                      R"({"name":"value","valueDate":"1975-05-06"})"}),
                      fhir_json);
    REQUIRE(r.status() == 200);
    CHECK(*app.get("/fhir/Patient/p1").json().find_string("birthDate") == "1975-05-06");
  }
  SECTION("add to a repeating element, and a choice element takes its type's name") {
    auto r = app.send("PATCH", "/fhir/Patient/p1",
                      fhirpath_patch({R"({"name":"type","valueCode":"add"})", R"({"name":"path","valueString":"Patient"})",
                                      R"({"name":"name","valueString":"deceased"})", R"({"name":"value","valueBoolean":false})"}),
                      fhir_json);
    REQUIRE(r.status() == 200);
    auto stored = app.get("/fhir/Patient/p1").json();
    REQUIRE(stored.find("deceasedBoolean"));
    CHECK(stored.find("deceasedBoolean")->as_bool() == false);
    auto added = app.send("PATCH", "/fhir/Patient/p1",
                          fhirpath_patch({R"({"name":"type","valueCode":"add"})", R"({"name":"path","valueString":"Patient.name[0]"})",
                                          R"({"name":"name","valueString":"given"})", R"({"name":"value","valueString":"Lee"})"}),
                          fhir_json);
    REQUIRE(added.status() == 200);
    auto given = app.get("/fhir/Patient/p1").json().find("name")->as_array()[0].find("given")->as_array();
    REQUIRE(given.size() == 2);
    CHECK(given[1].as_string() == "Lee");
  }
  SECTION("insert and move in a list") {
    auto r = app.send("PATCH", "/fhir/Patient/p1",
                      fhirpath_patch({R"({"name":"type","valueCode":"insert"})", R"({"name":"path","valueString":"Patient.telecom"})",
                                      R"({"name":"index","valueInteger":0})",
                                      R"({"name":"value","valueContactPoint":{"system":"phone","value":"01632 960999"}})"}),
                      fhir_json);
    REQUIRE(r.status() == 200);
    auto moved = app.send("PATCH", "/fhir/Patient/p1",
                          fhirpath_patch({R"({"name":"type","valueCode":"move"})", R"({"name":"path","valueString":"Patient.telecom"})",
                                          R"({"name":"source","valueInteger":0})", R"({"name":"destination","valueInteger":2})"}),
                          fhir_json);
    REQUIRE(moved.status() == 200);
    auto telecom = app.get("/fhir/Patient/p1").json().find("telecom")->as_array();
    REQUIRE(telecom.size() == 3);
    CHECK(*telecom[0].find_string("value") == "01632 960001");
    CHECK(*telecom[2].find_string("value") == "01632 960999");
  }
  SECTION("delete one element, and deleting what is absent changes nothing") {
    auto r = app.send("PATCH", "/fhir/Patient/p1",
                      fhirpath_patch({R"({"name":"type","valueCode":"delete"})",
                                      R"j({"name":"path","valueString":"Patient.telecom.where(system = 'email')"})j"}),
                      fhir_json);
    REQUIRE(r.status() == 200);
    CHECK(app.get("/fhir/Patient/p1").json().find("telecom")->as_array().size() == 1);
    auto none = app.send("PATCH", "/fhir/Patient/p1",
                         fhirpath_patch({R"({"name":"type","valueCode":"delete"})", R"({"name":"path","valueString":"Patient.multipleBirth"})"}),
                         fhir_json);
    CHECK(none.status() == 200);
    CHECK(version_of(app.get("/fhir/Patient/p1").json()) == "2");  // unchanged content: no version 3
  }
  SECTION("a path selecting several elements is 422") {
    auto r = app.send("PATCH", "/fhir/Patient/p1",
                      fhirpath_patch({R"({"name":"type","valueCode":"replace"})", R"({"name":"path","valueString":"Patient.telecom.system"})",
                                      R"({"name":"value","valueCode":"fax"})"}),
                      fhir_json);
    CHECK(r.status() == 422);
    CHECK(version_of(app.get("/fhir/Patient/p1").json()) == "1");
  }
}

TEST_CASE("PATCH honours If-Match, and answers 404, 415 and conditional patches", "[server][patch]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", patient("p1"), fhir_json).status() == 201);
  std::string change = R"([{"op":"replace","path":"/birthDate","value":"1990-01-01"}])";
  auto stale = app.send("PATCH", "/fhir/Patient/p1", change, {{"Content-Type", "application/json-patch+json"}, {"If-Match", "W/\"7\""}});
  CHECK(stale.status() == 412);
  auto current = app.send("PATCH", "/fhir/Patient/p1", change, {{"Content-Type", "application/json-patch+json"}, {"If-Match", "W/\"1\""}});
  CHECK(current.status() == 200);
  CHECK(app.send("PATCH", "/fhir/Patient/nobody", change, json_patch).status() == 404);
  CHECK(app.send("PATCH", "/fhir/Patient/p1", change, {{"Content-Type", "text/plain"}}).status() == 415);

  auto conditional = app.send("PATCH", "/fhir/Patient?identifier=http://example.org/mrn|p1",
                              R"([{"op":"replace","path":"/birthDate","value":"1991-01-01"}])", json_patch);
  CHECK(conditional.status() == 200);
  CHECK(*app.get("/fhir/Patient/p1").json().find_string("birthDate") == "1991-01-01");
  CHECK(app.send("PATCH", "/fhir/Patient?identifier=http://example.org/mrn|nobody", change, json_patch).status() == 404);
}

TEST_CASE("PATCH entries in a transaction and a batch: FHIRPath Patch and JSON Patch in a Binary", "[server][patch][bundle]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", patient("p1"), fhir_json).status() == 201);
  REQUIRE(app.put("/fhir/Patient/p2", patient("p2"), fhir_json).status() == 201);
  // [{"op":"replace","path":"/birthDate","value":"1970-07-07"}]
  std::string json_patch_base64 = "W3sib3AiOiJyZXBsYWNlIiwicGF0aCI6Ii9iaXJ0aERhdGUiLCJ2YWx1ZSI6IjE5NzAtMDctMDcifV0=";
  std::string entries = R"([
    {"resource":)" + fhirpath_patch({R"({"name":"type","valueCode":"replace"})", R"({"name":"path","valueString":"Patient.birthDate"})",
                                      R"({"name":"value","valueDate":"1960-06-06"})"}) +
                        R"(,"request":{"method":"PATCH","url":"Patient/p1"}},
    {"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":")" + json_patch_base64 +
                        R"("},"request":{"method":"PATCH","url":"Patient?identifier=http://example.org/mrn|p2"}}])";
  SECTION("transaction") {
    auto r = app.post("/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":)" + entries + "}", fhir_json);
    INFO(r.http.body);
    REQUIRE(r.status() == 200);
    auto response = r.json().find("entry")->as_array();
    CHECK(*response[0].find("response")->find_string("status") == "200 OK");
    CHECK(*response[1].find("response")->find_string("status") == "200 OK");
  }
  SECTION("batch") {
    auto r = app.post("/fhir", R"({"resourceType":"Bundle","type":"batch","entry":)" + entries + "}", fhir_json);
    INFO(r.http.body);
    REQUIRE(r.status() == 200);
    auto response = r.json().find("entry")->as_array();
    CHECK(*response[0].find("response")->find_string("status") == "200 OK");
    CHECK(*response[1].find("response")->find_string("status") == "200 OK");
  }
  CHECK(*app.get("/fhir/Patient/p1").json().find_string("birthDate") == "1960-06-06");
  CHECK(*app.get("/fhir/Patient/p2").json().find_string("birthDate") == "1970-07-07");
}

TEST_CASE("a transaction whose PATCH entry fails rolls back its other entries", "[server][patch][bundle]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", patient("p1"), fhir_json).status() == 201);
  std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","id":"p9","name":[{"family":"New"}]},"request":{"method":"PUT","url":"Patient/p9"}},
    {"resource":)" + fhirpath_patch({R"({"name":"type","valueCode":"replace"})", R"({"name":"path","valueString":"Patient.birthDate"})",
                                      R"({"name":"value","valueDate":"1960-02-30"})"}) +
                       R"(,"request":{"method":"PATCH","url":"Patient/p1"}}]})";
  auto r = app.post("/fhir", bundle, fhir_json);
  CHECK(r.status() == 422);
  CHECK(r.issue_expressions().at(0).starts_with("Bundle.entry[1]"));
  CHECK(app.get("/fhir/Patient/p9").status() == 404);
  CHECK(*app.get("/fhir/Patient/p1").json().find_string("birthDate") == "1980-01-01");
}
