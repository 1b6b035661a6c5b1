// Data quality per source organisation (issue 10): every validated write is counted against the
// organisation that sent it, and GET $data-quality reports accepted and rejected writes, the validation
// issues with examples, NHS numbers failing Modulus 11, references to missing resources, duplicate
// identifiers, the days' series and the last feed time; an organisation sees its own figures, system
// administration all of them.

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <thread>

#include "tests/server/app_fixture.hpp"
#include "tests/server/identity_provider.hpp"
#include "tests/server/requests.hpp"

using fhir::testing::app_fixture;
using fhir::testing::identity_provider;
using fhir::testing::jwt_options;
using fhir::testing::with;
using fhir::json::value;

namespace {

std::string patient(const std::string& id, const std::string& nhs_number) {
  return R"({"resourceType":"Patient",)" + (id.empty() ? std::string() : R"("id":")" + id + R"(",)") +
         R"("identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" + nhs_number +
         R"("}],"name":[{"family":"Smith"}],"gender":"female","birthDate":"1970-01-01"})";
}

std::string observation(const std::string& id, const std::string& subject) {
  return R"({"resourceType":"Observation","id":")" + id + R"(","status":"final",
    "code":{"coding":[{"system":"http://snomed.info/sct","code":"1234"}]},"subject":{"reference":")" + subject + R"("}})";
}

// The parts of one `organization` parameter, by name (repeated names: the last; see `all`).
struct organisation_figures {
  std::map<std::string, value> parts;
  std::vector<value> all;
  std::int64_t integer(const std::string& name) const {
    auto it = parts.find(name);
    REQUIRE(it != parts.end());
    return std::stoll(it->second.find("valueInteger")->as_number().text);
  }
  std::vector<const value*> named(const std::string& name) const {
    std::vector<const value*> out;
    for (const value& p : all)
      if (*p.find_string("name") == name) out.push_back(&p);
    return out;
  }
};

std::map<std::string, organisation_figures> figures(const value& report) {
  REQUIRE(*report.find_string("resourceType") == "Parameters");
  std::map<std::string, organisation_figures> out;
  for (const value& p : report.find("parameter")->as_array()) {
    if (*p.find_string("name") != "organization") continue;
    organisation_figures f;
    for (const value& part : p.find("part")->as_array()) {
      f.parts[*part.find_string("name")] = part;
      f.all.push_back(part);
    }
    out[*f.parts["code"].find_string("valueString")] = std::move(f);
  }
  return out;
}

// The value of part `name` inside a nested part (type, day, issue).
std::string inner(const value& nested, const std::string& name) {
  for (const value& p : nested.find("part")->as_array())
    if (*p.find_string("name") == name) {
      for (const char* kind : {"valueString", "valueDate"})
        if (const std::string* s = p.find_string(kind)) return *s;
      return p.find("valueInteger")->as_number().text;
    }
  return {};
}

}  // namespace

TEST_CASE("$data-quality reports each organisation's writes, issues, missing references and duplicates", "[server][quality]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto gp = idp.clinician("GP1");
  auto hospital = idp.clinician("RX2");
  REQUIRE(app.put("/fhir/Patient/p1", patient("p1", "9000000009"), with(gp)).status() == 201);
  auto bad = app.put("/fhir/Patient/p2", patient("p2", "9000000008"), with(gp));  // fails Modulus 11
  REQUIRE(bad.status() == 422);
  REQUIRE(app.put("/fhir/Patient/p3", patient("p3", "9000000009"), with(gp)).status() == 201);  // p1's NHS number again
  REQUIRE(app.put("/fhir/Observation/o1", observation("o1", "Patient/p1"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o2", observation("o2", "Patient/nobody"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Patient/p1", patient("p1", "9000000009"), with(gp)).status() == 200);  // its own identifier: no duplicate
  REQUIRE(app.post("/fhir/Patient", patient("", "9434765919"), with(hospital)).status() == 201);
  // p4 opted out: RX2 still sees the minimal Patient (to avoid duplicate registrations), so RX2 sending
  // p4's NHS number is a duplicate; GP1's Observation go4 of p4 is hidden from RX2, so for RX2 its
  // identifier is free and a reference to it is missing, exactly as for one that does not exist.
  auto admin_c = fhir::testing::consent_admin(idp);
  REQUIRE(app.put("/fhir/Patient/p4", patient("p4", "9876543210"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Consent/c4", fhir::testing::consent_json("c4", "p4", "shcr-optout"), with(admin_c)).status() == 201);
  auto identified = [](std::string body, const std::string& member) { return body.insert(body.rfind('}'), "," + member); };
  REQUIRE(app.put("/fhir/Observation/go4", identified(observation("go4", "Patient/p4"),
    R"("identifier":[{"system":"https://gp1.example/obs","value":"X1"}])"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Patient/r1", patient("r1", "9876543210"), with(hospital)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/r2", identified(observation("r2", "Patient/r1"),
    R"("identifier":[{"system":"https://gp1.example/obs","value":"X1"}],"hasMember":[{"reference":"Observation/go4"}])"),
    with(hospital)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/r3", observation("r3", "Patient/nobody"), with(hospital)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/r4", observation("r4", std::string(app_fixture::base) + "/Patient/r1"), with(hospital)).status() == 201);
  // The checks after the commit run on the recorder's thread every few seconds: now, for the test.
  REQUIRE(app.application().context().quality->flush().ok());

  auto own = app.get("/fhir/$data-quality", {gp});
  INFO(own.http.body);
  REQUIRE(own.status() == 200);
  auto orgs = figures(own.json());
  REQUIRE(orgs.size() == 1);  // an organisation sees its own figures only
  const organisation_figures& gp1 = orgs.at("GP1");
  CHECK(gp1.integer("accepted") == 7);
  CHECK(gp1.integer("rejected") == 1);
  CHECK(gp1.integer("nhsNumberInvalid") == 1);
  CHECK(gp1.integer("missingReference") == 1);
  CHECK(gp1.integer("duplicate") == 1);
  CHECK(gp1.integer("unchecked") == 0);
  CHECK(gp1.parts.at("stale").find("valueBoolean")->as_bool() == false);
  CHECK(gp1.parts.count("lastFeed") == 1);
  // Per type and per day (the dashboard's chart), and the top issues with an example.
  std::map<std::string, std::string> accepted_by_type;
  for (const value* t : gp1.named("type")) accepted_by_type[inner(*t, "name")] = inner(*t, "accepted");
  CHECK(accepted_by_type == std::map<std::string, std::string>{{"Observation", "3"}, {"Patient", "4"}});
  auto days = gp1.named("day");
  REQUIRE(days.size() == 1);
  CHECK(inner(*days[0], "accepted") == "7");
  CHECK(inner(*days[0], "rejected") == "1");
  bool nhs_issue = false;
  for (const value* i : gp1.named("issue"))
    if (inner(*i, "code") == "nhs-number-invalid") {
      nhs_issue = true;
      CHECK(inner(*i, "severity") == "error");
      CHECK(inner(*i, "path") == "Patient.identifier.value");
      CHECK(inner(*i, "count") == "1");
      CHECK(inner(*i, "example") == "Patient/p2");  // the resource, never what it holds
    }
  CHECK(nhs_issue);

  // Another organisation's figures, or everyone's, are for system administration.
  CHECK(app.get("/fhir/$data-quality?organization=RX2", {gp}).status() == 403);
  CHECK(app.get("/fhir/$data-quality", {idp.patient("p1")}).status() == 403);
  auto admin = idp.bearer(R"("sub":"po","org_ods":"ICB1","scope":"user/*.cruds","nhs_role":{"role_code":"R0001"},"purpose_of_use":["HSYSADMIN"])");
  auto everyone = figures(app.get("/fhir/$data-quality", {admin}).json());
  CHECK(everyone.size() == 3);  // GP1, RX2 and ICB1 (the consent administrator's)
  const organisation_figures& rx2 = everyone.at("RX2");
  CHECK(rx2.integer("accepted") == 5);
  CHECK(rx2.integer("duplicate") == 1);         // the Patient (p4 seen minimal), not the hidden Observation's identifier
  CHECK(rx2.integer("missingReference") == 2);  // Observation/go4 (hidden) and Patient/nobody; not r1 by absolute URL
  CHECK(everyone.at("GP1").integer("duplicate") == 1);
  auto rx2_only = figures(app.get("/fhir/$data-quality?organization=RX2&type=Patient", {admin}).json());
  REQUIRE(rx2_only.size() == 1);
  CHECK(rx2_only.count("RX2") == 1);
  CHECK(rx2_only.at("RX2").integer("accepted") == 2);
  CHECK(figures(app.get("/fhir/$data-quality?type=Observation", {admin}).json()).at("GP1").integer("accepted") == 3);
  // A period with nothing in it still lists each organisation's last feed (how a stopped feed shows).
  auto future = figures(app.get("/fhir/$data-quality?_since=2999-01-01", {admin}).json());
  CHECK(future.at("GP1").integer("accepted") == 0);
  CHECK(future.at("GP1").parts.count("lastFeed") == 1);
  // System administration means purpose HSYSADMIN: a consent administrator (PATADMIN) sees their own.
  CHECK(app.get("/fhir/$data-quality?organization=GP1", {admin_c}).status() == 403);
  CHECK(figures(app.get("/fhir/$data-quality", {admin_c}).json()).size() == 1);
  CHECK(app.get("/fhir/$data-quality?type=Nonsense", {admin}).status() == 400);
  CHECK(app.get("/fhir/$data-quality?colour=blue", {admin}).status() == 400);
  // The CapabilityStatement names the operation.
  CHECK(app.get("/fhir/metadata").http.body.find("OperationDefinition/data-quality") != std::string::npos);
}

TEST_CASE("a feed that stopped arriving is reported stale", "[server][quality]") {
  identity_provider idp;
  auto options = jwt_options(idp);
  options.stale_feed_age = 1;  // 1 ms
  app_fixture app(options);
  auto gp = idp.clinician("GP1");
  REQUIRE(app.put("/fhir/Patient/p1", patient("p1", "9000000009"), with(gp)).status() == 201);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto orgs = figures(app.get("/fhir/$data-quality", {gp}).json());
  CHECK(orgs.at("GP1").parts.at("stale").find("valueBoolean")->as_bool());
}
