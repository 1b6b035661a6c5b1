#include <set>

#include "tests/server/app_fixture.hpp"

using fhir::testing::app_fixture;

namespace {

const std::vector<server::http::header> fhir_json = {{"Content-Type", "application/fhir+json"}};

std::string observation(std::string_view id, std::string_view subject, std::string_view when, std::string_view performer = "") {
  std::string out = R"({"resourceType":"Observation","id":")" + std::string(id) +
                    R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]},"subject":{"reference":")" +
                    std::string(subject) + R"("},"effectiveDateTime":")" + std::string(when) + R"(")";
  if (!performer.empty()) out += R"(,"performer":[{"reference":")" + std::string(performer) + R"("}])";
  return out + R"(,"valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}})";
}

// A record: a GP practice, a GP, a medication; patient p1 with observations (one performed by the GP), a
// condition and a medication statement; patient p2 with an observation of their own.
void load_record(const app_fixture& app) {
  auto put = [&](std::string target, std::string body) {
    auto r = app.put(target, body, fhir_json);
    INFO(target << ": " << r.http.body);
    REQUIRE((r.status() == 201 || r.status() == 200));
  };
  put("/fhir/Organization/gp", R"({"resourceType":"Organization","id":"gp","name":"Park Lane Surgery"})");
  put("/fhir/Practitioner/dr", R"({"resourceType":"Practitioner","id":"dr","name":[{"family":"Who"}]})");
  put("/fhir/Medication/med1", R"({"resourceType":"Medication","id":"med1","code":{"text":"Amlodipine 5mg tablets"}})");
  put("/fhir/Patient/p1", R"({"resourceType":"Patient","id":"p1","name":[{"family":"One"}],"generalPractitioner":[{"reference":"Organization/gp"}]})");
  put("/fhir/Patient/p2", R"({"resourceType":"Patient","id":"p2","name":[{"family":"Two"}]})");
  put("/fhir/Observation/o1", observation("o1", "Patient/p1", "2024-01-10T09:00:00Z", "Practitioner/dr"));
  put("/fhir/Observation/o2", observation("o2", "Patient/p1", "2020-05-05T09:00:00Z"));
  put("/fhir/Observation/o3", observation("o3", "Patient/p2", "2024-01-10T09:00:00Z"));
  put("/fhir/Condition/c1", R"({"resourceType":"Condition","id":"c1","code":{"text":"Hypertension"},"subject":{"reference":"Patient/p1"}})");
  put("/fhir/MedicationStatement/m1",
      R"({"resourceType":"MedicationStatement","id":"m1","status":"active","medicationReference":{"reference":"Medication/med1"},"subject":{"reference":"Patient/p1"}})");
}

struct page {
  std::multiset<std::string> matches, includes;
  std::string next;
};

page read_page(const app_fixture& app, const std::string& target) {
  auto r = app.get(target);
  INFO(target << ": " << r.http.body);
  REQUIRE(r.status() == 200);
  auto bundle = r.json();
  CHECK(*bundle.find_string("type") == "searchset");
  page out;
  if (const auto* entries = bundle.find("entry"))
    for (const auto& e : entries->as_array()) {
      std::string key = *e.find("resource")->find_string("resourceType") + "/" + *e.find("resource")->find_string("id");
      (*e.find("search")->find_string("mode") == "match" ? out.matches : out.includes).insert(key);
    }
  if (const auto* links = bundle.find("link"))
    for (const auto& l : links->as_array())
      if (*l.find_string("relation") == "next") out.next = l.find_string("url")->substr(std::string(app_fixture::base).size() - 5);
  return out;
}

}  // namespace

TEST_CASE("$everything returns the patient, their compartment and the resources it references", "[server][everything]") {
  app_fixture app;
  load_record(app);
  auto all = read_page(app, "/fhir/Patient/p1/$everything");
  CHECK(all.matches == std::multiset<std::string>{"Patient/p1", "Observation/o1", "Observation/o2", "Condition/c1", "MedicationStatement/m1"});
  CHECK(all.includes == std::multiset<std::string>{"Organization/gp", "Practitioner/dr", "Medication/med1"});
  CHECK(all.next.empty());
}

TEST_CASE("$everything narrows by _type, start and end, and _since", "[server][everything]") {
  app_fixture app;
  load_record(app);
  CHECK(read_page(app, "/fhir/Patient/p1/$everything?_type=Observation").matches ==
        std::multiset<std::string>{"Observation/o1", "Observation/o2"});
  // Observation has a clinical date; Condition and MedicationStatement have no `date` parameter and stay.
  auto recent = read_page(app, "/fhir/Patient/p1/$everything?start=2023-01-01&end=2025-12-31");
  CHECK(recent.matches == std::multiset<std::string>{"Patient/p1", "Observation/o1", "Condition/c1", "MedicationStatement/m1"});
  CHECK(read_page(app, "/fhir/Patient/p1/$everything?_since=2999-01-01T00:00:00Z").matches.empty());
  CHECK(app.get("/fhir/Patient/p1/$everything?_type=Nonsense").status() == 400);
}

TEST_CASE("$everything pages through next links without repeats or gaps", "[server][everything]") {
  app_fixture app;
  load_record(app);
  std::multiset<std::string> seen;
  int pages = 0;
  for (std::string target = "/fhir/Patient/p1/$everything?_count=2"; !target.empty(); ++pages) {
    REQUIRE(pages < 10);
    auto p = read_page(app, target);
    CHECK(p.matches.size() <= 2);
    seen.insert(p.matches.begin(), p.matches.end());
    target = p.next;
  }
  CHECK(pages == 3);
  CHECK(seen == std::multiset<std::string>{"Patient/p1", "Observation/o1", "Observation/o2", "Condition/c1", "MedicationStatement/m1"});
}

TEST_CASE("$everything of an unknown patient is 404, and it is only defined on Patient", "[server][everything]") {
  app_fixture app;
  load_record(app);
  CHECK(app.get("/fhir/Patient/nobody/$everything").status() == 404);
  CHECK(app.get("/fhir/Observation/o1/$everything").status() == 404);
  auto metadata = app.get("/fhir/metadata").json();
  bool declared = false;
  for (const auto& r : metadata.find("rest")->as_array()[0].find("resource")->as_array())
    if (*r.find_string("type") == "Patient")
      for (const auto& op : r.find("operation")->as_array()) declared = declared || *op.find_string("name") == "everything";
  CHECK(declared);
}
