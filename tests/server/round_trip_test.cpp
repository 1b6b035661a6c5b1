// POST then GET returns the same content plus meta: for the UK Core examples, the project's examples and
// one conformance resource of each type from the R4 definitions.
#include <map>
#include <set>

#include "fhir/definitions/r4.hpp"
#include "fhir/json/serialize.hpp"
#include "tests/server/app_fixture.hpp"
#include "tests/support/json_compare.hpp"
#include "tests/support/test_data.hpp"
#include "tests/support/ukcore_exceptions.hpp"

using fhir::testing::app_fixture;

namespace {

void check_round_trip(const app_fixture& app, const std::string& text, const std::string& label) {
  auto original = fhir::json::parse(text);
  REQUIRE(original.ok());
  std::string type(*original->find_string("resourceType"));
  INFO(label);
  // AuditEvents are written by the server only; Consents by consent administrators, acting for
  // patient administration (the development user holds that role too).
  if (type == "AuditEvent") {
    CHECK(app.post("/fhir/" + type, text).status() == 405);
    return;
  }
  std::vector<server::http::header> headers = {{"Content-Type", "application/fhir+json"}};
  if (type == "Consent") headers.push_back({"X-Purpose-Of-Use", "PATADMIN"});
  auto created = app.post("/fhir/" + type, text, headers);
  INFO(created.http.body.substr(0, 2000));
  REQUIRE(created.status() == 201);
  std::string id = *created.json().find_string("id");
  auto read = app.get("/fhir/" + type + "/" + id, headers);
  REQUIRE(read.status() == 200);
  auto stored = read.json();
  CHECK(*stored.find_string("id") == id);
  CHECK(*stored.find("meta")->find_string("versionId") == "1");
  CHECK(fhir::testing::same_content(fhir::testing::without_server_meta(stored),
                                    fhir::testing::without_server_meta(std::move(*original))));
}

}  // namespace

TEST_CASE("UK Core examples round-trip through create and read", "[server][round-trip][ukcore]") {
  auto dir = fhir::testing::shared_data("ukcore/examples");
  if (!dir) return;
  app_fixture app;
  std::size_t checked = 0;
  for (const auto& file : fhir::testing::json_files(*dir)) {
    if (fhir::testing::find_ukcore_exception(file.filename().string())) continue;  // rejected, with the reason named there
    check_round_trip(app, fhir::testing::read_file(file), file.filename().string());
    ++checked;
  }
  CHECK(checked > 200);
}

TEST_CASE("the project's example data round-trips", "[server][round-trip]") {
  app_fixture app;
  auto files = fhir::testing::json_files(fhir::testing::source_dir() / "examples" / "data");
  REQUIRE_FALSE(files.empty());
  for (const auto& file : files) check_round_trip(app, fhir::testing::read_file(file), file.filename().string());
}

TEST_CASE("R4 conformance resources of every kind round-trip", "[server][round-trip][r4]") {
  app_fixture app;
  std::set<std::string> done;
  std::string_view text = fhir::definitions::r4_ndjson();
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string line(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    auto parsed = fhir::json::parse(line);
    REQUIRE(parsed.ok());
    std::string type(*parsed->find_string("resourceType"));
    if (!done.insert(type).second) continue;
    check_round_trip(app, line, type);
  }
  CHECK(done.size() >= 7);  // StructureDefinition, SearchParameter, ValueSet, CodeSystem, ...
}
