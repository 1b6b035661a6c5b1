#include <chrono>
#include <thread>

#include "fhir/time.hpp"
#include "server/http/url.hpp"
#include "tests/server/app_fixture.hpp"

using fhir::testing::app_fixture;

namespace {

std::string with_id(std::string_view id, std::string_view family) {
  return R"({"resourceType":"Patient","id":")" + std::string(id) + R"(","name":[{"family":")" + std::string(family) + R"("}]})";
}

std::string link(const fhir::json::value& bundle, std::string_view relation) {
  if (const auto* links = bundle.find("link"))
    for (const auto& l : links->as_array())
      if (*l.find_string("relation") == relation) return *l.find_string("url");
  return {};
}

// A link URL back to a request target for the in-process app.
std::string target_of(const std::string& url) { return url.substr(std::string(app_fixture::base).size() - 5); }

}  // namespace

TEST_CASE("instance history lists versions newest first with request and response", "[server][history]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", with_id("p1", "One")).status() == 201);
  REQUIRE(app.put("/fhir/Patient/p1", with_id("p1", "Two")).status() == 200);
  REQUIRE(app.del("/fhir/Patient/p1").status() == 200);
  auto r = app.get("/fhir/Patient/p1/_history");
  REQUIRE(r.status() == 200);
  auto bundle = r.json();
  CHECK(*bundle.find_string("type") == "history");
  CHECK(bundle.find("total")->as_number().text == "3");
  const auto& entries = bundle.find("entry")->as_array();
  REQUIRE(entries.size() == 3);
  CHECK(*entries[0].find("request")->find_string("method") == "DELETE");
  CHECK(entries[0].find("resource") == nullptr);
  CHECK(*entries[1].find("request")->find_string("method") == "PUT");
  CHECK(*entries[1].find("response")->find_string("etag") == "W/\"2\"");
  CHECK(*entries[2].find("request")->find_string("method") == "PUT");  // created by PUT with a client id
  CHECK(*entries[2].find("response")->find_string("status") == "201 Created");
  CHECK(*entries[2].find_string("fullUrl") == std::string(app_fixture::base) + "/Patient/p1");
  CHECK(link(bundle, "self") == std::string(app_fixture::base) + "/Patient/p1/_history");
}

TEST_CASE("type and system history page with next links until the end", "[server][history]") {
  app_fixture app;
  for (int i = 0; i < 7; ++i) REQUIRE(app.put("/fhir/Patient/p" + std::to_string(i), with_id("p" + std::to_string(i), "X")).status() == 201);
  REQUIRE(app.post("/fhir/Observation", R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})").status() == 201);

  std::vector<std::string> seen;
  std::string target = "/fhir/Patient/_history?_count=3";
  int pages = 0;
  while (!target.empty()) {
    auto bundle = app.get(target).json();
    ++pages;
    if (const auto* entries = bundle.find("entry"))
      for (const auto& e : entries->as_array()) seen.push_back(*e.find("resource")->find_string("id"));
    std::string next = link(bundle, "next");
    target = next.empty() ? "" : target_of(next);
  }
  CHECK(pages == 3);
  CHECK(seen == std::vector<std::string>{"p6", "p5", "p4", "p3", "p2", "p1", "p0"});

  auto system = app.get("/fhir/_history").json();
  const auto& entries = system.find("entry")->as_array();
  CHECK(entries.size() == 8);
  CHECK(*entries[0].find("resource")->find_string("resourceType") == "Observation");
  CHECK(*entries[0].find("request")->find_string("method") == "POST");
}

TEST_CASE("_since keeps versions at or after the instant, and bad parameters are 400", "[server][history]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", with_id("p1", "One")).status() == 201);
  auto all = app.get("/fhir/_history").json();
  std::string last_updated = *all.find("entry")->as_array()[0].find("response")->find_string("lastModified");
  auto since = app.get("/fhir/_history?_since=" + server::http::percent_encode(last_updated)).json();
  CHECK(since.find("entry")->as_array().size() == 1);
  auto later = app.get("/fhir/_history?_since=2999-01-01T00:00:00Z").json();
  CHECK(later.find("entry") == nullptr);

  CHECK(app.get("/fhir/_history?_since=yesterday").status() == 400);
  CHECK(app.get("/fhir/_history?_count=0").status() == 400);
  CHECK(app.get("/fhir/_history?_count=-1").status() == 400);
  CHECK(app.get("/fhir/_history?_page=abc").status() == 404);  // not a page link of this server (page_cursor.hpp)
  CHECK(app.get("/fhir/_history?_at=yesterday").status() == 400);
  CHECK(app.get("/fhir/_history?_list=x").status() == 501);
  CHECK(app.get("/fhir/Patient/nobody/_history").status() == 404);
}

TEST_CASE("_at keeps the versions that were current at some point of the period", "[server][history]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", with_id("p1", "One")).status() == 201);
  REQUIRE(app.put("/fhir/Patient/p2", with_id("p2", "Two")).status() == 201);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::string between = fhir::format_instant(fhir::now_ms());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(app.put("/fhir/Patient/p1", with_id("p1", "One again")).status() == 200);
  REQUIRE(app.del("/fhir/Patient/p2").status() == 200);

  auto versions = [&](const std::string& target) {
    std::vector<std::string> out;
    auto bundle = app.get(target).json();
    if (const auto* entries = bundle.find("entry"))
      for (const auto& e : entries->as_array()) out.push_back(*e.find("response")->find_string("etag") + " " + *e.find_string("fullUrl"));
    return out;
  };
  std::string at = "?_at=" + server::http::percent_encode(between);
  // At that instant p1 was at version 1 and p2 at version 1 (deleted later).
  auto system = versions("/fhir/_history" + at);
  CHECK(system == std::vector<std::string>{"W/\"1\" " + std::string(app_fixture::base) + "/Patient/p2",
                                           "W/\"1\" " + std::string(app_fixture::base) + "/Patient/p1"});
  CHECK(versions("/fhir/Patient/p1/_history" + at) == std::vector<std::string>{"W/\"1\" " + std::string(app_fixture::base) + "/Patient/p1"});
  // A period covering everything keeps every version; one before anything keeps none.
  CHECK(versions("/fhir/Patient/_history?_at=" + between.substr(0, 4)).size() == 4);
  CHECK(versions("/fhir/_history?_at=1999").empty());
}
