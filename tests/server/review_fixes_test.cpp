// Defects found by review of the transaction/conditional/patch work, each with the request that showed it.
#include <string>

#include "tests/server/app_fixture.hpp"
#include "tests/server/requests.hpp"

using fhir::testing::app_fixture;
using namespace fhir::testing;

namespace {

std::vector<server::http::header> from(std::string ods) {
  return {{"Content-Type", "application/fhir+json"}, fhir::testing::as_organisation(ods)};
}

const std::string nhs = "https://fhir.nhs.uk/Id/nhs-number";

}  // namespace

TEST_CASE("a feed cannot change or delete another organisation's record, and its conditional writes only match its own", "[server][provenance][conditional]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/a1", patient_with_identifier("a1", nhs, "9000000009", "Acute"), from("RVV")).status() == 201);
  auto update = app.put("/fhir/Patient/a1", patient_with_identifier("a1", nhs, "9000000009", "Changed"), from("Y01234"));
  CHECK(update.status() == 403);
  CHECK(update.issue_ids() == std::vector<std::string>{"data-controller-forbidden"});
  CHECK(app.del("/fhir/Patient/a1", from("Y01234")).status() == 403);
  CHECK(app.send("PATCH", "/fhir/Patient/a1", R"([{"op":"replace","path":"/birthDate","value":"1990-01-01"}])",
                 {{"Content-Type", "application/json-patch+json"}, fhir::testing::as_organisation("Y01234")})
            .status() == 403);
  // The GP's conditional update by NHS number does not see the hospital's record: it creates its own.
  auto conditional = app.put("/fhir/Patient?identifier=" + nhs + "|9000000009", patient_with_identifier("", nhs, "9000000009", "Gp"),
                             from("Y01234"));
  CHECK(conditional.status() == 201);
  CHECK(text(first(read_ok(app, "Patient/a1").find("name")), "family") == "Acute");
  // The hospital itself may still update its record.
  CHECK(app.put("/fhir/Patient/a1", patient_with_identifier("a1", nhs, "9000000009", "Acute2"), from("RVV")).status() == 200);
}

TEST_CASE("a JSON Patch that keeps copying is refused instead of exhausting memory", "[server][patch][errors]") {
  app_fixture app;
  put_ok(app, "Patient/p1", patient_with_identifier("p1", "http://example.org/mrn", "p1"));
  std::string doubling = "[";
  for (int i = 0; i < 40; ++i) doubling += std::string(i ? "," : "") + R"({"op":"copy","from":"","path":"/x)" + std::to_string(i) + R"("})";
  doubling += "]";
  auto r = app.send("PATCH", "/fhir/Patient/p1", doubling, {{"Content-Type", "application/json-patch+json"}});
  CHECK(r.status() == 422);
  // The caller has a controller, so the non-object result also meets the controller check.
  auto root = app.send("PATCH", "/fhir/Patient/p1", R"([{"op":"replace","path":"","value":1}])",
                       {{"Content-Type", "application/json-patch+json"}});
  CHECK(root.status() == 422);
  auto stored = read_ok(app, "Patient/p1");
  CHECK(text(stored.find("meta"), "versionId") == "1");
}

TEST_CASE("transaction entries whose resolved targets overlap fail the transaction", "[server][bundle][conditional]") {
  app_fixture app;
  put_ok(app, "Patient/t1", patient_with_identifier("t1", "http://example.org/mrn", "ov-1"));
  std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":)" + patient_with_identifier("", "http://example.org/mrn", "ov-1", "ByCriteria") +
                       R"(,"request":{"method":"PUT","url":"Patient?identifier=http://example.org/mrn|ov-1"}},
    {"resource":)" + patient_with_identifier("t1", "http://example.org/mrn", "ov-1", "ById") +
                       R"(,"request":{"method":"PUT","url":"Patient/t1"}}]})";
  auto r = app.post("/fhir", bundle, {{"Content-Type", "application/fhir+json"}});
  CHECK(r.status() == 400);
  CHECK(r.issue_ids() == std::vector<std::string>{"bundle-duplicate-target"});
  CHECK(text(first(read_ok(app, "Patient/t1").find("name")), "family") == "Smith");
}

TEST_CASE("a conditional update without a match does not overwrite an unrelated resource with the body's id", "[server][conditional]") {
  app_fixture app;
  put_ok(app, "Patient/abc", patient_with_identifier("abc", "http://example.org/mrn", "someone-else"));
  auto r = app.put("/fhir/Patient?identifier=http://example.org/mrn|nobody", patient_with_identifier("abc", "http://example.org/mrn", "nobody"),
                   {{"Content-Type", "application/fhir+json"}});
  CHECK(r.status() == 409);
  CHECK(r.issue_ids() == std::vector<std::string>{"conditional-id-exists"});
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|someone-else") == 1);
}

TEST_CASE("an escaped entry member name is refused rather than answered with an empty transaction", "[server][bundle][errors]") {
  app_fixture app;
  auto r = app.post("/fhir", R"({"resourceType":"Bundle","type":"transaction","\u0065ntry":[{"resource":{"resourceType":"Patient","id":"esc"},"request":{"method":"PUT","url":"Patient/esc"}}]})",
                    {{"Content-Type", "application/fhir+json"}});
  CHECK(r.status() == 400);
  CHECK(app.get("/fhir/Patient/esc").status() == 404);
}

TEST_CASE("a resource that embeds a resource with a version-0 meta is stamped at its own meta", "[server][create]") {
  app_fixture app;
  // A collection Bundle whose entry comes before resourceType, holding a Patient whose meta looks like the
  // store's placeholder.
  std::string body = R"({"entry":[{"fullUrl":"urn:uuid:5f0c4d6e-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","meta":{"versionId":"0","lastUpdated":"1970-01-01T00:00:00.000Z"}}}],"resourceType":"Bundle","id":"b1","type":"collection"})";
  auto r = app.put("/fhir/Bundle/b1", body, {{"Content-Type", "application/fhir+json"}});
  INFO(r.http.body);
  REQUIRE(r.status() == 201);
  auto stored = read_ok(app, "Bundle/b1");
  CHECK(text(stored.find("meta"), "versionId") == "1");
  const auto& inner = stored.find("entry")->as_array()[0].find("resource")->find("meta");
  CHECK(text(inner, "versionId") == "0");
}

TEST_CASE("a urn:uuid reference to an entry of the wrong type is refused like a literal one", "[server][bundle]") {
  app_fixture app;
  std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:7a1e0c55-0000-4000-8000-000000000001","resource":{"resourceType":"Medication","code":{"text":"Aspirin"}},"request":{"method":"POST","url":"Medication"}},
    {"resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]},
                 "subject":{"reference":"urn:uuid:7a1e0c55-0000-4000-8000-000000000001"},"effectiveDateTime":"2024-02-10T10:00:00Z",
                 "valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}},
     "request":{"method":"POST","url":"Observation"}}]})";
  auto r = app.post("/fhir", bundle, {{"Content-Type", "application/fhir+json"}});
  INFO(r.http.body);
  CHECK((r.status() == 400 || r.status() == 422));
  auto expressions = r.issue_expressions();
  REQUIRE(!expressions.empty());
  CHECK(expressions[0].starts_with("Bundle.entry[1]"));
  CHECK(matches(app, "Medication") == 0);
}
