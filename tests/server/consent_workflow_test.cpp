// The Consent write workflow and break-glass through the router with signed tokens (consent.md sections 1
// and 2): a Consent changes by status only and forward; one active opt-out per patient; a patient raises
// their own objection as proposed and may withdraw it; each status change leaves a Provenance; a declared
// emergency is per patient, overrides granular denies (audited as an override), and an emergency purpose
// elsewhere is direct care.

#include <set>

#include <catch2/catch.hpp>

#include "server/consent/consent_enforcement.hpp"
#include "server/page_cursor.hpp"
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


// A Consent of `kind` for `patient` with this root provision.
std::string consent(const std::string& id, const std::string& patient, const std::string& kind, const std::string& status,
                    const std::string& provision = R"({"type":"deny"})") {
  return fhir::testing::consent_json(id, patient, kind, status, provision);
}

std::string observation(const std::string& id, const std::string& patient, const std::string& code = "1234",
                        const std::string& encounter = "") {
  return R"({"resourceType":"Observation","id":")" + id + R"(","status":"final",
    "code":{"coding":[{"system":"http://snomed.info/sct","code":")" + code + R"("}]},"subject":{"reference":"Patient/)" + patient +
         (encounter.empty() ? std::string() : R"("},"encounter":{"reference":"Encounter/)" + encounter) + R"("}})";
}

// The matches `who` is shown for `query`.
std::size_t matches(const app_fixture& app, const std::string& query, const server::http::header& who) {
  auto r = app.get("/fhir/" + query, {who});
  INFO(query << "\n" << r.http.body);
  REQUIRE(r.status() == 200);
  return fhir::testing::count_matches(r.json());
}

// Patients p1 and p2 (both named Private), written by `writer`.
void private_patients(const app_fixture& app, const server::http::header& writer) {
  for (const char* id : {"p1", "p2"})
    REQUIRE(app.put(std::string("/fhir/Patient/") + id, R"({"resourceType":"Patient","id":")" + std::string(id) +
                    R"(","name":[{"family":"Private"}]})", with(writer)).status() == 201);
}

// p1 withholds their results coded 999 (Consent g1); p2 withholds their demographics, nothing else (g2).
void withhold_result_999_and_demographics(const app_fixture& app, const server::http::header& admin) {
  REQUIRE(app.put("/fhir/Consent/g1", consent("g1", "p1", "granular", "active", R"({"type":"permit","provision":[
    {"type":"deny","code":[{"coding":[{"system":"http://snomed.info/sct","code":"999"}]}]}]})"), with(admin)).status() == 201);
  REQUIRE(app.put("/fhir/Consent/g2", consent("g2", "p2", "granular", "active", R"({"type":"permit","provision":[
    {"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Patient"}]}]})"), with(admin)).status() == 201);
}

const std::string declaration = R"({"resourceType":"Parameters","parameter":[{"name":"reasonCode","valueCode":"life-threat"},
  {"name":"reasonText","valueString":"Anaphylaxis in resus, history needed now"}]})";

// An application with JWT access: a consent administrator, a GP practice's clinician (GP1) who wrote
// patients p1 and p2, and a hospital clinician (ACU1).
struct gp_and_hospital {
  identity_provider idp;
  app_fixture app{jwt_options(idp)};
  server::http::header admin = consent_admin(idp);
  server::http::header gp = idp.clinician("GP1");
  server::http::header hospital = idp.clinician("ACU1");
  gp_and_hospital() { private_patients(app, gp); }
};

}  // namespace

TEST_CASE("a Consent changes by status only and forward, one opt-out per patient, each change with a Provenance", "[server][consent]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto admin = consent_admin(idp);
  auto gp = idp.clinician("GP1");
  REQUIRE(app.put("/fhir/Patient/p1", R"({"resourceType":"Patient","id":"p1","name":[{"family":"One"}]})", with(gp)).status() == 201);

  REQUIRE(app.put("/fhir/Consent/a", consent("a", "p1", "shcr-optout", "active"), with(admin)).status() == 201);
  // A second active opt-out: 422, whichever way it arrives; nothing is stored.
  auto second = app.put("/fhir/Consent/b", consent("b", "p1", "shcr-optout", "active"), with(admin));
  CHECK(second.status() == 422);
  CHECK(second.issue_ids() == std::vector<std::string>{"consent-optout-exists"});
  CHECK(app.post("/fhir/Consent", consent("b", "p1", "shcr-optout", "active"), with(admin)).status() == 422);
  CHECK(app.get("/fhir/Consent/b", {admin}).status() == 404);
  auto in_transaction = app.post("/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":)" +
                                              consent("b", "p1", "shcr-optout", "active") +
                                              R"(,"request":{"method":"PUT","url":"Consent/b"}}]})",
                                 with(admin));
  CHECK(in_transaction.status() == 422);
  CHECK(app.get("/fhir/Consent/b", {admin}).status() == 404);
  // A draft one is fine; activating it while the first is active is not.
  REQUIRE(app.put("/fhir/Consent/b", consent("b", "p1", "shcr-optout", "draft"), with(admin)).status() == 201);
  CHECK(app.put("/fhir/Consent/b", consent("b", "p1", "shcr-optout", "active"), with(admin)).status() == 422);

  // Forward only: withdrawn stays withdrawn (a new Consent records a new opt-out).
  REQUIRE(app.put("/fhir/Consent/a", consent("a", "p1", "shcr-optout", "inactive"), with(admin)).status() == 200);
  auto back = app.put("/fhir/Consent/a", consent("a", "p1", "shcr-optout", "active"), with(admin));
  CHECK(back.status() == 422);
  CHECK(back.issue_ids() == std::vector<std::string>{"consent-status-transition"});
  CHECK(app.put("/fhir/Consent/b", consent("b", "p1", "shcr-optout", "active"), with(admin)).status() == 200);
  // Another rule is another Consent: changing the provision is refused.
  auto reshaped = app.put("/fhir/Consent/b", consent("b", "p1", "shcr-optout", "active",
                                                     R"({"type":"deny","period":{"end":"2030-01-01"}})"),
                          with(admin));
  CHECK(reshaped.status() == 422);
  CHECK(reshaped.issue_ids() == std::vector<std::string>{"consent-change-not-status"});

  // Each status change left a Provenance naming the new version, the old one and both statuses.
  auto provenance = app.get("/fhir/Provenance?target=Consent/a&_count=10", {admin});
  REQUIRE(provenance.status() == 200);
  auto bundle = provenance.json();
  REQUIRE(fhir::testing::count_matches(bundle) == 1);
  const auto& p = *bundle.find("entry")->as_array()[0].find("resource");
  CHECK(fhir::testing::text(&p.find("target")->as_array()[0], "reference") == "Consent/a/_history/2");
  CHECK(fhir::testing::text(p.find("activity"), "text") == "Consent status changed from active to inactive");
  CHECK(fhir::testing::text(p.find("entity")->as_array()[0].find("what"), "reference") == "Consent/a/_history/1");
  CHECK(fhir::testing::text(p.find("agent")->as_array()[0].find("who")->find("identifier"), "value") == "ca1");
  CHECK(fhir::testing::count_matches(app.get("/fhir/Provenance?target=Consent/b", {admin}).json()) == 1);  // draft -> active
  CHECK(fhir::testing::count_matches(app.get("/fhir/Provenance?target=Consent/b", {gp}).json()) == 0);  // about a Consent: not theirs
}

TEST_CASE("a patient raises their own objection as proposed, may withdraw it, and only an administrator decides it", "[server][consent]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto admin = consent_admin(idp);
  auto gp = idp.clinician("GP1");
  auto hospital = idp.clinician("ACU1");
  for (const char* id : {"p1", "p2"})
    REQUIRE(app.put(std::string("/fhir/Patient/") + id, R"({"resourceType":"Patient","id":")" + std::string(id) + R"(","name":[{"family":"X"}]})",
                    with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o1", observation("o1", "p1"), with(gp)).status() == 201);
  auto patient = idp.bearer(R"("sub":"p1-login","client_id":"nhs-app","scope":"patient/*.rs patient/Consent.cu","patient":"p1",
    "purpose_of_use":["PATRQT"])");

  // Raised by POST (the server names it): active is refused, another patient's or another kind is 403.
  auto upheld_by_self = app.post("/fhir/Consent", consent("x", "p1", "art21-objection", "active"), with(patient));
  CHECK(upheld_by_self.status() == 422);
  CHECK(upheld_by_self.issue_ids() == std::vector<std::string>{"consent-objection-proposed"});
  CHECK(app.post("/fhir/Consent", consent("x", "p2", "art21-objection", "proposed"), with(patient)).status() == 403);
  CHECK(app.post("/fhir/Consent", consent("x", "p1", "shcr-optout", "active"), with(patient)).status() == 403);
  CHECK(app.post("/fhir/Observation", observation("x", "p1"), with(patient)).status() == 403);  // patients write nothing else
  auto raised = app.post("/fhir/Consent", consent("x", "p1", "art21-objection", "proposed"), with(patient));
  REQUIRE(raised.status() == 201);
  auto raised_json = raised.json();
  std::string id = fhir::testing::text(&raised_json, "id");
  std::string url = "/fhir/Consent/" + id;
  CHECK(app.get("/fhir/Observation/o1", {hospital}).status() == 200);  // pending: no effect
  CHECK(app.put(url, consent(id, "p1", "art21-objection", "active"), with(patient)).status() == 422);

  // A patient's write cannot find or probe anyone else's Consent: another patient's id answers as a
  // missing one, a chosen new id is not created, and conditional writes are refused.
  REQUIRE(app.put("/fhir/Consent/other", consent("other", "p2", "shcr-optout", "active"), with(admin)).status() == 201);
  auto other = app.put("/fhir/Consent/other", consent("other", "p2", "art21-objection", "proposed"), with(patient));
  auto missing = app.put("/fhir/Consent/nobody", consent("nobody", "p1", "art21-objection", "proposed"), with(patient));
  CHECK(other.status() == 404);
  CHECK(missing.status() == 404);
  CHECK(other.issue_ids() == missing.issue_ids());
  CHECK(app.send("PATCH", "/fhir/Consent/other", R"([{"op":"replace","path":"/status","value":"inactive"}])",
                 {patient, {"Content-Type", "application/json-patch+json"}}).status() == 404);
  CHECK(app.post("/fhir/Consent", consent("y", "p1", "art21-objection", "proposed"),
                 with(patient, {{"If-None-Exist", "patient=Patient/p2"}})).status() == 403);
  CHECK(app.put("/fhir/Consent?patient=Patient/p2", consent("y", "p1", "art21-objection", "proposed"), with(patient)).status() == 403);
  auto in_transaction = app.post("/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":)" +
                                              consent("other", "p2", "art21-objection", "proposed") +
                                              R"(,"request":{"method":"PUT","url":"Consent/other"}}]})",
                                 with(patient));
  CHECK(in_transaction.status() == 403);

  // The administrator upholds it: in force on the next request, with a Provenance of the decision that
  // the administrator can read and a clinician cannot (it is about a Consent).
  REQUIRE(app.put(url, consent(id, "p1", "art21-objection", "active"), with(admin)).status() == 200);
  CHECK(app.get("/fhir/Observation/o1", {hospital}).status() == 404);
  CHECK(fhir::testing::count_matches(app.get("/fhir/Provenance?target=" + url.substr(6), {admin}).json()) == 1);
  CHECK(fhir::testing::count_matches(app.get("/fhir/Provenance?target=" + url.substr(6), {gp}).json()) == 0);
  // The patient withdraws it.
  REQUIRE(app.put(url, consent(id, "p1", "art21-objection", "inactive"), with(patient)).status() == 200);
  CHECK(app.get("/fhir/Observation/o1", {hospital}).status() == 200);
}

TEST_CASE("break-glass is per patient, overrides granular denies as audited overrides, and is direct care elsewhere", "[server][consent]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto admin = consent_admin(idp);
  auto gp = idp.clinician("GP1");
  auto doctor = [&](const char* purpose) {
    return idp.bearer(std::string(R"("sub":"555000000001","org_ods":"ACU1","scope":"user/*.cruds",)") +
                      R"("nhs_role":{"person_roleid":"555000000001-01","role_code":"R8000","activity_codes":["B0083"]},"purpose_of_use":[")" +
                      purpose + R"("])");
  };
  auto po = idp.bearer(R"("sub":"po","org_ods":"ICB1","scope":"user/*.rs","nhs_role":{"role_code":"R0001"},"purpose_of_use":["HSYSADMIN"])");
  for (const char* id : {"p1", "p2"}) {
    REQUIRE(app.put(std::string("/fhir/Patient/") + id, R"({"resourceType":"Patient","id":")" + std::string(id) + R"(","name":[{"family":"X"}]})",
                    with(gp)).status() == 201);
    // Each patient's sensitive result (code 999) is withheld from everyone but its controller.
    std::string cid = std::string("g-") + id;
    REQUIRE(app.put("/fhir/Consent/" + cid, consent(cid, id, "granular", "active", R"({"type":"permit","provision":[{"type":"deny",
      "code":[{"coding":[{"system":"http://snomed.info/sct","code":"999"}]}]}]})"), with(admin)).status() == 201);
    REQUIRE(app.put(std::string("/fhir/Observation/s-") + id, observation(std::string("s-") + id, id, "999"), with(gp)).status() == 201);
  }
  CHECK(app.get("/fhir/Observation/s-p1", {doctor("TREAT")}).status() == 404);
  // An emergency purpose without a session: a request naming the patient is refused; one that does not
  // (a read by id) is direct care, so hidden still looks missing.
  auto refused = app.get("/fhir/Observation?patient=p1", {doctor("ETREAT")});
  CHECK(refused.status() == 403);
  CHECK(refused.issue_ids() == std::vector<std::string>{"break-glass-not-declared"});
  CHECK(app.get("/fhir/Observation/s-p1", {doctor("ETREAT")}).status() == 404);
  // Declaring needs the emergency purpose.
  CHECK(app.post("/fhir/Patient/p1/$break-glass", declaration, with(doctor("TREAT"))).status() == 403);
  CHECK(app.post("/fhir/Observation/s-p1/$break-glass", declaration, with(doctor("ETREAT"))).status() == 404);
  auto declared = app.post("/fhir/Patient/p1/$break-glass", declaration, with(doctor("ETREAT")));
  REQUIRE(declared.status() == 200);
  // The same answer for a patient who does not exist: declaring reveals nothing.
  CHECK(app.post("/fhir/Patient/nobody/$break-glass", declaration, with(doctor("ETREAT"))).status() == 200);

  auto seen = app.get("/fhir/Observation/s-p1", {doctor("ETREAT")});
  CHECK(seen.status() == 200);
  CHECK(seen.header("X-Break-Glass") == "active");
  CHECK(app.get("/fhir/Observation?patient=p1", {doctor("ETREAT")}).status() == 200);
  // Only for that patient: p2's stays hidden, and naming p2 is refused.
  CHECK(app.get("/fhir/Observation/s-p2", {doctor("ETREAT")}).status() == 404);
  CHECK(app.get("/fhir/Observation?patient=p2", {doctor("ETREAT")}).status() == 403);
  // Across patients: p1's as emergency access, p2's as direct care.
  auto across = app.get("/fhir/Observation?code=http://snomed.info/sct|999", {doctor("ETREAT")});
  REQUIRE(across.status() == 200);
  auto across_bundle = across.json();
  CHECK(fhir::testing::count_matches(across_bundle) == 1);
  CHECK(across.header("X-Break-Glass") == "active");
  // The other purpose of the same user is unaffected.
  CHECK(app.get("/fhir/Observation/s-p1", {doctor("TREAT")}).status() == 404);
  // A session does not open an opt-out without an emergency exception, and its 404 is a missing id's:
  // no X-Break-Glass header on what stays hidden.
  REQUIRE(app.put("/fhir/Patient/p3", R"({"resourceType":"Patient","id":"p3","name":[{"family":"X"}]})", with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/s-p3", observation("s-p3", "p3"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Consent/o-p3", consent("o-p3", "p3", "shcr-optout", "active"), with(admin)).status() == 201);
  REQUIRE(app.post("/fhir/Patient/p3/$break-glass", declaration, with(doctor("ETREAT"))).status() == 200);
  auto still_hidden = app.get("/fhir/Observation/s-p3", {doctor("ETREAT")});
  auto missing = app.get("/fhir/Observation/none", {doctor("ETREAT")});
  CHECK(still_hidden.status() == 404);
  CHECK(still_hidden.header("X-Break-Glass").empty());
  CHECK(still_hidden.header("X-Break-Glass") == missing.header("X-Break-Glass"));

  // The override is audited as such, against the granular Consent.
  auto audit = app.get("/fhir/AuditEvent?entity=Consent/g-p1&_count=100", {po});
  REQUIRE(audit.status() == 200);
  bool override_seen = false;
  auto audit_bundle = audit.json();
  REQUIRE(audit_bundle.find("entry"));
  for (const auto& e : audit_bundle.find("entry")->as_array())
    for (const auto& entity : e.find("resource")->find("entity")->as_array()) {
      if (fhir::testing::text(entity.find("what"), "reference") != "Consent/g-p1" || !entity.find("detail")) continue;
      for (const auto& d : entity.find("detail")->as_array())
        if (fhir::testing::text(&d, "type") == "decision" && fhir::testing::text(&d, "valueString") == "override") override_seen = true;
    }
  CHECK(override_seen);
  // And the declarations are Security Alerts, one per declaration.
  auto alerts = app.get("/fhir/AuditEvent?type=110113&_count=100", {po});
  REQUIRE(alerts.status() == 200);
  CHECK(fhir::testing::count_matches(alerts.json()) == 3);
}

// A provision's data reference names the resource however it is written: relative, versioned, or under
// this server's base URL (a deny written so used to match nothing and hide nothing).
TEST_CASE_METHOD(gp_and_hospital, "a Consent's data reference holds for its resource written absolute or versioned", "[server][consent]") {
  for (const char* id : {"o-abs", "o-ver", "o-free"})
    REQUIRE(app.put(std::string("/fhir/Observation/") + id, observation(id, "p1"), with(gp)).status() == 201);
  std::string own = std::string(app_fixture::base) + "/Observation/o-abs";
  REQUIRE(app.put("/fhir/Consent/g1", consent("g1", "p1", "granular", "active", R"({"type":"permit","provision":[
    {"type":"deny","data":[{"meaning":"instance","reference":{"reference":")" + own + R"("}},
                           {"meaning":"instance","reference":{"reference":"Observation/o-ver/_history/1"}},
                           {"meaning":"instance","reference":{"reference":"https://other.example/fhir/Observation/o-free"}}]}]})"),
                  with(admin)).status() == 201);
  CHECK(app.get("/fhir/Observation/o-abs", {hospital}).status() == 404);
  CHECK(app.get("/fhir/Observation/o-ver", {hospital}).status() == 404);
  CHECK(app.get("/fhir/Observation/o-free", {hospital}).status() == 200);  // another server's o-free is not ours
  CHECK(app.get("/fhir/Observation/o-abs", {gp}).status() == 200);         // the controller sees its own
}

TEST_CASE_METHOD(gp_and_hospital, "a match through a chain or _has needs a contributor the caller may see", "[server][consent][search]") {
  REQUIRE(app.put("/fhir/Observation/sensitive", observation("sensitive", "p1", "999"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/plain", observation("plain", "p2", "1234"), with(gp)).status() == 201);
  withhold_result_999_and_demographics(app, admin);
  CHECK(app.get("/fhir/Patient/p1", {hospital}).status() == 200);
  CHECK(app.get("/fhir/Observation/sensitive", {hospital}).status() == 404);
  CHECK(app.get("/fhir/Patient/p2", {hospital}).status() == 404);
  CHECK(app.get("/fhir/Observation/plain", {hospital}).status() == 200);

  // The visible p1 is not selected through their hidden result: that would reveal it exists.
  auto has = app.get("/fhir/Patient?_has:Observation:subject:code=http://snomed.info/sct|999&_total=accurate", {hospital});
  REQUIRE(has.status() == 200);
  auto has_bundle = has.json();
  CHECK(fhir::testing::count_matches(has_bundle) == 0);
  CHECK(has_bundle.find("total")->as_number().text == "0");
  CHECK(fhir::testing::count_matches(app.get("/fhir/Patient?_has:Observation:subject:code=http://snomed.info/sct|999", {gp}).json()) == 1);
  CHECK(fhir::testing::count_matches(app.get("/fhir/Patient?_id=p1", {hospital}).json()) == 1);
  // The visible result is not selected through p2's hidden demographics either.
  auto chained = app.get("/fhir/Observation?subject.family=Private&_total=accurate", {hospital});
  REQUIRE(chained.status() == 200);
  auto chained_bundle = chained.json();
  CHECK(fhir::testing::count_matches(chained_bundle) == 0);
  CHECK(chained_bundle.find("total")->as_number().text == "0");
  CHECK(fhir::testing::count_matches(app.get("/fhir/Observation?subject.family=Private", {gp}).json()) == 2);
  CHECK(fhir::testing::count_matches(app.get("/fhir/Observation?subject=Patient/p2", {hospital}).json()) == 1);
  // Through an element the hidden Patient shares with other possible targets (Device, Location, Group
  // have identifiers too): still nothing.
  REQUIRE(app.put("/fhir/Patient/p2", R"({"resourceType":"Patient","id":"p2","name":[{"family":"Private"}],
    "identifier":[{"system":"https://example.org/mrn","value":"M2"}]})", with(gp)).status() == 200);
  CHECK(fhir::testing::count_matches(app.get("/fhir/Observation?subject.identifier=https://example.org/mrn|M2", {hospital}).json()) == 0);
  CHECK(fhir::testing::count_matches(app.get("/fhir/Observation?subject.identifier=https://example.org/mrn|M2", {gp}).json()) == 1);

  // A Patient seen only in minimal form (an opt-out, the hospital's own result) contributes through what
  // the minimal form keeps (name, identifier, birth date, gender), not through what it withholds.
  REQUIRE(app.put("/fhir/Organization/gp1", R"({"resourceType":"Organization","id":"gp1","name":"Practice"})", with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Patient/p3", R"({"resourceType":"Patient","id":"p3","name":[{"family":"Minimal"}],
    "address":[{"city":"Leeds"}],"generalPractitioner":[{"reference":"Organization/gp1"}]})", with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/own", observation("own", "p3"), with(hospital)).status() == 201);
  REQUIRE(app.put("/fhir/Consent/o3", consent("o3", "p3", "shcr-optout", "active"), with(admin)).status() == 201);
  CHECK(fhir::testing::count_matches(app.get("/fhir/Observation?subject.family=Minimal", {hospital}).json()) == 1);
  CHECK(fhir::testing::count_matches(app.get("/fhir/Observation?subject.address-city=Leeds", {hospital}).json()) == 0);
  CHECK(fhir::testing::count_matches(app.get("/fhir/Observation?subject.address-city=Leeds", {gp}).json()) == 0);  // gp: not its result
  // Nor through _has: the minimal form withholds the reference it would be found by (its GP).
  CHECK(fhir::testing::count_matches(app.get("/fhir/Organization?_has:Patient:general-practitioner:family=Minimal", {hospital}).json()) == 0);
  CHECK(fhir::testing::count_matches(app.get("/fhir/Organization?_has:Patient:general-practitioner:family=Minimal", {gp}).json()) == 1);
  CHECK(app.get("/fhir/Organization/gp1", {hospital}).status() == 200);

  // A conditional reference resolves only to what the caller may see: to the hidden p2 it fails as for
  // nobody.
  auto referring = [&](const std::string& identifier) {
    return app.post("/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation",
      "status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier=)" + identifier + R"("}},
      "request":{"method":"POST","url":"Observation"}}]})", with(hospital));
  };
  auto hidden_target = referring("https://example.org/mrn|M2");
  auto missing_target = referring("https://example.org/mrn|nobody");
  CHECK(hidden_target.status() == 400);
  CHECK(hidden_target.issue_ids() == missing_target.issue_ids());
  CHECK(referring("https://example.org/mrn|M2").status() == 400);
  auto gp_referring = app.post("/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation",
      "status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier=https://example.org/mrn|M2"}},
      "request":{"method":"POST","url":"Observation"}}]})", with(gp));
  CHECK(gp_referring.status() == 200);  // the controller sees p2
}

// A chain of several hops, or a nested _has, holds only if every resource it passes through is one the
// caller may see, not only the first: a visible Encounter must not confirm facts of a hidden Patient
// or a hidden result it is linked to. Fails when only the first hop is checked.
TEST_CASE_METHOD(gp_and_hospital, "a chain of several hops or a nested _has holds only through resources the caller may see", "[server][consent][search]") {
  auto encounter = [](const std::string& id, const std::string& patient) {
    return R"({"resourceType":"Encounter","id":")" + id + R"(","status":"finished","class":{"system":
      "http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/)" + patient + R"("}})";
  };
  REQUIRE(app.put("/fhir/Encounter/e1", encounter("e1", "p1"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Encounter/e2", encounter("e2", "p2"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/sensitive", observation("sensitive", "p1", "999", "e1"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/plain", observation("plain", "p2", "1234", "e2"), with(gp)).status() == 201);
  withhold_result_999_and_demographics(app, admin);
  REQUIRE(app.get("/fhir/Encounter/e1", {hospital}).status() == 200);
  REQUIRE(app.get("/fhir/Encounter/e2", {hospital}).status() == 200);
  REQUIRE(app.get("/fhir/Observation/plain", {hospital}).status() == 200);
  REQUIRE(app.get("/fhir/Observation/sensitive", {hospital}).status() == 404);
  REQUIRE(app.get("/fhir/Patient/p2", {hospital}).status() == 404);

  // Two hops: the visible result, through its visible Encounter, to p2's hidden name.
  CHECK(matches(app, "Observation?encounter.subject.family=Private", hospital) == 0);
  CHECK(matches(app, "Observation?encounter.subject.family=Private", gp) == 2);
  CHECK(matches(app, "Observation?encounter.status=finished", hospital) == 1);
  // Nested _has: p1, through their visible Encounter, to the hidden result recorded in it.
  std::string nested = "Patient?_has:Encounter:subject:_has:Observation:encounter:code=http://snomed.info/sct|999";
  CHECK(matches(app, nested, hospital) == 0);
  CHECK(matches(app, nested, gp) == 1);
  CHECK(matches(app, "Patient?_has:Encounter:subject:_has:Observation:encounter:code=http://snomed.info/sct|1234", gp) == 1);
  CHECK(matches(app, "Encounter?_has:Observation:encounter:code=http://snomed.info/sct|1234", hospital) == 1);
}

// A chain into a resource contained in the match ("#doc") holds as part of the match: the caller sees
// it with the match, and not without. Fails closed (no match at all) when contained data is not checked.
TEST_CASE_METHOD(gp_and_hospital, "a chain into a contained resource holds as part of its container", "[server][consent][search][contained]") {
  auto performed = [](const std::string& id, const std::string& patient, const std::string& code) {
    return R"({"resourceType":"Observation","id":")" + id + R"(","status":"final",
      "contained":[{"resourceType":"Practitioner","id":"doc","name":[{"family":"Contained"}]}],"performer":[{"reference":"#doc"}],
      "code":{"coding":[{"system":"http://snomed.info/sct","code":")" + code + R"("}]},"subject":{"reference":"Patient/)" + patient + R"("}})";
  };
  REQUIRE(app.put("/fhir/Observation/plain", performed("plain", "p2", "1234"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/sensitive", performed("sensitive", "p1", "999"), with(gp)).status() == 201);
  withhold_result_999_and_demographics(app, admin);
  REQUIRE(app.get("/fhir/Observation/sensitive", {hospital}).status() == 404);
  CHECK(matches(app, "Observation?performer.family=Contained", hospital) == 1);
  CHECK(matches(app, "Observation?performer.family=Contained", gp) == 2);
  // Out of a contained resource to a resource: that one must be visible, as any contributor. A visible
  // panel whose contained member is about p2, whose demographics the hospital may not see.
  REQUIRE(app.put("/fhir/Observation/panel", R"({"resourceType":"Observation","id":"panel","status":"final",
    "code":{"coding":[{"system":"http://snomed.info/sct","code":"1234"}]},"subject":{"reference":"Patient/p1"},
    "contained":[{"resourceType":"Observation","id":"member","status":"final","code":{"coding":[{"system":"http://snomed.info/sct",
      "code":"1234"}]},"subject":{"reference":"Patient/p2"}}],"hasMember":[{"reference":"#member"}]})", with(gp)).status() == 201);
  REQUIRE(app.get("/fhir/Observation/panel", {hospital}).status() == 200);
  CHECK(matches(app, "Observation?has-member.code=http://snomed.info/sct|1234", hospital) == 1);
  CHECK(matches(app, "Observation?has-member:Observation.subject:Patient.family=Private", hospital) == 0);
  CHECK(matches(app, "Observation?has-member:Observation.subject:Patient.family=Private", gp) == 1);
  CHECK(matches(app, "Observation?has-member:Observation.subject:Patient._id=p2", gp) == 1);
  // A contained resource of another type than the chain names does not stand in for a hidden one: the
  // panel matches only through the hidden result, whose subject it must not confirm.
  REQUIRE(app.put("/fhir/Observation/panel2", R"({"resourceType":"Observation","id":"panel2","status":"final",
    "code":{"coding":[{"system":"http://snomed.info/sct","code":"1234"}]},"subject":{"reference":"Patient/p1"},
    "contained":[{"resourceType":"QuestionnaireResponse","id":"qr","status":"completed","subject":{"reference":"Patient/p1"}}],
    "hasMember":[{"reference":"Observation/sensitive"},{"reference":"#qr"}]})", with(gp)).status() == 201);
  CHECK(matches(app, "Observation?has-member:Observation.subject:Patient._id=p1", hospital) == 0);
  CHECK(matches(app, "Observation?has-member:Observation.subject:Patient._id=p1", gp) == 1);
  // Containers are of any patient's: a patient-facing caller may not ask for them.
  CHECK(app.get("/fhir/Practitioner?_contained=true", {idp.patient("p1")}).status() == 403);
}

// _contained: a container is found by what it contains, which its minimal form withholds: a Patient the
// caller sees only in minimal form is not a result. Fails when containers are shown as any match is.
TEST_CASE_METHOD(gp_and_hospital, "_contained returns a container only to a caller who sees it in full", "[server][consent][search][contained]") {
  REQUIRE(app.put("/fhir/Patient/p3", R"({"resourceType":"Patient","id":"p3","name":[{"family":"Minimal"}],
    "contained":[{"resourceType":"Organization","id":"gp","name":"Hidden Practice"}],"generalPractitioner":[{"reference":"#gp"}]})",
                  with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/own", observation("own", "p3"), with(hospital)).status() == 201);
  REQUIRE(app.put("/fhir/Consent/o3", consent("o3", "p3", "shcr-optout", "active"), with(admin)).status() == 201);
  REQUIRE(matches(app, "Patient?family=Minimal", hospital) == 1);  // in minimal form
  CHECK(matches(app, "Organization?name=hidden&_contained=true", hospital) == 0);
  CHECK(matches(app, "Organization?name=hidden&_contained=true", gp) == 1);
  // Returned alone, a contained resource is still its container's content: the same rule.
  CHECK(matches(app, "Organization?name=hidden&_contained=true&_containedType=contained", hospital) == 0);
  CHECK(matches(app, "Organization?name=hidden&_contained=true&_containedType=contained", gp) == 1);
  CHECK(matches(app, "Patient?general-practitioner.name=hidden", hospital) == 0);
  CHECK(matches(app, "Patient?general-practitioner.name=hidden", gp) == 1);
}

// An include goes with the match whose link reached it, whatever else names it: the hospital sees p2's
// response and its PHQ-9, not p1's (an opt-out) nor the questionnaire only p1's names, though that one
// names the PHQ-9 in turn (derivedFrom). Fails when includes are linked by what they mention rather than
// by the store's links (the HIV-risk questionnaire is kept), or when canonicals link nothing.
TEST_CASE_METHOD(gp_and_hospital, "an include goes with the match whose link reached it", "[server][consent][search][include]") {
  const std::string forms = "https://forms.example/Questionnaire/";
  REQUIRE(app.put("/fhir/Questionnaire/phq9", R"({"resourceType":"Questionnaire","id":"phq9","status":"active","url":")" + forms +
                  R"(phq9"})", with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Questionnaire/hiv", R"({"resourceType":"Questionnaire","id":"hiv","status":"active","url":")" + forms +
                  R"(hiv-risk","derivedFrom":[")" + forms + R"(phq9"]})", with(gp)).status() == 201);
  auto response = [&](const std::string& id, const std::string& patient, const std::string& form) {
    return R"({"resourceType":"QuestionnaireResponse","id":")" + id + R"(","status":"completed","questionnaire":")" + forms + form +
           R"(|1","subject":{"reference":"Patient/)" + patient + R"("}})";
  };
  REQUIRE(app.put("/fhir/QuestionnaireResponse/shown", response("shown", "p2", "phq9"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/QuestionnaireResponse/hidden", response("hidden", "p1", "hiv-risk"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Consent/o1", consent("o1", "p1", "shcr-optout", "active"), with(admin)).status() == 201);
  auto included = [&](const std::string& query, const server::http::header& who) {
    auto r = app.get("/fhir/" + query, {who});
    INFO(query << "\n" << r.http.body);
    REQUIRE(r.status() == 200);
    std::set<std::string> out;
    auto bundle = r.json();
    if (const auto* entries = bundle.find("entry"))
      for (const auto& e : entries->as_array())
        if (*e.find("search")->find_string("mode") == "include") out.insert(*e.find("resource")->find_string("id"));
    return out;
  };
  const std::string forward = "QuestionnaireResponse?_include=QuestionnaireResponse:questionnaire";
  const std::string reverse = "Questionnaire?_revinclude=QuestionnaireResponse:questionnaire";
  CHECK(included(forward, gp) == std::set<std::string>{"phq9", "hiv"});
  CHECK(included(reverse, gp) == std::set<std::string>{"shown", "hidden"});
  CHECK(matches(app, forward, hospital) == 1);
  CHECK(included(forward, hospital) == std::set<std::string>{"phq9"});
  CHECK(matches(app, reverse, hospital) == 2);
  CHECK(included(reverse, hospital) == std::set<std::string>{"shown"});
  // A chain or _has through a canonical holds only through what the caller may see.
  const std::string chain = "QuestionnaireResponse?questionnaire.url=" + forms + "hiv-risk";
  const std::string has = "Questionnaire?_has:QuestionnaireResponse:questionnaire:subject=Patient/p1";
  for (const std::string& query : {chain, has}) {
    CHECK(matches(app, query, gp) == 1);
    CHECK(matches(app, query, hospital) == 0);
  }
  // Pages refilled after hidden matches: an include reached again from a later store page's shown match
  // keeps that link (the first store page reached the PHQ-9 from a hidden response only).
  REQUIRE(app.put("/fhir/QuestionnaireResponse/early", response("early", "p1", "phq9"), with(gp)).status() == 201);
  const std::string paged = forward + "&_sort=_id&_count=1";  // early, hidden, shown: one store page each
  CHECK(matches(app, paged, hospital) == 1);
  CHECK(included(paged, hospital) == std::set<std::string>{"phq9"});
}

// A link counts in the role it was followed from: an include reached from a match that is withheld goes,
// even when that same resource is shown on the page as another match's include (not :iterate: an include
// of an include would be wrong FHIR as well as a leak). Fails when links are kept by "Type/id" alone.
TEST_CASE("an include reached from a withheld match goes, though that resource is shown as an include", "[server][consent][include]") {
  auto entry = [](std::string type, std::string id, std::vector<std::string> included_by = {}) {
    store::search_entry e;
    e.version.info.type = std::move(type);
    e.version.info.id = std::move(id);
    e.mode = included_by.empty() ? store::search_mode::match : store::search_mode::include;
    e.included_by = std::move(included_by);
    return e;
  };
  // Match H was withheld; the shown match S refers to H, so H is also on the page as S's include; Q was
  // reached from H as a match only.
  std::vector<store::search_entry> shown{entry("Questionnaire", "s")};
  std::vector<store::search_entry> includes{entry("Questionnaire", "q", {"match:Questionnaire/h"}),
                                            entry("Questionnaire", "h", {"match:Questionnaire/s"})};
  server::consent::keep_linked_includes(shown, includes);
  REQUIRE(includes.size() == 1);
  CHECK(includes.front().version.info.id == "h");
  // Under :iterate the store names the include it came from, and that link holds once the include is kept.
  std::vector<store::search_entry> iterated{entry("Questionnaire", "q", {"include:Questionnaire/h"}),
                                            entry("Questionnaire", "h", {"match:Questionnaire/s"})};
  server::consent::keep_linked_includes(shown, iterated);
  CHECK(iterated.size() == 2);
}

TEST_CASE("page links are bound to the caller, the search and 15 minutes", "[server][consent][paging]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto gp = idp.clinician("GP1");
  auto hospital = idp.clinician("ACU1");
  REQUIRE(app.put("/fhir/Patient/p1", R"({"resourceType":"Patient","id":"p1","name":[{"family":"X"}]})", with(gp)).status() == 201);
  for (const char* id : {"o1", "o2", "o3"}) REQUIRE(app.put(std::string("/fhir/Observation/") + id, observation(id, "p1"), with(gp)).status() == 201);

  auto next_of = [](const fhir::json::value& bundle) {
    for (const auto& link : bundle.find("link")->as_array())
      if (fhir::testing::text(&link, "relation") == "next") return "/fhir" + fhir::testing::text(&link, "url").substr(app_fixture::base.size());
    return std::string();
  };
  for (const char* first : {"/fhir/Observation?_count=1", "/fhir/Observation/_history?_count=1", "/fhir/Patient/p1/$everything?_count=1"}) {
    INFO(first);
    auto page = app.get(first, {hospital});
    REQUIRE(page.status() == 200);
    std::string next = next_of(page.json());
    REQUIRE(!next.empty());
    CHECK(app.get(next, {hospital}).status() == 200);
    auto foreign = app.get(next, {gp});  // another organisation's clinician
    CHECK(foreign.status() == 404);
    CHECK(foreign.issue_ids() == std::vector<std::string>{"page-link-invalid"});
  }

  // The clock: a link opens until 15 minutes after it was made, for its caller and search only.
  server::page_cursors cursors;
  auto caller = app.application().context().auth->authenticate(hospital.value, std::nullopt, fhir::now_ms() / 1000);
  REQUIRE(caller.ok());
  fhir::epoch_ms made = 1'800'000'000'000;
  std::string sealed = cursors.seal(&*caller, "Observation?_count=1", "inner", made);
  auto opened = cursors.open(&*caller, "Observation?_count=1", sealed, made + server::page_link_lifetime - 1000);
  REQUIRE(opened.ok());
  CHECK(*opened == "inner");
  CHECK(!cursors.open(&*caller, "Observation?_count=1", sealed, made + server::page_link_lifetime).ok());
  CHECK(!cursors.open(&*caller, "Observation?_count=2", sealed, made).ok());
  CHECK(!cursors.open(nullptr, "Observation?_count=1", sealed, made).ok());
  CHECK(!server::page_cursors().open(&*caller, "Observation?_count=1", sealed, made).ok());  // another key: a restart

  // Each page is decided afresh: a Consent withdrawn between two pages shows on the next one.
  auto admin = consent_admin(idp);
  REQUIRE(app.put("/fhir/Patient/p2", R"({"resourceType":"Patient","id":"p2","name":[{"family":"Y"}]})", with(gp)).status() == 201);
  for (const char* id : {"q1", "q2", "q3"}) REQUIRE(app.put(std::string("/fhir/Observation/") + id, observation(id, "p2"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Consent/c2", consent("c2", "p2", "shcr-optout", "active"), with(admin)).status() == 201);
  auto first_page = app.get("/fhir/Observation?_count=2&_sort=_id", {hospital});
  REQUIRE(first_page.status() == 200);
  auto first_bundle = first_page.json();
  std::string next = next_of(first_bundle);
  REQUIRE(!next.empty());
  REQUIRE(app.put("/fhir/Consent/c2", consent("c2", "p2", "shcr-optout", "inactive"), with(admin)).status() == 200);
  auto second_page = app.get(next, {hospital});
  REQUIRE(second_page.status() == 200);
  std::vector<std::string> ids;
  auto second_bundle = second_page.json();
  for (const auto& e : second_bundle.find("entry")->as_array()) ids.push_back(fhir::testing::text(e.find("resource"), "id"));
  CHECK(ids == std::vector<std::string>{"o3", "q1"});
}

TEST_CASE("with --ndoo-max-age, planning and research wait for a fresh national opt-out mirror", "[server][consent]") {
  identity_provider idp;
  auto options = jwt_options(idp);
  options.ndoo_max_age = 86'400'000;  // one day
  app_fixture app(options);
  auto analyst = idp.bearer(R"("sub":"a1","org_ods":"ICB1","scope":"user/*.rs","nhs_role":{"role_code":"SHCR-ANALYST"},"purpose_of_use":["HOPERAT"])");
  auto gp = idp.clinician("GP1");
  REQUIRE(app.put("/fhir/Patient/p1", R"({"resourceType":"Patient","id":"p1","name":[{"family":"X"}]})", with(gp)).status() == 201);
  auto stale = app.get("/fhir/Observation?_count=1", {analyst});
  CHECK(stale.status() == 503);
  CHECK(stale.issue_ids() == std::vector<std::string>{"ndoo-stale"});
  CHECK(app.get("/fhir/Observation?_count=1", {gp}).status() == 200);  // direct care is not held up
  REQUIRE(app.put("/fhir/Consent/n1", consent("n1", "p1", "ndoo", "active", R"({"type":"deny","purpose":[
    {"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HOPERAT"},
    {"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HRESCH"}]})"), with(consent_admin(idp))).status() == 201);
  CHECK(app.get("/fhir/Observation?_count=1", {analyst}).status() == 200);
  CHECK(app.get("/fhir/Patient/p1", {analyst}).status() == 404);  // and the opt-out itself applies
}
