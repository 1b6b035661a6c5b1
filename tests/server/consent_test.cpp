// Consent enforcement through the router with signed tokens (consent.md sections 2 and 3): Consents the
// record cannot enforce are refused; an opt-out hides a patient's data on read and vread exactly as a
// missing id would, leaves the data's own controller its access and clinicians the minimal Patient;
// a status change takes effect on the next request; the audit record names the Consent that decided.

#include <catch2/catch.hpp>

#include <algorithm>

#include "tests/server/app_fixture.hpp"
#include "tests/server/identity_provider.hpp"
#include "tests/server/requests.hpp"

using fhir::testing::app_fixture;
using fhir::testing::identity_provider;
using fhir::testing::consent_admin;
using fhir::testing::jwt_options;
using fhir::testing::with;
using server::http::header;

namespace {


header privacy_officer(const identity_provider& idp) {
  return idp.bearer(R"("sub":"po","org_ods":"ICB1","scope":"user/*.cruds","nhs_role":{"role_code":"R0001"},"purpose_of_use":["HSYSADMIN"])");
}

std::string optout(const std::string& id, const std::string& status, const std::string& kind = "shcr-optout") {
  return R"({"resourceType":"Consent","id":")" + id + R"(","status":")" + status + R"(",
    "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
    "category":[{"coding":[{"system":"https://shared-care-record.github.io/fhir/CodeSystem/consent-kind","code":")" + kind + R"("}]}],
    "patient":{"reference":"Patient/p1"},"dateTime":"2026-01-01","policy":[{"uri":"https://example.org/shcr-optout"}],
    "provision":{"type":"deny"}})";
}

// A 404 body with the request-specific parts (none today) left as they are: hidden must equal missing.
std::string body_of(const fhir::testing::reply& r) { return r.http.body; }

}  // namespace

TEST_CASE("an opt-out hides the patient's data as if it did not exist, except from its own controller", "[server][consent]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto gp = idp.clinician("GP1");
  auto hospital = idp.clinician("RX2");
  REQUIRE(app.put("/fhir/Patient/p1", R"({"resourceType":"Patient","id":"p1","name":[{"family":"Smith"}],"gender":"female",
    "birthDate":"1970-01-01","address":[{"city":"Leeds"}],"telecom":[{"system":"phone","value":"0113"}]})", with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o1", R"({"resourceType":"Observation","id":"o1","status":"final","code":{"text":"bp"},
    "subject":{"reference":"Patient/p1"}})", with(gp)).status() == 201);
  REQUIRE(app.get("/fhir/Observation/o1", {hospital}).status() == 200);  // no Consent: implied consent

  // A Consent the record cannot enforce is refused, naming where.
  std::string unenforceable = optout("bad", "active");
  unenforceable.replace(unenforceable.find(R"("type":"deny")"), 13, R"("type":"permit")");
  auto refused = app.put("/fhir/Consent/bad", unenforceable, with(consent_admin(idp)));
  CHECK(refused.status() == 422);
  INFO(refused.http.body);
  auto where = refused.issue_expressions();
  CHECK(std::find(where.begin(), where.end(), "Consent.provision.type") != where.end());

  REQUIRE(app.put("/fhir/Consent/c1", optout("c1", "active"), with(consent_admin(idp))).status() == 201);

  // Hidden looks exactly like missing, for read, vread and conditional reads.
  auto hidden = app.get("/fhir/Observation/o1", {hospital});
  CHECK(hidden.status() == 404);
  auto missing = app.get("/fhir/Observation/nope", {hospital});
  std::string expected = body_of(missing);
  expected.replace(expected.find("Observation/nope"), 16, "Observation/o1");
  CHECK(body_of(hidden) == expected);
  CHECK(hidden.issue_ids() == missing.issue_ids());
  auto hidden_version = app.get("/fhir/Observation/o1/_history/1", {hospital});
  auto missing_version = app.get("/fhir/Observation/o1/_history/9", {hospital});
  CHECK(hidden_version.status() == 404);
  std::string expected_version = body_of(missing_version);
  expected_version.replace(expected_version.find("Version 9"), 9, "Version 1");
  CHECK(body_of(hidden_version) == expected_version);
  CHECK(app.get("/fhir/Observation/o1", {hospital, {"If-None-Match", "W/\"1\""}}).status() == 404);  // no 304: it would reveal it
  // Operators see how much consent withholds (a count, nothing about whom): GET /metrics.
  std::string figures = app.get("/metrics").http.body;
  CHECK(figures.find("\nfhir_consent_withheld_total 0\n") == std::string::npos);
  CHECK(figures.find("\nfhir_consent_withheld_total ") != std::string::npos);

  // Changing a hidden resource is answered as for a missing one; its controller keeps its access.
  CHECK(app.del("/fhir/Observation/o1", {hospital}).status() == 404);
  CHECK(app.put("/fhir/Observation/o1", R"({"resourceType":"Observation","id":"o1","status":"amended","code":{"text":"bp"},
    "subject":{"reference":"Patient/p1"}})", with(hospital)).status() == 404);
  CHECK(app.get("/fhir/Observation/o1", {gp}).status() == 200);
  // A Consent is never deleted, only moved to another status.
  CHECK(app.del("/fhir/Consent/c1", {consent_admin(idp)}).status() == 405);

  // Other clinicians see the minimal Patient, tagged REDACTED; planners nothing.
  auto minimal = app.get("/fhir/Patient/p1", {hospital});
  REQUIRE(minimal.status() == 200);
  auto patient = minimal.json();
  CHECK(patient.find("address") == nullptr);
  CHECK(patient.find("telecom") == nullptr);
  CHECK(*patient.find_string("birthDate") == "1970-01-01");
  CHECK(*patient.find("meta")->find("security")->as_array()[0].find_string("code") == "REDACTED");
  auto analyst = idp.bearer(R"("sub":"a1","org_ods":"ICB1","scope":"user/*.rs","nhs_role":{"role_code":"SHCR-ANALYST"},"purpose_of_use":["HOPERAT"])");
  CHECK(app.get("/fhir/Patient/p1", {analyst}).status() == 404);

  // The audit record names the Consent that decided.
  auto audit = app.get("/fhir/AuditEvent?entity=Consent/c1", {privacy_officer(idp)});
  REQUIRE(audit.status() == 200);
  CHECK(fhir::testing::count_matches(audit.json()) >= 4);

  // Every other way to touch or probe it answers as for a missing resource.
  CHECK(app.send("PATCH", "/fhir/Observation/o1", R"([{"op":"replace","path":"/status","value":"amended"}])",
                 {hospital, {"Content-Type", "application/json-patch+json"}}).status() == 404);
  CHECK(app.get("/fhir/Observation/o1/_history?_since=2999-01-01T00:00:00Z", {hospital}).status() == 404);
  CHECK(app.post("/fhir/Observation/o1/$validate?mode=delete", R"({"resourceType":"Parameters"})", with(hospital)).status() == 404);
  auto in_transaction = app.post("/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":
    {"resourceType":"Observation","id":"o1","status":"amended","code":{"text":"bp"},"subject":{"reference":"Patient/p1"}},
    "request":{"method":"PUT","url":"Observation/o1"}}]})", with(hospital));
  CHECK(in_transaction.status() == 404);
  // A Provenance is visible only when what it is about is.
  REQUIRE(app.put("/fhir/Provenance/pv1", R"({"resourceType":"Provenance","id":"pv1","target":[{"reference":"Observation/o1"}],
    "recorded":"2026-01-01T00:00:00Z","agent":[{"who":{"display":"GP system"}}]})", with(gp)).status() == 201);
  CHECK(app.get("/fhir/Provenance/pv1", {hospital}).status() == 404);
  CHECK(app.get("/fhir/Provenance/pv1", {gp}).status() == 200);
  // Withdrawn: the very next request sees the data again.
  REQUIRE(app.put("/fhir/Consent/c1", optout("c1", "inactive"), with(consent_admin(idp))).status() == 200);
  CHECK(app.get("/fhir/Observation/o1", {hospital}).status() == 200);
  CHECK(app.get("/fhir/Patient/p1", {hospital}).json().find("address") != nullptr);

  // Emergency purpose without a declared break-glass session is direct care: an "except emergencies"
  // permit does not open the record.
  auto except_emergencies = [](const std::string& status) {
    std::string c = optout("c2", status);
    return c.replace(c.find(R"({"type":"deny"})"), 15,
                     R"({"type":"deny","provision":[{"type":"permit","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]}]})");
  };
  REQUIRE(app.put("/fhir/Consent/c2", except_emergencies("active"), with(consent_admin(idp))).status() == 201);
  auto emergency = idp.bearer(R"("sub":"e1","org_ods":"RX2","scope":"user/*.rs","nhs_role":{"role_code":"R8000","activity_codes":["B0083"]},"purpose_of_use":["ETREAT"])");
  auto across = app.get("/fhir/Observation?code:text=bp", {emergency});
  REQUIRE(across.status() == 200);
  CHECK(fhir::testing::count_matches(across.json()) == 0);
  // A Consent changes by status only: dropping the exception while withdrawing is refused.
  auto reshaped = app.put("/fhir/Consent/c2", optout("c2", "inactive"), with(consent_admin(idp)));
  CHECK(reshaped.status() == 422);
  CHECK(reshaped.issue_ids() == std::vector<std::string>{"consent-change-not-status"});
  REQUIRE(app.put("/fhir/Consent/c2", except_emergencies("inactive"), with(consent_admin(idp))).status() == 200);
}

namespace {

std::vector<std::string> match_ids(const fhir::json::value& bundle) {
  std::vector<std::string> out;
  if (const auto* entries = bundle.find("entry"))
    for (const auto& e : entries->as_array())
      if (*e.find("search")->find_string("mode") == "match") out.push_back(*e.find("resource")->find_string("id"));
  return out;
}

std::vector<std::string> outcome_ids(const fhir::json::value& bundle) {
  std::vector<std::string> out;
  if (const auto* entries = bundle.find("entry"))
    for (const auto& e : entries->as_array())
      if (*e.find("search")->find_string("mode") == "outcome")
        for (const auto& issue : e.find("resource")->find("issue")->as_array())
          out.push_back(*issue.find("details")->find("coding")->as_array()[0].find_string("code"));
  return out;
}

std::string next_link(const fhir::json::value& bundle) {
  for (const auto& link : bundle.find("link")->as_array())
    if (*link.find_string("relation") == "next") return *link.find_string("url");
  return {};
}

}  // namespace

TEST_CASE("searches leave out what Consent hides, keep pages full and count only what is visible", "[server][consent][search]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto gp = idp.clinician("GP1");
  auto hospital = idp.clinician("RX2");
  for (const char* id : {"p1", "p2"})
    REQUIRE(app.put(std::string("/fhir/Patient/") + id, R"({"resourceType":"Patient","id":")" + std::string(id) + R"(","name":[{"family":"X"}]})",
                    with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Practitioner/dr1", R"({"resourceType":"Practitioner","id":"dr1","name":[{"family":"Who"}]})", with(gp)).status() ==
          201);
  // Interleaved: the opted-out patient's observations between the other's; o0 names a practitioner,
  // who must not be included through it.
  for (int i = 0; i < 10; ++i) {
    std::string patient = i % 2 == 0 ? "p1" : "p2";
    std::string id = "o" + std::to_string(i);
    std::string performer = i == 0 ? R"(,"performer":[{"reference":"Practitioner/dr1"}])" : "";
    REQUIRE(app.put("/fhir/Observation/" + id, R"({"resourceType":"Observation","id":")" + id + R"(","status":"final",
      "code":{"text":"x"},"subject":{"reference":"Patient/)" + patient + R"("})" + performer + "}", with(gp)).status() == 201);
  }
  REQUIRE(app.put("/fhir/Consent/c1", optout("c1", "active"), with(consent_admin(idp))).status() == 201);

  auto all = app.get("/fhir/Observation?_count=100&_total=accurate", {hospital});
  REQUIRE(all.status() == 200);
  CHECK(match_ids(all.json()) == std::vector<std::string>{"o1", "o3", "o5", "o7", "o9"});
  CHECK(all.json().find("total")->as_number().text == "5");
  CHECK(outcome_ids(all.json()) == std::vector<std::string>{"consent-items-withheld"});
  CHECK(app.get("/fhir/Observation?_summary=count", {hospital}).json().find("total")->as_number().text == "5");
  CHECK(app.get("/fhir/Observation?_summary=count", {gp}).json().find("total")->as_number().text == "10");  // its own data
  auto by_patient = app.get("/fhir/Observation?subject=Patient/p1", {hospital});
  CHECK(match_ids(by_patient.json()).empty());

  // Pages of two stay full, and walking them shows each visible match once.
  std::vector<std::string> walked;
  std::string url = "/fhir/Observation?_count=2";
  for (int pages = 0; !url.empty() && pages < 10; ++pages) {
    auto page = app.get(url, {hospital});
    REQUIRE(page.status() == 200);
    auto ids = match_ids(page.json());
    std::string next = next_link(page.json());
    if (!next.empty()) CHECK(ids.size() == 2);
    walked.insert(walked.end(), ids.begin(), ids.end());
    url = next.empty() ? "" : next.substr(next.find("/fhir/"));
  }
  std::sort(walked.begin(), walked.end());
  CHECK(walked == std::vector<std::string>{"o1", "o3", "o5", "o7", "o9"});

  // Included resources are decided one by one: the opted-out patient's record is not included.
  auto with_subjects = app.get("/fhir/Observation?_include=Observation:subject", {hospital}).json();
  std::vector<std::string> included;
  for (const auto& e : with_subjects.find("entry")->as_array())
    if (*e.find("search")->find_string("mode") == "include") included.push_back(*e.find("resource")->find_string("id"));
  CHECK(included == std::vector<std::string>{"p2"});

  // History and $everything decide every entry the same way.
  CHECK(app.get("/fhir/Observation/o0/_history", {hospital}).status() == 404);
  CHECK(app.get("/fhir/Observation/o1/_history", {hospital}).status() == 200);
  auto type_history = app.get("/fhir/Observation/_history", {hospital}).json();
  std::vector<std::string> versions;
  for (const auto& e : type_history.find("entry")->as_array()) versions.push_back(*e.find("resource")->find_string("id"));
  std::sort(versions.begin(), versions.end());
  CHECK(versions == std::vector<std::string>{"o1", "o3", "o5", "o7", "o9"});
  auto everything = app.get("/fhir/Patient/p1/$everything", {hospital}).json();
  std::vector<std::string> record;
  for (const auto& e : everything.find("entry")->as_array()) record.push_back(*e.find("resource")->find_string("resourceType"));
  CHECK(record == std::vector<std::string>{"Patient"});  // the minimal Patient only
  CHECK(app.get("/fhir/Patient/p2/$everything", {hospital}).json().find("entry")->as_array().size() == 6);

  // Planners are not told that something was withheld.
  auto analyst = idp.bearer(R"("sub":"a1","org_ods":"ICB1","scope":"user/*.rs","nhs_role":{"role_code":"SHCR-ANALYST"},"purpose_of_use":["HOPERAT"])");
  auto planning = app.get("/fhir/Observation", {analyst});
  REQUIRE(planning.status() == 200);
  CHECK(outcome_ids(planning.json()).empty());
  CHECK(match_ids(planning.json()).size() == 5);
  CHECK(app.get("/fhir/Patient/p1/$everything", {analyst}).status() == 404);
}
