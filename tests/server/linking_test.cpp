#include <set>

#include "tests/server/app_fixture.hpp"

using fhir::testing::app_fixture;

namespace {

const std::vector<server::http::header> fhir_json = {{"Content-Type", "application/fhir+json"}};

// A Patient with NHS number 9434765919 and the given verification status code ("01": verified).
std::string patient(std::string_view id, std::string_view status, std::string_view link = "") {
  std::string out = R"({"resourceType":"Patient","id":")" + std::string(id) + R"(","identifier":[{"extension":[{"url":"https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus","valueCodeableConcept":{"coding":[{"system":"https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland","code":")" +
                    std::string(status) + R"("}]}}],"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],"name":[{"family":"Evans"}])";
  if (!link.empty()) out += R"(,"link":[{"other":{"reference":")" + std::string(link) + R"("},"type":"seealso"}])";
  return out + "}";
}

std::string observation(std::string_view id, std::string_view subject) {
  return R"({"resourceType":"Observation","id":")" + std::string(id) +
         R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]},"subject":{"reference":")" +
         std::string(subject) + R"("},"effectiveDateTime":"2024-02-10T10:00:00Z","valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}})";
}

std::set<std::string> matches(const app_fixture& app, const std::string& target) {
  auto r = app.get(target);
  INFO(target << ": " << r.http.body);
  REQUIRE(r.status() == 200);
  std::set<std::string> out;
  auto bundle = r.json();
  if (const auto* entries = bundle.find("entry"))
    for (const auto& e : entries->as_array())
      if (*e.find("search")->find_string("mode") == "match")
        out.insert(*e.find("resource")->find_string("resourceType") + "/" + *e.find("resource")->find_string("id"));
  return out;
}

void load(const app_fixture& app) {
  auto put = [&](const std::string& target, const std::string& body) {
    auto r = app.put(target, body, fhir_json);
    INFO(target << ": " << r.http.body);
    REQUIRE(r.status() == 201);
  };
  put("/fhir/Patient/gp-a", patient("gp-a", "01"));      // the GP's record, verified
  put("/fhir/Patient/acute-b", patient("acute-b", "01"));  // the hospital's record of the same person, verified
  put("/fhir/Patient/mh-c", patient("mh-c", "02"));        // same number, not verified: not linked
  put("/fhir/Observation/o-a", observation("o-a", "Patient/gp-a"));
  put("/fhir/Observation/o-b", observation("o-b", "Patient/acute-b"));
  put("/fhir/Observation/o-c", observation("o-c", "Patient/mh-c"));
}

}  // namespace

TEST_CASE("records of the same person with the same verified NHS number are joined in $everything and compartments", "[server][linking]") {
  app_fixture app;
  load(app);
  CHECK(matches(app, "/fhir/Patient/gp-a/$everything") ==
        std::set<std::string>{"Patient/gp-a", "Patient/acute-b", "Observation/o-a", "Observation/o-b"});
  CHECK(matches(app, "/fhir/Patient/acute-b/Observation") == std::set<std::string>{"Observation/o-a", "Observation/o-b"});
  // An unverified number links nothing, either way.
  CHECK(matches(app, "/fhir/Patient/mh-c/Observation") == std::set<std::string>{"Observation/o-c"});
}

TEST_CASE("Patient.link sent by a feed joins the linked record", "[server][linking]") {
  app_fixture app;
  load(app);
  REQUIRE(app.put("/fhir/Patient/amb-d", patient("amb-d", "02", "Patient/mh-c"), fhir_json).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o-d", observation("o-d", "Patient/amb-d"), fhir_json).status() == 201);
  CHECK(matches(app, "/fhir/Patient/amb-d/$everything?_type=Observation") ==
        std::set<std::string>{"Observation/o-c", "Observation/o-d"});
}
