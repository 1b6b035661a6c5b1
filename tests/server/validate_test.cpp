// $validate, and validation on create and update: 422 for invalid resources, 400 for malformed ones,
// nothing stored either way.
#include "tests/server/app_fixture.hpp"

#include <algorithm>

#include <fmt/format.h>

using fhir::testing::app_fixture;
using fhir::testing::reply;

namespace {

const std::string nhs_patient = R"({"resourceType":"Patient","id":"p1",
  "identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],"name":[{"family":"Smith"}]})";
// Breaks UK Core (two NHS numbers: the nhsNumber slice is 0..1) and this server's NHS number rule.
const std::string two_nhs_numbers = R"({"resourceType":"Patient",
  "identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"},
                {"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765918"}]})";
const std::string allergy_without_code = R"({"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/p1"}})";

bool has_issue(const reply& r, std::string_view id, std::string_view expression) {
  auto ids = r.issue_ids();
  auto expressions = r.issue_expressions();
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] == id && expressions[i] == expression) return true;
  return false;
}

std::string parameters(std::string_view resource, std::string_view extra = "") {
  return fmt::format(R"({{"resourceType":"Parameters","parameter":[{{"name":"resource","resource":{}}}{}]}})", resource, extra);
}

}  // namespace

TEST_CASE("POST [type]/$validate answers 200 with the OperationOutcome, valid or not", "[server][validate]") {
  app_fixture app;
  SECTION("a valid resource: one information issue") {
    auto r = app.post("/fhir/Patient/$validate", nhs_patient);
    CHECK(r.status() == 200);
    CHECK(r.json().find_string("resourceType")->compare("OperationOutcome") == 0);
    auto outcome = r.json();
    for (const auto& i : outcome.find("issue")->as_array()) CHECK(*i.find_string("severity") != "error");
  }
  SECTION("a resource without any issue: one information issue, as an OperationOutcome needs one") {
    auto r = app.post("/fhir/Basic/$validate", R"({"resourceType":"Basic","code":{"text":"note"},
        "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">note</div>"}})");
    INFO(r.http.body);
    CHECK(r.status() == 200);
    CHECK(r.issue_ids() == std::vector<std::string>{"validation-ok"});
  }
  SECTION("an invalid resource: the errors, with their locations, and still 200") {
    auto r = app.post("/fhir/Patient/$validate", two_nhs_numbers);
    INFO(r.http.body);
    CHECK(r.status() == 200);
    CHECK(has_issue(r, "profile-cardinality-max", "Patient.identifier"));
    CHECK(has_issue(r, "nhs-number-invalid", "Patient.identifier[1].value"));
  }
  SECTION("the UK Core profile applies without meta.profile") {
    auto r = app.post("/fhir/AllergyIntolerance/$validate", allergy_without_code);
    INFO(r.http.body);
    CHECK(r.status() == 200);
    CHECK(has_issue(r, "profile-cardinality-min", "AllergyIntolerance.code"));
  }
  SECTION("a Parameters body with resource and profile") {
    auto r = app.post("/fhir/Observation/$validate",
                      parameters(R"({"resourceType":"Observation","status":"final","code":{"text":"weight"},
                                     "valueQuantity":{"value":80,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}})",
                                 R"(,{"name":"profile","valueCanonical":"http://hl7.org/fhir/StructureDefinition/bodyweight"})"));
    INFO(r.http.body);
    CHECK(r.status() == 200);
    // The vital signs profile needs a subject, an effective time and the vital-signs category.
    CHECK(has_issue(r, "profile-cardinality-min", "Observation.subject"));
  }
  SECTION("?profile= with an unknown profile: an error issue saying so") {
    auto r = app.post("/fhir/Patient/$validate?profile=http://example.org/fhir/StructureDefinition/nope", nhs_patient);
    CHECK(r.status() == 200);
    CHECK(has_issue(r, "profile-unknown", "Patient"));
  }
  SECTION("structurally broken resources are reported too, with 200") {
    auto r = app.post("/fhir/Patient/$validate", R"({"resourceType":"Patient","shoeSize":12})");
    CHECK(r.status() == 200);
    CHECK(has_issue(r, "element-unknown", "Patient.shoeSize"));
  }
  SECTION("nothing is stored") {
    app.post("/fhir/Patient/$validate", nhs_patient);
    CHECK(app.get("/fhir/Patient/p1").status() == 404);
  }
}

TEST_CASE("$validate rejects requests it cannot act on", "[server][validate]") {
  app_fixture app;
  CHECK(app.post("/fhir/Patient/$validate", R"({"resourceType":"Patient",)").status() == 400);
  CHECK(app.post("/fhir/Patient/$validate", R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})").status() == 400);
  CHECK(app.post("/fhir/Patient/$validate", "").status() == 400);
  CHECK(app.post("/fhir/Patient/$validate?mode=sideways", nhs_patient).status() == 400);
  CHECK(app.post("/fhir/Patient/$validate?mode=delete", nhs_patient).status() == 400);  // needs an instance
  CHECK(app.post("/fhir/Patient/$validate", R"({"resourceType":"Parameters","parameter":[{"name":"colour","valueString":"red"}]})").status() == 400);
  CHECK(app.get("/fhir/Patient/$validate").status() == 405);
}

TEST_CASE("POST [type]/[id]/$validate checks an update or a delete of that instance", "[server][validate]") {
  app_fixture app;
  REQUIRE(app.put("/fhir/Patient/p1", nhs_patient).status() == 201);
  auto update = app.post("/fhir/Patient/p1/$validate", nhs_patient);
  CHECK(update.status() == 200);
  auto other_id = app.post("/fhir/Patient/p2/$validate", nhs_patient);
  CHECK(other_id.status() == 200);
  CHECK(has_issue(other_id, "id-mismatch", "Patient.id"));
  auto deletable = app.post("/fhir/Patient/p1/$validate?mode=delete", "");
  CHECK(deletable.status() == 200);
  CHECK(app.post("/fhir/Patient/missing/$validate?mode=delete", "").status() == 404);
}

TEST_CASE("create and update of an invalid resource: 422 and nothing stored, malformed: 400", "[server][validate][create]") {
  app_fixture app;
  auto invalid = app.post("/fhir/Patient", two_nhs_numbers);
  INFO(invalid.http.body);
  CHECK(invalid.status() == 422);
  CHECK(has_issue(invalid, "nhs-number-invalid", "Patient.identifier[1].value"));
  CHECK(app.put("/fhir/AllergyIntolerance/a1", R"({"resourceType":"AllergyIntolerance","id":"a1","patient":{"reference":"Patient/p1"}})")
            .status() == 422);
  CHECK(app.get("/fhir/AllergyIntolerance/a1").status() == 404);
  // An invariant of the base specification is a rule of the content, not of its form: 422 too.
  CHECK(app.post("/fhir/Observation", R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "valueString":"a","dataAbsentReason":{"text":"asked but unknown"}})").status() == 422);
  // The FHIR JSON form itself is broken: 400.
  CHECK(app.post("/fhir/Patient", R"({"resourceType":"Patient","gender":["male"]})").status() == 400);
}

TEST_CASE("unknown extensions: a warning by default, an error with the flag", "[server][validate][extensions]") {
  const std::string local = R"({"resourceType":"Patient","id":"p9","extension":[{"url":"https://vendor.example/fhir/StructureDefinition/shoe-size","valueInteger":44}]})";
  app_fixture lenient;
  CHECK(lenient.put("/fhir/Patient/p9", local).status() == 201);
  app_fixture strict(fhir::validation::validation_options{.unknown_extensions = fhir::validation::unknown_extension_policy::error});
  auto rejected = strict.put("/fhir/Patient/p9", local);
  CHECK(rejected.status() == 422);
  CHECK(has_issue(rejected, "extension-unknown", "Patient.extension[0]"));
}

TEST_CASE("the CapabilityStatement lists $validate and the UK Core profiles", "[server][validate][capabilities]") {
  app_fixture app;
  auto cs = app.get("/fhir/metadata").json();
  const auto& resources = cs.find("rest")->as_array()[0].find("resource")->as_array();
  auto patient = std::find_if(resources.begin(), resources.end(), [](const auto& r) { return *r.find_string("type") == "Patient"; });
  REQUIRE(patient != resources.end());
  CHECK(*patient->find_string("profile") == "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient");
  const auto* operations = patient->find("operation");
  REQUIRE(operations);
  CHECK(*operations->as_array()[0].find_string("name") == "validate");
  CHECK(*operations->as_array()[0].find_string("definition") == "http://hl7.org/fhir/OperationDefinition/Resource-validate");
  auto observation = std::find_if(resources.begin(), resources.end(), [](const auto& r) { return *r.find_string("type") == "Observation"; });
  REQUIRE(observation != resources.end());
  const auto* supported = observation->find("supportedProfile");
  REQUIRE(supported);
  bool bodyweight = false;
  for (const auto& p : supported->as_array()) bodyweight |= p.as_string() == "http://hl7.org/fhir/StructureDefinition/bodyweight";
  CHECK(bodyweight);
}
