#include "tests/server/app_fixture.hpp"
#include "tests/server/requests.hpp"

using fhir::testing::app_fixture;
using fhir::testing::matches;

namespace {

const std::string controller_tag = "https://shared-care-record.github.io/fhir/CodeSystem/data-controller";

std::vector<server::http::header> from(std::string ods) {
  return {{"Content-Type", "application/fhir+json"}, fhir::testing::as_organisation(ods)};
}

std::string patient(std::string_view id, std::string_view extra_meta = "") {
  std::string meta = extra_meta.empty() ? "" : R"("meta":{)" + std::string(extra_meta) + "},";
  std::string id_member = id.empty() ? "" : R"("id":")" + std::string(id) + R"(",)";
  return R"({"resourceType":"Patient",)" + id_member + meta + R"("name":[{"family":"Feed"}]})";
}

}  // namespace

TEST_CASE("writes record the sending organisation as the data controller, searchable by _tag", "[server][provenance]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/a", patient("a"), from("RVV")).status() == 201);
  REQUIRE(app.post("/fhir/Patient", patient(""), from("Y01234")).status() == 201);
  REQUIRE(app.put("/fhir/Patient/c", patient("c"), {{"Content-Type", "application/fhir+json"}}).status() == 201);
  auto stored = app.get("/fhir/Patient/a").json();
  const auto& tag = stored.find("meta")->find("tag")->as_array().at(0);
  CHECK(*tag.find_string("system") == controller_tag);
  CHECK(*tag.find_string("code") == "RVV");
  CHECK(matches(app, "Patient?_tag=" + controller_tag + "|RVV") == 1);
  CHECK(matches(app, "Patient?_tag=" + controller_tag + "|Y01234") == 1);
  // A nightly re-feed of the same content from the same organisation writes no new version.
  auto again = app.put("/fhir/Patient/a", patient("a"), from("RVV"));
  CHECK(again.status() == 200);
  CHECK(*again.json().find("meta")->find_string("versionId") == "1");
}

TEST_CASE("a feed cannot write for another controller, and a malformed ODS code is 400", "[server][provenance][errors]") {
  app_fixture app;
  auto other = app.put("/fhir/Patient/a", patient("a", R"("tag":[{"system":")" + controller_tag + R"(","code":"GP1"}])"), from("RVV"));
  CHECK(other.status() == 422);
  CHECK(other.issue_ids() == std::vector<std::string>{"data-controller-mismatch"});
  CHECK(app.put("/fhir/Patient/a", patient("a"), from("not an ods code")).status() == 400);
  CHECK(app.get("/fhir/Patient/a").status() == 404);
}

TEST_CASE("transaction and batch entries carry the sender's controller tag, and _source finds a feed's system", "[server][provenance][bundle]") {
  app_fixture app;
  std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":)" + patient("t1", R"("source":"https://gp-system.example/feeds/nightly")") +
                       R"(,"request":{"method":"PUT","url":"Patient/t1"}},
    {"resource":)" + patient("t2") + R"(,"request":{"method":"PUT","url":"Patient/t2"}}]})";
  auto r = app.post("/fhir", bundle, from("RVV"));
  INFO(r.http.body);
  REQUIRE(r.status() == 200);
  CHECK(matches(app, "Patient?_tag=" + controller_tag + "|RVV") == 2);
  CHECK(matches(app, "Patient?_source=https://gp-system.example/feeds/nightly") == 1);
  std::string batch = R"({"resourceType":"Bundle","type":"batch","entry":[{"resource":)" + patient("b1") +
                      R"(,"request":{"method":"PUT","url":"Patient/b1"}}]})";
  REQUIRE(app.post("/fhir", batch, from("AMB1")).status() == 200);
  CHECK(matches(app, "Patient?_tag=" + controller_tag + "|AMB1") == 1);
}
