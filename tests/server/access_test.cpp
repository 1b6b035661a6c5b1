// Authentication and authorisation through the router, with real signed tokens (consent.md section 1):
// 401 without a valid token, the RBAC table and SMART scopes for every interaction, batch and
// transaction entry and included type, patient-facing tokens confined to their own compartment, and the
// data controller taken from the token.

#include <catch2/catch.hpp>

#include <fstream>

#include "server/auth/access_policy.hpp"
#include "tests/server/app_fixture.hpp"
#include "tests/server/identity_provider.hpp"
#include "tests/server/requests.hpp"

using fhir::testing::app_fixture;
using fhir::testing::identity_provider;
using fhir::testing::jwt_options;
using server::http::header;

namespace {

using headers = std::vector<header>;

headers with(header auth, std::vector<header> more = {}) {
  more.push_back(std::move(auth));
  return more;
}

std::string patient_body(std::string_view id) {
  return R"({"resourceType":"Patient","id":")" + std::string(id) + R"(","name":[{"family":"Access"}]})";
}

std::string observation_body(std::string_view id, std::string_view patient, std::string_view performer = "") {
  std::string p = performer.empty() ? "" : R"(,"performer":[{"reference":"Practitioner/)" + std::string(performer) + R"("}])";
  return R"({"resourceType":"Observation","id":")" + std::string(id) +
         R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/)" +
         std::string(patient) + R"("}, "valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"})" + p + "}";
}

std::vector<std::string> entry_ids(const fhir::json::value& bundle) {
  std::vector<std::string> out;
  if (const auto* entries = bundle.find("entry"))
    for (const auto& e : entries->as_array())
      if (const auto* r = e.find("resource")) out.push_back(*r->find_string("resourceType") + "/" + *r->find_string("id"));
  std::sort(out.begin(), out.end());
  return out;
}

header analyst(const identity_provider& idp) {
  return idp.bearer(R"("sub":"a1","org_ods":"ICB1","scope":"user/*.rs","nhs_role":{"role_code":"SHCR-ANALYST"},"purpose_of_use":["HOPERAT"])");
}
header clerk(const identity_provider& idp) {
  return idp.bearer(R"("sub":"c1","org_ods":"ACU1","scope":"user/*.cruds","nhs_role":{"role_code":"R8008"},"purpose_of_use":["TREAT"])");
}
header privacy_officer(const identity_provider& idp) {
  return idp.bearer(R"("sub":"po","org_ods":"ICB1","scope":"user/*.cruds","nhs_role":{"role_code":"R0001"},"purpose_of_use":["HSYSADMIN"])");
}

}  // namespace

TEST_CASE("without a valid token only the CapabilityStatement is served", "[server][auth]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  CHECK(app.get("/fhir/metadata").status() == 200);

  auto missing = app.get("/fhir/Patient");
  CHECK(missing.status() == 401);
  CHECK(missing.header("WWW-Authenticate") == "Bearer");
  CHECK(missing.issue_ids() == std::vector<std::string>{"token-missing"});
  for (header bad : {header{"Authorization", "Bearer not-a-jwt"}, header{"Authorization", "Basic dXNlcjpwYXNz"},
                     idp.bearer(R"("sub":"x","jti":"j","exp":1000,"iat":900,"purpose_of_use":["TREAT"])"),
                     idp.bearer(R"("sub":"x","aud":"https://elsewhere.example/fhir","purpose_of_use":["TREAT"])"),
                     header{"Authorization", "Bearer dev.eyJzdWIiOiJ4In0"}}) {
    auto r = app.get("/fhir/Patient", {bad});
    INFO(bad.value.substr(0, 40));
    CHECK(r.status() == 401);
    CHECK(r.header("WWW-Authenticate") == "Bearer error=\"invalid_token\"");
    CHECK(*r.json().find_string("resourceType") == "OperationOutcome");
  }
  // A write without a token changes nothing.
  CHECK(app.put("/fhir/Patient/p1", patient_body("p1")).status() == 401);
  CHECK(app.get("/fhir/Patient/p1", {idp.clinician()}).status() == 404);
  CHECK(app.put("/fhir/Patient/p1", patient_body("p1"), with(idp.clinician())).status() == 201);
}

TEST_CASE("roles, purposes and scopes decide each interaction before any lookup", "[server][auth]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  REQUIRE(app.put("/fhir/Patient/p1", patient_body("p1"), with(idp.clinician())).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o1", observation_body("o1", "p1"), with(idp.clinician())).status() == 201);

  auto observations_only = idp.clinician("ACU1", "user/Observation.rs");
  CHECK(app.get("/fhir/Observation?patient=p1", {observations_only}).status() == 200);
  auto create = app.post("/fhir/Observation", observation_body("", "p1"), with(observations_only));
  CHECK(create.status() == 403);
  CHECK(create.issue_ids() == std::vector<std::string>{"access-denied"});
  // No scope for Patient: the same 403 whether or not the id exists (decided before the lookup).
  CHECK(app.get("/fhir/Patient/p1", {observations_only}).http.body == app.get("/fhir/Patient/nobody", {observations_only}).http.body);
  CHECK(app.get("/fhir/Patient/p1", {observations_only}).status() == 403);

  CHECK(app.get("/fhir/Patient/p1", {clerk(idp)}).status() == 200);
  CHECK(app.get("/fhir/Observation/o1", {clerk(idp)}).status() == 403);
  CHECK(app.get("/fhir/Observation?patient=p1", {analyst(idp)}).status() == 200);
  CHECK(app.put("/fhir/Patient/p1", patient_body("p1"), with(analyst(idp))).status() == 403);

  // The purpose header must be one the token allows; an unknown purpose is refused too.
  auto not_allowed = app.get("/fhir/Patient/p1", {idp.clinician(), {"X-Purpose-Of-Use", "HRESCH"}});
  CHECK(not_allowed.status() == 403);
  CHECK(not_allowed.issue_ids() == std::vector<std::string>{"purpose-not-allowed"});
  auto several = idp.bearer(R"("sub":"x","org_ods":"ACU1","scope":"user/*.rs","nhs_role":{"role_code":"R8000"},"purpose_of_use":["TREAT","ETREAT"])");
  CHECK(app.get("/fhir/Patient/p1", {several}).status() == 400);
  CHECK(app.get("/fhir/Patient/p1", {several, {"X-Purpose-Of-Use", "TREAT"}}).status() == 200);
  // Emergency access to one patient's record needs break-glass first (not declared here).
  auto emergency = app.get("/fhir/Patient/p1", {several, {"X-Purpose-Of-Use", "ETREAT"}});
  CHECK(emergency.status() == 403);
  CHECK(emergency.issue_ids() == std::vector<std::string>{"break-glass-not-declared"});
  CHECK(app.get("/fhir/Observation?code=http://loinc.org|8867-4", {several, {"X-Purpose-Of-Use", "ETREAT"}}).status() == 200);

  // AuditEvent: read by privacy officers only, written by nobody; Consent: not for clinicians.
  CHECK(app.get("/fhir/AuditEvent", {idp.clinician()}).status() == 403);
  CHECK(app.get("/fhir/AuditEvent", {privacy_officer(idp)}).status() == 200);
  std::string audit = R"({"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2026-01-01T00:00:00Z",
    "agent":[{"requestor":true}],"source":{"observer":{"display":"x"}}})";
  CHECK(app.post("/fhir/AuditEvent", audit, with(privacy_officer(idp))).status() == 405);
  CHECK(app.put("/fhir/AuditEvent/a1", audit, with(idp.clinician())).status() == 405);
  CHECK(app.del("/fhir/AuditEvent/a1", {privacy_officer(idp)}).status() == 405);
  CHECK(app.get("/fhir/Consent", {idp.clinician()}).status() == 403);
  CHECK(app.get("/fhir/Consent/c1", {idp.clinician()}).status() == 403);
}

TEST_CASE("each batch and transaction entry and each included type is authorised", "[server][auth][bundle]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  REQUIRE(app.put("/fhir/Patient/p1", patient_body("p1"), with(idp.clinician())).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o1", observation_body("o1", "p1"), with(idp.clinician())).status() == 201);
  REQUIRE(app.put("/fhir/Condition/c1", R"({"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},
    "code":{"text":"asthma"}})", with(idp.clinician())).status() == 201);

  auto limited = idp.clinician("ACU1", "user/Patient.cruds user/Observation.rs");
  std::string entries = R"("entry":[{"resource":)" + patient_body("p2") + R"(,"request":{"method":"PUT","url":"Patient/p2"}},
    {"resource":)" + observation_body("o2", "p2") + R"(,"request":{"method":"PUT","url":"Observation/o2"}}]})";
  auto transaction = app.post("/fhir", R"({"resourceType":"Bundle","type":"transaction",)" + entries, with(limited));
  CHECK(transaction.status() == 403);
  CHECK(transaction.issue_expressions() == std::vector<std::string>{"Bundle.entry[1]"});
  CHECK(app.get("/fhir/Patient/p2", {idp.clinician()}).status() == 404);  // rolled back: nothing written

  auto batch = app.post("/fhir", R"({"resourceType":"Bundle","type":"batch",)" + entries, with(limited));
  REQUIRE(batch.status() == 200);
  auto results = batch.json().find("entry")->as_array();
  CHECK(*results[0].find("response")->find_string("status") == "201 Created");
  CHECK(results[1].find("response")->find_string("status")->starts_with("403"));

  auto observations_only = idp.clinician("ACU1", "user/Observation.rs");
  CHECK(app.get("/fhir/Observation?_include=Observation:subject:Patient", {observations_only}).status() == 403);
  CHECK(app.get("/fhir/Patient?_revinclude=Observation:subject", {idp.clinician("ACU1", "user/Patient.rs")}).status() == 403);
  // A wildcard include returns only the types the caller may read.
  auto wildcard = app.get("/fhir/Observation?_include=*", {observations_only});
  REQUIRE(wildcard.status() == 200);
  CHECK(entry_ids(wildcard.json()) == std::vector<std::string>{"Observation/o1"});
  CHECK(entry_ids(app.get("/fhir/Observation?_include=*", {idp.clinician()}).json()) ==
        std::vector<std::string>{"Observation/o1", "Patient/p1"});
  // $everything leaves out the types the scopes do not cover.
  auto everything = app.get("/fhir/Patient/p1/$everything", {limited});
  REQUIRE(everything.status() == 200);
  CHECK(entry_ids(everything.json()) == std::vector<std::string>{"Observation/o1", "Patient/p1"});
}

TEST_CASE("a patient-facing token sees only that patient's compartment", "[server][auth]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  REQUIRE(app.put("/fhir/Practitioner/pr1", R"({"resourceType":"Practitioner","id":"pr1","name":[{"family":"Who"}]})",
                  with(idp.clinician())).status() == 201);
  for (std::string_view p : {"P1", "P2"}) REQUIRE(app.put("/fhir/Patient/" + std::string(p), patient_body(p), with(idp.clinician())).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o1", observation_body("o1", "P1", "pr1"), with(idp.clinician())).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o2", observation_body("o2", "P2", "pr1"), with(idp.clinician())).status() == 201);

  auto me = idp.patient("P2");
  CHECK(entry_ids(app.get("/fhir/Observation", {me}).json()) == std::vector<std::string>{"Observation/o2"});
  CHECK(entry_ids(app.get("/fhir/Patient", {me}).json()) == std::vector<std::string>{"Patient/P2"});
  CHECK(app.get("/fhir/Observation?patient=P1", {me}).status() == 403);
  CHECK(app.get("/fhir/Observation?subject=Patient/P1", {me}).status() == 403);
  CHECK(app.get("/fhir/Observation/o2", {me}).status() == 200);
  // Another patient's data looks absent: the same 404 as an id that does not exist.
  auto other = app.get("/fhir/Observation/o1", {me});
  CHECK(other.status() == 404);
  std::string absent = app.get("/fhir/Observation/o9", {me}).http.body;
  std::string hidden = other.http.body;
  hidden.replace(hidden.find("Observation/o1"), 14, "Observation/o9");
  CHECK(hidden == absent);
  CHECK(app.get("/fhir/Patient/P1", {me}).status() == 404);
  CHECK(app.get("/fhir/Observation/o1/_history/1", {me}).status() == 404);
  CHECK(app.get("/fhir/Practitioner/pr1", {me}).status() == 200);  // not patient data
  CHECK(app.get("/fhir/Patient/P1/$everything", {me}).status() == 403);
  CHECK(entry_ids(app.get("/fhir/Patient/P2/$everything", {me}).json()) ==
        std::vector<std::string>{"Observation/o2", "Patient/P2", "Practitioner/pr1"});
  CHECK(app.get("/fhir/_history", {me}).status() == 403);
  CHECK(app.get("/fhir/Observation?_lastUpdated=gt2000", {me}).status() == 200);
  // Reverse includes from shared data do not bring in other patients' resources.
  CHECK(entry_ids(app.get("/fhir/Practitioner?_revinclude=Observation:performer", {me}).json()) ==
        std::vector<std::string>{"Observation/o2", "Practitioner/pr1"});
  CHECK(app.post("/fhir/Observation", observation_body("", "P2"), with(me)).status() == 403);
}

TEST_CASE("the caller's organisation, mapped to its trust, is the data controller of what it writes", "[server][auth][provenance]") {
  identity_provider idp;
  fhir::testing::temp_dir dir;
  std::string policy(server::auth::access_policy::default_policy_json());
  policy.replace(policy.find(R"("controllers": {})"), 17, R"("controllers": {"RVV01": "RVV"})");
  std::ofstream(dir.file("policy.json")) << policy;
  auto options = jwt_options(idp);
  options.auth.access_policy_path = dir.file("policy.json");
  app_fixture app(options);
  REQUIRE(app.put("/fhir/Patient/p1", patient_body("p1"), with(idp.clinician("RVV01"))).status() == 201);
  auto found = app.get("/fhir/Patient?_tag=https://shared-care-record.github.io/fhir/CodeSystem/data-controller|RVV", {idp.clinician()});
  CHECK(fhir::testing::count_matches(found.json()) == 1);
}

TEST_CASE("history, searches across types, chains, _has and conditional criteria are authorised for every type they reach", "[server][auth]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  REQUIRE(app.put("/fhir/Patient/p1", patient_body("p1"), with(idp.clinician())).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o1", observation_body("o1", "p1"), with(idp.clinician())).status() == 201);

  CHECK(app.get("/fhir/_history?_type=Patient", {clerk(idp)}).status() == 403);  // system history shows every type
  auto history = app.get("/fhir/_history", {idp.clinician()});
  REQUIRE(history.status() == 200);
  CHECK(app.get("/fhir?_type=Consent", {idp.clinician()}).status() == 403);
  auto form = app.send("POST", "/fhir/_search", "_type=AuditEvent",
                       {{"Content-Type", "application/x-www-form-urlencoded"}, idp.clinician()});
  CHECK(form.status() == 403);
  CHECK(app.get("/fhir?_type=Observation", {idp.clinician()}).status() == 200);

  // Reverse and forward chains reach other types.
  CHECK(app.get("/fhir/Patient?_has:Observation:patient:code=8867-4", {clerk(idp)}).status() == 403);
  CHECK(fhir::testing::count_matches(app.get("/fhir/Patient?_has:Observation:patient:code=8867-4", {idp.clinician()}).json()) == 1);
  auto observations_only = idp.clinician("ACU1", "user/Observation.cruds");
  CHECK(app.get("/fhir/Observation?subject:Patient.name=Access", {observations_only}).status() == 403);
  CHECK(app.put("/fhir/Observation?subject:Patient.name=Access", observation_body("", "p1"), with(observations_only)).status() == 403);

  // Scopes count only at the caller's level: a system (no user role) needs system/ scopes.
  auto system_with_user_scope = idp.bearer(R"("sub":"feed","org_ods":"GP1","scope":"user/*.cruds","purpose_of_use":["TREAT"])");
  CHECK(app.get("/fhir/Patient/p1", {system_with_user_scope}).status() == 403);
  auto feed = idp.bearer(R"("sub":"feed","org_ods":"GP1","scope":"system/*.cruds","purpose_of_use":["TREAT"])");
  CHECK(app.get("/fhir/Patient/p1", {feed}).status() == 200);
  CHECK(app.put("/fhir/Patient/g1", patient_body("g1"), with(feed)).status() == 201);
  // A writer must name its organisation: every write is recorded against a data controller.
  auto nameless = idp.bearer(R"("sub":"x","scope":"user/*.cruds","nhs_role":{"role_code":"R8000"},"purpose_of_use":["TREAT"])");
  auto refused = app.put("/fhir/Patient/n1", patient_body("n1"), with(nameless));
  CHECK(refused.status() == 403);
  CHECK(refused.issue_ids() == std::vector<std::string>{"controller-missing"});

  // _contained: containers of a type the caller may not read are no results, whole or as what they contain.
  REQUIRE(app.put("/fhir/MedicationStatement/ms1", R"({"resourceType":"MedicationStatement","id":"ms1","status":"active",
    "contained":[{"resourceType":"Medication","id":"m1","code":{"text":"aspirin"}}],"medicationReference":{"reference":"#m1"},
    "subject":{"reference":"Patient/p1"}})", with(idp.clinician())).status() == 201);
  auto medications_only = idp.clinician("ACU1", "user/Medication.rs");
  for (const char* shape : {"container", "contained"}) {
    std::string query = std::string("/fhir/Medication?_contained=true&_containedType=") + shape;
    CHECK(fhir::testing::count_matches(app.get(query, {idp.clinician()}).json()) == 1);
    auto limited = app.get(query, {medications_only});
    REQUIRE(limited.status() == 200);
    CHECK(fhir::testing::count_matches(limited.json()) == 0);
  }

  // $validate of an instance reads it.
  CHECK(app.send("POST", "/fhir/Observation/o1/$validate?mode=delete", "", {clerk(idp)}).status() == 403);
  CHECK(app.send("POST", "/fhir/Observation/o1/$validate?mode=delete", "", {idp.clinician()}).status() == 200);
}

TEST_CASE("a patient-facing token cannot reach other patients' data through shared types, chains or old versions", "[server][auth]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  for (std::string_view p : {"P1", "P2"}) REQUIRE(app.put("/fhir/Patient/" + std::string(p), patient_body(p), with(idp.clinician())).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o1", observation_body("o1", "P1"), with(idp.clinician())).status() == 201);
  // o2 was P1's first and was then re-filed to P2: its first version is P1's data.
  REQUIRE(app.put("/fhir/Observation/o2", observation_body("o2", "P1"), with(idp.clinician())).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o2", observation_body("o2", "P2"), with(idp.clinician())).status() == 200);
  REQUIRE(app.put("/fhir/Binary/b1", R"({"resourceType":"Binary","id":"b1","contentType":"text/plain","data":"aGk="})",
                  with(idp.clinician())).status() == 201);

  auto me = idp.patient("P2");
  CHECK(app.get("/fhir/Observation/o2/_history/2", {me}).status() == 200);
  CHECK(app.get("/fhir/Observation/o2/_history/1", {me}).status() == 404);
  CHECK(app.get("/fhir/Observation/o2/_history", {me}).status() == 403);
  CHECK(app.get("/fhir/Binary/b1", {me}).status() == 403);  // Binary could be anyone's
  CHECK(app.get("/fhir/Patient?_has:Observation:patient:code=8867-4", {me}).status() == 403);
  CHECK(app.get("/fhir/Observation?subject.name=Access", {me}).status() == 403);
  CHECK(app.send("POST", "/fhir/Observation/o1/$validate?mode=delete", "", {me}).status() == 404);
  CHECK(app.send("POST", "/fhir/Observation/o2/$validate?mode=delete", "", {me}).status() == 200);
  CHECK(app.get("/fhir/Observation?_has:Observation:patient:code=x", {me}).status() == 403);
}
