#include <fstream>

#include "server/loader.hpp"
#include "tests/server/app_fixture.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_data.hpp"

using fhir::testing::app_fixture;

namespace {
void write(const std::filesystem::path& path, std::string_view text) {
  std::ofstream(path) << text;
}

std::unique_ptr<server::application> open_app(const fhir::testing::temp_dir& db) {
  auto app = server::application::open(fhir::definitions::r4(),
                                       server::application_options{.database_path = db.file("t.db"), .base_url = "http://x/fhir",
                                                               .auth = {.mode = server::auth::auth_mode::dev}});
  REQUIRE(app.ok());
  return std::move(*app);
}
}  // namespace

TEST_CASE("loading a directory stores resources and unpacks Bundles, and loading again changes nothing", "[server][loader]") {
  fhir::testing::temp_dir data;
  write(data.path() / "a.json", R"({"resourceType":"Patient","id":"a","active":true})");
  write(data.path() / "b.json", R"({"resourceType":"Bundle","type":"collection","entry":[
      {"resource":{"resourceType":"Organization","id":"o1","name":"GP"}},
      {"resource":{"resourceType":"Observation","id":"x1","status":"final","code":{"text":"x"}}}]})");
  write(data.path() / "ignored.txt", "not json");

  fhir::testing::temp_dir db;
  auto app = open_app(db);
  auto first = server::load_directory(app->context(), data.path());
  REQUIRE(first.ok());
  CHECK(first->files == 2);
  CHECK(first->created == 3);
  auto second = server::load_directory(app->context(), data.path());
  REQUIRE(second.ok());
  CHECK(second->unchanged == 3);
  CHECK(second->created == 0);
  CHECK(app->context().store.read("Organization", "o1")->info.version == 1);

  write(data.path() / "a.json", R"({"resourceType":"Patient","id":"a","active":false})");
  auto third = server::load_directory(app->context(), data.path());
  REQUIRE(third.ok());
  CHECK(third->updated == 1);
  CHECK(app->context().store.read("Patient", "a")->info.version == 2);
}

TEST_CASE("loading stops at an invalid resource and names it", "[server][loader]") {
  fhir::testing::temp_dir data;
  write(data.path() / "bad.json", R"({"resourceType":"Patient","gender":"nope  nope"})");
  fhir::testing::temp_dir db;
  auto app = open_app(db);
  auto loaded = server::load_directory(app->context(), data.path());
  REQUIRE_FALSE(loaded.ok());
  CHECK_THAT(loaded.error().summary(), Catch::Contains("bad.json"));
  CHECK_THAT(loaded.error().summary(), Catch::Contains("Patient.gender"));
}

TEST_CASE("the README example data loads", "[server][loader]") {
  fhir::testing::temp_dir db;
  auto app = open_app(db);
  auto loaded = server::load_directory(app->context(), fhir::testing::source_dir() / "examples" / "data");
  INFO((loaded.ok() ? "" : loaded.error().summary()));
  REQUIRE(loaded.ok());
  CHECK(loaded->created > 5);
}
