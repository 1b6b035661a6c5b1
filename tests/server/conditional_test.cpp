// Conditional interactions outside Bundles: conditional create (If-None-Exist), update (PUT [type]?criteria),
// delete (DELETE [type]?criteria), read (If-None-Match, If-Modified-Since), and updates that change nothing.
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fhir/json/value.hpp"
#include "fhir/time.hpp"
#include "tests/server/app_fixture.hpp"
#include "tests/server/requests.hpp"

using fhir::testing::app_fixture;
using namespace fhir::testing;
using fhir::testing::reply;
using Catch::Matchers::Contains;

namespace {

namespace json = fhir::json;

const std::string nhs_criteria = "identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009";

std::string patient(std::string_view id, std::string_view system, std::string_view value, std::string_view family = "Smith") {
  return fhir::testing::patient_with_identifier(id, system, value, family);
}

std::string mrn_patient(std::string_view id, std::string_view mrn, std::string_view family = "Smith") {
  return patient(id, "http://example.org/mrn", mrn, family);
}

std::string nhs_patient(std::string_view id, std::string_view nhs_number, std::string_view family = "Smith") {
  return patient(id, "https://fhir.nhs.uk/Id/nhs-number", nhs_number, family);
}

std::string family_of(const json::value& patient) { return text(first(patient.find("name")), "family"); }
std::string version_of(const json::value& resource) { return text(resource.find("meta"), "versionId"); }

std::string post_ok(const app_fixture& app, const std::string& body) { return fhir::testing::post_ok(app, "Patient", body); }

void check_outcome(const reply& r, unsigned status) {
  INFO(r.http.body);
  CHECK(r.status() == status);
  auto outcome = r.json();
  CHECK(text(&outcome, "resourceType") == "OperationOutcome");
}

}  // namespace

// --- Conditional create ----------------------------------------------------------------------------------

TEST_CASE("conditional create without a match creates the resource with 201", "[server][conditional]") {
  app_fixture app;
  post_ok(app, nhs_patient("", "9434765919", "Other"));
  auto r = app.post("/fhir/Patient", nhs_patient("", "9000000009"), {{"If-None-Exist", nhs_criteria}});
  INFO(r.http.body);
  REQUIRE(r.status() == 201);
  auto body = r.json();
  std::string id = text(&body, "id");
  REQUIRE_FALSE(id.empty());
  CHECK(r.header("Location") == std::string(app_fixture::base) + "/Patient/" + id + "/_history/1");
  CHECK(r.header("ETag") == "W/\"1\"");
  CHECK(matches(app, "Patient?" + nhs_criteria) == 1);
}

TEST_CASE("conditional create with one match returns it with 200 and creates nothing", "[server][conditional]") {
  app_fixture app;
  std::string existing = post_ok(app, nhs_patient("", "9000000009", "Existing"));
  std::size_t before = history_size(app);
  auto r = app.post("/fhir/Patient", nhs_patient("", "9000000009", "Duplicate"), {{"If-None-Exist", nhs_criteria}});
  INFO(r.http.body);
  REQUIRE(r.status() == 200);
  auto body = r.json();
  CHECK(text(&body, "id") == existing);
  CHECK(family_of(body) == "Existing");
  CHECK_THAT(r.header("Location"), Contains("/Patient/" + existing));
  CHECK(r.header("ETag") == "W/\"1\"");
  CHECK(matches(app, "Patient?" + nhs_criteria) == 1);
  CHECK(history_size(app) == before);
}

TEST_CASE("conditional create with several matches is 412 and creates nothing", "[server][conditional]") {
  app_fixture app;
  post_ok(app, nhs_patient("", "9000000009", "One"));
  post_ok(app, nhs_patient("", "9000000009", "Two"));
  std::size_t before = history_size(app);
  auto r = app.post("/fhir/Patient", nhs_patient("", "9000000009", "Three"), {{"If-None-Exist", nhs_criteria}});
  check_outcome(r, 412);
  CHECK(r.issue_ids() == std::vector<std::string>{"conditional-multiple-matches"});
  CHECK(matches(app, "Patient?" + nhs_criteria) == 2);
  CHECK(history_size(app) == before);
}

// A reference under the server's own base URL names the resource, however the match wrote it.
TEST_CASE("conditional create criteria may name a resource by the server's own absolute URL", "[server][conditional]") {
  app_fixture app;
  std::string pid = post_ok(app, nhs_patient("", "9000000009"));
  std::string observation = R"({"resourceType":"Observation","status":"final","code":{"text":"BP"},"subject":{"reference":"Patient/)" +
                            pid + R"("}})";
  std::string criteria = "subject=" + std::string(app_fixture::base) + "/Patient/" + pid + "&code:text=BP";
  auto first = app.post("/fhir/Observation", observation, {{"If-None-Exist", criteria}});
  INFO(first.http.body);
  REQUIRE(first.status() == 201);
  auto again = app.post("/fhir/Observation", observation, {{"If-None-Exist", criteria}});
  INFO(again.http.body);
  CHECK(again.status() == 200);  // found: the stored reference is relative
  CHECK(matches(app, "Observation?subject=Patient/" + pid) == 1);
}

// --- Conditional update ----------------------------------------------------------------------------------

TEST_CASE("conditional update without a match creates the resource with 201", "[server][conditional]") {
  app_fixture app;
  put_ok(app, "Patient/other", mrn_patient("other", "cu-other"));
  auto r = app.put("/fhir/Patient?identifier=http://example.org/mrn|cu-1", mrn_patient("", "cu-1", "Created"));
  INFO(r.http.body);
  REQUIRE(r.status() == 201);
  auto body = r.json();
  std::string id = text(&body, "id");
  REQUIRE_FALSE(id.empty());
  CHECK(id != "other");
  CHECK(version_of(body) == "1");
  CHECK(r.header("Location") == std::string(app_fixture::base) + "/Patient/" + id + "/_history/1");
  CHECK(family_of(read_ok(app, "Patient/" + id)) == "Created");
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|cu-1") == 1);
  CHECK(version_of(read_ok(app, "Patient/other")) == "1");
}

TEST_CASE("conditional update with one match updates that resource", "[server][conditional]") {
  app_fixture app;
  put_ok(app, "Patient/cu1", mrn_patient("cu1", "cu-1", "One"));
  put_ok(app, "Patient/other", mrn_patient("other", "cu-other"));

  auto without_id = app.put("/fhir/Patient?identifier=http://example.org/mrn|cu-1", mrn_patient("", "cu-1", "Two"));
  INFO(without_id.http.body);
  REQUIRE(without_id.status() == 200);
  auto body = without_id.json();
  CHECK(text(&body, "id") == "cu1");
  CHECK(version_of(body) == "2");
  CHECK(without_id.header("ETag") == "W/\"2\"");
  CHECK(family_of(read_ok(app, "Patient/cu1")) == "Two");

  auto with_id = app.put("/fhir/Patient?identifier=http://example.org/mrn|cu-1", mrn_patient("cu1", "cu-1", "Three"));
  INFO(with_id.http.body);
  CHECK(with_id.status() == 200);
  CHECK(with_id.header("ETag") == "W/\"3\"");
  CHECK(family_of(read_ok(app, "Patient/cu1")) == "Three");
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|cu-1") == 1);
  CHECK(version_of(read_ok(app, "Patient/other")) == "1");
}

TEST_CASE("conditional update whose body id is not the match is 400 and changes nothing", "[server][conditional]") {
  app_fixture app;
  put_ok(app, "Patient/cu1", mrn_patient("cu1", "cu-1", "One"));
  std::size_t before = history_size(app);
  auto r = app.put("/fhir/Patient?identifier=http://example.org/mrn|cu-1", mrn_patient("someone-else", "cu-1", "Two"));
  check_outcome(r, 400);
  auto kept = read_ok(app, "Patient/cu1");
  CHECK(version_of(kept) == "1");
  CHECK(family_of(kept) == "One");
  CHECK(app.get("/fhir/Patient/someone-else").status() == 404);
  CHECK(history_size(app) == before);
}

TEST_CASE("conditional update with several matches is 412 and changes nothing", "[server][conditional]") {
  app_fixture app;
  put_ok(app, "Patient/a", mrn_patient("a", "cu-dup", "A"));
  put_ok(app, "Patient/b", mrn_patient("b", "cu-dup", "B"));
  std::size_t before = history_size(app);
  auto r = app.put("/fhir/Patient?identifier=http://example.org/mrn|cu-dup", mrn_patient("", "cu-dup", "C"));
  check_outcome(r, 412);
  CHECK(family_of(read_ok(app, "Patient/a")) == "A");
  CHECK(family_of(read_ok(app, "Patient/b")) == "B");
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|cu-dup") == 2);
  CHECK(history_size(app) == before);
}

// --- Conditional delete ----------------------------------------------------------------------------------

TEST_CASE("conditional delete of the single match deletes it", "[server][conditional]") {
  app_fixture app;
  put_ok(app, "Patient/cd1", mrn_patient("cd1", "cd-1"));
  put_ok(app, "Patient/keep", mrn_patient("keep", "cd-keep"));
  auto r = app.del("/fhir/Patient?identifier=http://example.org/mrn|cd-1");
  INFO(r.http.body);
  CHECK((r.status() == 200 || r.status() == 204));
  CHECK(app.get("/fhir/Patient/cd1").status() == 410);
  CHECK(app.get("/fhir/Patient/keep").status() == 200);
  CHECK(matches(app, "Patient?identifier=http://example.org/mrn|cd-1") == 0);
}

TEST_CASE("conditional delete without a match succeeds and changes nothing", "[server][conditional]") {
  app_fixture app;
  put_ok(app, "Patient/keep", mrn_patient("keep", "cd-keep"));
  std::size_t before = history_size(app);
  auto r = app.del("/fhir/Patient?identifier=http://example.org/mrn|cd-none");
  INFO(r.http.body);
  CHECK((r.status() == 200 || r.status() == 204));
  CHECK(app.get("/fhir/Patient/keep").status() == 200);
  CHECK(history_size(app) == before);
}

TEST_CASE("conditional delete with several matches is 412 and deletes nothing", "[server][conditional]") {
  app_fixture app;
  put_ok(app, "Patient/a", mrn_patient("a", "cd-dup"));
  put_ok(app, "Patient/b", mrn_patient("b", "cd-dup"));
  std::size_t before = history_size(app);
  auto r = app.del("/fhir/Patient?identifier=http://example.org/mrn|cd-dup");
  check_outcome(r, 412);
  CHECK(app.get("/fhir/Patient/a").status() == 200);
  CHECK(app.get("/fhir/Patient/b").status() == 200);
  CHECK(history_size(app) == before);
}

TEST_CASE("conditional interactions with an unknown search parameter are 400 rather than matching everything", "[server][conditional][errors]") {
  app_fixture app;
  put_ok(app, "Patient/only", mrn_patient("only", "strict-1", "Only"));
  std::size_t before = history_size(app);
  SECTION("If-None-Exist") {
    check_outcome(app.post("/fhir/Patient", mrn_patient("", "strict-2"), {{"If-None-Exist", "no-such-parameter=x"}}), 400);
  }
  SECTION("conditional update") {
    check_outcome(app.put("/fhir/Patient?no-such-parameter=x", mrn_patient("", "strict-2", "Overwritten")), 400);
  }
  SECTION("conditional delete") { check_outcome(app.del("/fhir/Patient?no-such-parameter=x"), 400); }
  auto kept = read_ok(app, "Patient/only");
  CHECK(family_of(kept) == "Only");
  CHECK(version_of(kept) == "1");
  CHECK(history_size(app) == before);
}

// --- Conditional read ------------------------------------------------------------------------------------

TEST_CASE("If-None-Match on a read answers 304 without a body while the version is current", "[server][conditional][read]") {
  app_fixture app;
  put_ok(app, "Patient/r1", mrn_patient("r1", "r-1", "One"));

  auto not_modified = app.get("/fhir/Patient/r1", {{"If-None-Match", "W/\"1\""}});
  CHECK(not_modified.status() == 304);
  CHECK(not_modified.http.body.empty());
  auto other_version = app.get("/fhir/Patient/r1", {{"If-None-Match", "W/\"2\""}});
  CHECK(other_version.status() == 200);
  CHECK(other_version.header("ETag") == "W/\"1\"");

  put_ok(app, "Patient/r1", mrn_patient("r1", "r-1", "Two"));
  auto changed = app.get("/fhir/Patient/r1", {{"If-None-Match", "W/\"1\""}});
  INFO(changed.http.body);
  REQUIRE(changed.status() == 200);
  CHECK(changed.header("ETag") == "W/\"2\"");
  CHECK(family_of(changed.json()) == "Two");
  auto current = app.get("/fhir/Patient/r1", {{"If-None-Match", "W/\"2\""}});
  CHECK(current.status() == 304);
  CHECK(current.http.body.empty());
}

TEST_CASE("If-Modified-Since on a read answers 304 unless the resource changed after the date", "[server][conditional][read]") {
  app_fixture app;
  put_ok(app, "Patient/r1", mrn_patient("r1", "r-1", "One"));
  auto first_read = app.get("/fhir/Patient/r1");
  REQUIRE(first_read.status() == 200);
  std::string last_modified = first_read.header("Last-Modified");
  INFO("Last-Modified: " << last_modified);
  REQUIRE(fhir::parse_http_date(last_modified).has_value());

  CHECK(app.get("/fhir/Patient/r1", {{"If-Modified-Since", "Mon, 01 Jan 1990 00:00:00 GMT"}}).status() == 200);
  // Clients echo Last-Modified back: at HTTP-date (second) precision the resource is not newer than it.
  auto echoed = app.get("/fhir/Patient/r1", {{"If-Modified-Since", last_modified}});
  CHECK(echoed.status() == 304);
  CHECK(echoed.http.body.empty());

  // A date after the resource's lastUpdated (and not in the future, which a server may ignore).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto later = app.get("/fhir/Patient/r1", {{"If-Modified-Since", fhir::format_http_date(fhir::now_ms())}});
  CHECK(later.status() == 304);
  CHECK(later.http.body.empty());

  // Updated after the first Last-Modified: modified since it.
  put_ok(app, "Patient/r1", mrn_patient("r1", "r-1", "Two"));
  auto modified = app.get("/fhir/Patient/r1", {{"If-Modified-Since", last_modified}});
  CHECK(modified.status() == 200);
  CHECK(modified.header("ETag") == "W/\"2\"");
}

// --- Updates that change nothing -------------------------------------------------------------------------

TEST_CASE("an update whose content equals the current version writes no new version", "[server][conditional][update]") {
  app_fixture app;
  const std::string original = mrn_patient("n1", "noop-1", "Same");
  auto created = app.put("/fhir/Patient/n1", original);
  REQUIRE(created.status() == 201);

  auto again = app.put("/fhir/Patient/n1", original);
  INFO(again.http.body);
  REQUIRE(again.status() == 200);
  CHECK(again.header("ETag") == "W/\"1\"");
  CHECK(version_of(again.json()) == "1");
  CHECK(history_size(app, "/fhir/Patient/n1/_history") == 1);
  CHECK(version_of(read_ok(app, "Patient/n1")) == "1");

  auto changed = app.put("/fhir/Patient/n1", mrn_patient("n1", "noop-1", "Changed"));
  REQUIRE(changed.status() == 200);
  CHECK(changed.header("ETag") == "W/\"2\"");
  CHECK(version_of(changed.json()) == "2");
  CHECK(history_size(app, "/fhir/Patient/n1/_history") == 2);

  // Equal to version 1 but not to the current version 2: a new version.
  auto back = app.put("/fhir/Patient/n1", original);
  REQUIRE(back.status() == 200);
  CHECK(back.header("ETag") == "W/\"3\"");
  CHECK(history_size(app, "/fhir/Patient/n1/_history") == 3);
}

TEST_CASE("conditional delete of several matches deletes them all when the server allows it", "[server][conditional]") {
  app_fixture app(server::application_options{.conditional_delete_multiple = true});
  put_ok(app, "Patient/m1", mrn_patient("m1", "shared-mrn"));
  put_ok(app, "Patient/m2", mrn_patient("m2", "shared-mrn"));
  auto r = app.del("/fhir/Patient?identifier=http://example.org/mrn|shared-mrn");
  CHECK(r.status() == 200);
  CHECK(app.get("/fhir/Patient/m1").status() == 410);
  CHECK(app.get("/fhir/Patient/m2").status() == 410);
  auto metadata = app.get("/fhir/metadata").json();
  for (const auto& resource : metadata.find("rest")->as_array()[0].find("resource")->as_array())
    if (text(&resource, "type") == "Patient") CHECK(text(&resource, "conditionalDelete") == "multiple");
}

TEST_CASE("with unchanged updates versioned, every update makes a version", "[server][conditional][update]") {
  app_fixture app(server::application_options{.skip_unchanged_updates = false});
  put_ok(app, "Patient/v1", mrn_patient("v1", "same"));
  put_ok(app, "Patient/v1", mrn_patient("v1", "same"));
  CHECK(version_of(read_ok(app, "Patient/v1")) == "2");
}
