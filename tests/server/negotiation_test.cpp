#include "server/negotiation.hpp"
#include "tests/server/app_fixture.hpp"

using fhir::testing::app_fixture;

TEST_CASE("the response format is FHIR JSON or 406", "[server][negotiation]") {
  app_fixture app;
  CHECK(app.get("/fhir/metadata").status() == 200);
  CHECK(app.get("/fhir/metadata", {{"Accept", "application/fhir+json"}}).status() == 200);
  CHECK(app.get("/fhir/metadata", {{"Accept", "application/json"}}).status() == 200);
  CHECK(app.get("/fhir/metadata", {{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}}).status() == 200);
  CHECK(app.get("/fhir/metadata", {{"Accept", "application/fhir+xml"}}).status() == 406);
  CHECK(app.get("/fhir/metadata", {{"Accept", "application/fhir+json;q=0, application/fhir+xml"}}).status() == 406);
  CHECK(app.get("/fhir/metadata?_format=json").status() == 200);
  CHECK(app.get("/fhir/metadata?_format=application/fhir%2Bjson").status() == 200);
  CHECK(app.get("/fhir/metadata?_format=xml").status() == 406);
  CHECK(app.get("/fhir/metadata?_format=xml").issue_ids() == std::vector<std::string>{"format-not-acceptable"});
  // _format wins over Accept.
  CHECK(app.get("/fhir/metadata?_format=json", {{"Accept", "application/fhir+xml"}}).status() == 200);
}

TEST_CASE("_pretty indents the response", "[server][negotiation]") {
  app_fixture app;
  auto pretty = app.get("/fhir/metadata?_pretty=true");
  CHECK(pretty.http.body.find("\n  \"resourceType\": \"CapabilityStatement\"") != std::string::npos);
  auto compact = app.get("/fhir/metadata?_pretty=false");
  CHECK(compact.http.body.find('\n') == std::string::npos);
}

TEST_CASE("Prefer header parsing", "[server][negotiation]") {
  using server::parse_prefer_return;
  using server::prefer_return;
  CHECK(parse_prefer_return(std::nullopt) == prefer_return::representation);
  CHECK(parse_prefer_return("return=minimal") == prefer_return::minimal);
  CHECK(parse_prefer_return("respond-async, return=\"OperationOutcome\"") == prefer_return::operation_outcome);
  CHECK(parse_prefer_return("handling=strict; return=representation") == prefer_return::representation);
  CHECK(parse_prefer_return("return=bogus") == prefer_return::representation);
}
