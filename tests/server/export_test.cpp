// Bulk Data export (Bulk Data Access 2.0) through the router with signed tokens: the asynchronous
// kick-off, status polling, the manifest and its NDJSON files, `_type`, `_since`, `_typeFilter`,
// cancellation, the Patient and Group levels, the binding of a job to its caller, the consent pipeline
// on every exported resource (the national data opt-out for planning, the minimal Patient for
// clinicians), and a patient's own export (subject access) minus what is withheld from them.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "fhir/json/parse.hpp"
#include "tests/server/app_fixture.hpp"
#include "tests/server/identity_provider.hpp"
#include "tests/server/requests.hpp"

using fhir::testing::app_fixture;
using fhir::testing::consent_admin;
using fhir::testing::identity_provider;
using fhir::testing::jwt_options;
using fhir::testing::wait_for_job;
using fhir::testing::reply;
using fhir::testing::with;
using server::http::header;

namespace {

const header async{"Prefer", "respond-async"};

std::string patient(const std::string& id, const std::string& family = "Smith") {
  return R"({"resourceType":"Patient","id":")" + id + R"(","name":[{"family":")" + family +
         R"("}],"gender":"female","birthDate":"1970-01-01","address":[{"city":"Leeds"}]})";
}

std::string observation(const std::string& id, const std::string& subject, const std::string& code = "1234",
                        const std::string& meta = "") {
  return R"({"resourceType":"Observation","id":")" + id + R"(",)" + (meta.empty() ? "" : R"("meta":)" + meta + ",") +
         R"("status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":")" + code +
         R"("}]},"subject":{"reference":"Patient/)" + subject + R"("}})";
}

std::string consent(const std::string& id, const std::string& patient_id, const std::string& kind, const std::string& provision) {
  return fhir::testing::consent_json(id, patient_id, kind, "active", provision);
}

// The path of a URL under the fixture's base ("http://test.example/fhir/$export-poll-status/x" -> "/fhir/...").
std::string local(const std::string& url) {
  REQUIRE(url.starts_with(app_fixture::base));
  return "/fhir" + url.substr(app_fixture::base.size());
}

// Kicks off an export and returns its status URL (as a local path).
std::string kick_off(const app_fixture& app, const std::string& target, const header& caller) {
  reply r = app.get(target, {caller, async});
  INFO(target << " -> " << r.http.body);
  REQUIRE(r.status() == 202);
  std::string location = r.header("Content-Location");
  REQUIRE(location.starts_with(std::string(app_fixture::base) + "/$export-poll-status/"));
  return local(location);
}

// type -> the ids exported (every file of the manifest read and parsed, line by line).
using exported = std::map<std::string, std::vector<std::string>>;

// `exact`: every file holds as many lines as the manifest counts (false: at most, after Consents changed).
exported download(const app_fixture& app, const fhir::json::value& manifest, const header& caller,
                  std::map<std::string, fhir::json::value>* resources = nullptr, bool exact = true) {
  exported out;
  for (const auto& file : manifest.find("output")->as_array()) {
    std::string type = *file.find_string("type");
    reply r = app.get(local(*file.find_string("url")), {caller});
    REQUIRE(r.status() == 200);
    CHECK(r.header("Content-Type") == "application/fhir+ndjson");
    REQUIRE(!r.http.file.empty());
    std::ifstream in(r.http.file);
    std::string line;
    std::size_t lines = 0;
    while (std::getline(in, line)) {
      ++lines;
      auto resource = fhir::json::parse(line);
      REQUIRE(resource.ok());
      CHECK(*resource->find_string("resourceType") == type);
      std::string id = *resource->find_string("id");
      out[type].push_back(id);
      if (resources) (*resources)[type + "/" + id] = std::move(*resource);
    }
    auto count = static_cast<std::size_t>(std::stoll(file.find("count")->as_number().text));
    if (exact) CHECK(lines == count);
    else CHECK(lines <= count);
  }
  for (auto& [type, ids] : out) std::sort(ids.begin(), ids.end());
  return out;
}

exported run(const app_fixture& app, const std::string& target, const header& caller,
             std::map<std::string, fhir::json::value>* resources = nullptr) {
  return download(app, wait_for_job(app, kick_off(app, target, caller), caller), caller, resources);
}

using ids = std::vector<std::string>;

}  // namespace

TEST_CASE("a system export runs asynchronously and gives a manifest of NDJSON files per type", "[server][export]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto gp = idp.clinician("GP1");
  for (std::string id : {"p1", "p2"}) REQUIRE(app.put("/fhir/Patient/" + id, patient(id), with(gp)).status() == 201);
  for (std::string id : {"o1", "o2", "o3"}) REQUIRE(app.put("/fhir/Observation/" + id, observation(id, id == "o3" ? "p2" : "p1"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Organization/org1", R"({"resourceType":"Organization","id":"org1","name":"GP1"})", with(gp)).status() == 201);
  REQUIRE(app.del("/fhir/Observation/o2", {gp}).status() == 200);

  // The kick-off must ask for asynchronous processing and a format this server writes.
  auto sync = app.get("/fhir/$export", {gp});
  CHECK(sync.status() == 400);
  CHECK(sync.issue_ids() == ids{"export-prefer-async-missing"});
  CHECK(app.get("/fhir/$export?_outputFormat=text/csv", {gp, async}).status() == 400);
  CHECK(app.get("/fhir/$export?_type=Nonsense", {gp, async}).status() == 400);
  CHECK(app.get("/fhir/$export?_type=AuditEvent", {gp, async}).status() == 403);  // not a clinician's to read
  auto po = idp.bearer(R"("sub":"po","org_ods":"ICB1","scope":"user/*.cruds","nhs_role":{"role_code":"R0001"},"purpose_of_use":["HSYSADMIN"])");
  CHECK(app.get("/fhir/$export?_type=AuditEvent", {po, async}).status() == 400);  // the trail is searched, not exported
  auto unsupported = app.get("/fhir/$export?_elements=id", {gp, async});
  CHECK(unsupported.status() == 400);
  CHECK(unsupported.issue_ids() == ids{"export-parameter-unsupported"});
  CHECK(app.get("/fhir/$export?_type=Patient&_elements=id", {gp, {"Prefer", "respond-async, handling=lenient"}}).status() == 202);
  CHECK(app.get("/fhir/Observation/$export", {gp, async}).status() == 404);  // defined on the system, Patient and Group only

  std::string status = kick_off(app, "/fhir/$export?_outputFormat=application/fhir%2Bndjson", gp);
  auto manifest = wait_for_job(app, status, gp);
  CHECK(*manifest.find_string("request") == std::string(app_fixture::base) + "/$export?_outputFormat=application/fhir%2Bndjson");
  CHECK(manifest.find("requiresAccessToken")->as_bool());
  CHECK(manifest.find("transactionTime") != nullptr);
  CHECK(manifest.find("error")->as_array().empty());
  exported files = download(app, manifest, gp);
  CHECK(files["Patient"] == ids{"p1", "p2"});
  CHECK(files["Observation"] == ids{"o1", "o3"});  // current, undeleted versions only
  CHECK(files["Organization"] == ids{"org1"});
  CHECK(files.count("AuditEvent") == 0);
  CHECK(files.count("Condition") == 0);  // no empty files

  // The job is its caller's: another caller (here another organisation) finds neither status nor files.
  auto other = idp.clinician("RX2");
  auto stranger = app.get(status, {other});
  CHECK(stranger.status() == 404);
  CHECK(stranger.issue_ids() == ids{"export-job-unknown"});
  std::string a_file = local(*manifest.find("output")->as_array()[0].find_string("url"));
  CHECK(app.get(a_file, {other}).status() == 404);
  CHECK(app.del(status, {other}).status() == 404);
  CHECK(app.get(status + "/x", {gp}).status() == 404);
  std::string job = status.substr(status.rfind('/') + 1);
  CHECK(app.get("/fhir/$export-file/" + job + "/..%2Ftest.db", {gp}).status() == 404);  // only listed files are served

  // The same user with another token (other scopes, another purpose) is another caller.
  CHECK(app.get(status, {idp.clinician("GP1", "user/Patient.rs")}).status() == 404);
  CHECK(app.get(a_file, {idp.clinician("GP1", "user/Patient.rs")}).status() == 404);
  // Downloads may ask for NDJSON; HEAD does not start an export.
  CHECK(app.get(a_file, {gp, {"Accept", "application/fhir+ndjson"}}).status() == 200);
  CHECK(app.send("HEAD", "/fhir/$export", "", {gp, async}).status() == 405);

  // Cancelling (DELETE) forgets the job and removes its files.
  auto first_file = app.get(a_file, {gp}).http.file;
  REQUIRE(std::filesystem::exists(first_file));
  CHECK(app.del(status, {gp}).status() == 202);
  CHECK(app.get(status, {gp}).status() == 404);
  CHECK(app.get(a_file, {gp}).status() == 404);
  CHECK(!std::filesystem::exists(first_file));

  // The CapabilityStatement names the Bulk Data operations.
  std::string cs = app.get("/fhir/metadata").http.body;
  CHECK(cs.find("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export") != std::string::npos);
  CHECK(cs.find("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export") != std::string::npos);
  CHECK(cs.find("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export") != std::string::npos);
}

TEST_CASE("_type, _since and _typeFilter choose what an export holds", "[server][export]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto gp = idp.clinician("GP1");
  REQUIRE(app.put("/fhir/Patient/p1", patient("p1"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o1", observation("o1", "p1", "111"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o2", observation("o2", "p1", "222"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o3", observation("o3", "p1", "333"), with(gp)).status() == 201);

  CHECK(run(app, "/fhir/$export?_type=Observation", gp) == exported{{"Observation", {"o1", "o2", "o3"}}});
  CHECK(run(app, "/fhir/$export?_type=Patient,Observation&_typeFilter=Observation%3Fcode%3D222", gp) ==
        exported{{"Observation", {"o2"}}, {"Patient", {"p1"}}});
  // Several filters of one type are alternatives; a resource matching both is written once.
  CHECK(run(app, "/fhir/$export?_type=Observation&_typeFilter=Observation%3Fcode%3D111&_typeFilter=Observation%3Fcode%3D333"
                 "&_typeFilter=Observation%3Fsubject%3DPatient/p1%26code%3D333",
            gp) == exported{{"Observation", {"o1", "o3"}}});
  auto bad_filter = app.get("/fhir/$export?_type=Observation&_typeFilter=Observation%3Fdate%3Dbanana", {gp, async});
  CHECK(bad_filter.status() == 400);
  CHECK(app.get("/fhir/$export?_type=Patient&_typeFilter=Observation%3Fcode%3D111", {gp, async}).status() == 400);
  CHECK(app.get("/fhir/$export?_typeFilter=Observation%3F_count%3D1", {gp, async}).status() == 400);
  CHECK(app.get("/fhir/$export?_since=yesterday", {gp, async}).status() == 400);
  // Chains and _has would select by resources the caller may not see: refused.
  auto chained = app.get("/fhir/$export?_type=Observation&_typeFilter=Observation%3Fsubject.name%3DSmith", {gp, async});
  CHECK(chained.status() == 400);
  CHECK(app.get("/fhir/$export?_type=Patient&_typeFilter=Patient%3F_has:Observation:subject:code%3D111", {gp, async}).status() == 400);

  // _since: only what changed after the instant.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto read = app.get("/fhir/Observation/o3", {gp}).json();
  std::string after_o3 = *read.find("meta")->find_string("lastUpdated");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(app.put("/fhir/Observation/o1", observation("o1", "p1", "444"), with(gp)).status() == 200);
  REQUIRE(after_o3.ends_with("Z"));  // instants are written in UTC, so the value needs no escaping in a URL
  CHECK(run(app, "/fhir/$export?_type=Observation,Patient&_since=" + after_o3, gp) == exported{{"Observation", {"o1"}}});
}

TEST_CASE("Patient and Group exports cover their patients' compartments", "[server][export]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto gp = idp.clinician("GP1");
  for (std::string id : {"p1", "p2", "p3"}) REQUIRE(app.put("/fhir/Patient/" + id, patient(id), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o1", observation("o1", "p1"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o2", observation("o2", "p2"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o3", observation("o3", "p3"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Organization/org1", R"({"resourceType":"Organization","id":"org1","name":"GP1"})", with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Group/g1", R"({"resourceType":"Group","id":"g1","type":"person","actual":true,"member":[
    {"entity":{"reference":"Patient/p1"}},{"entity":{"reference":"Patient/p3"},"inactive":true},
    {"entity":{"reference":"Patient/p2"}}]})", with(gp)).status() == 201);

  // Patient level: the Patient compartment's types, so no Organization (not patient data).
  exported everyone = run(app, "/fhir/Patient/$export", gp);
  CHECK(everyone["Patient"] == ids{"p1", "p2", "p3"});
  CHECK(everyone["Observation"] == ids{"o1", "o2", "o3"});
  CHECK(everyone.count("Organization") == 0);
  CHECK(everyone["Group"] == ids{"g1"});  // in the Patient compartment (Group.member)
  CHECK(app.get("/fhir/Patient/$export?_type=Organization", {gp, async}).status() == 400);

  // Group level: its active members only.
  exported members = run(app, "/fhir/Group/g1/$export", gp);
  CHECK(members["Patient"] == ids{"p1", "p2"});
  CHECK(members["Observation"] == ids{"o1", "o2"});
  CHECK(run(app, "/fhir/Group/g1/$export?_type=Observation", gp) == exported{{"Observation", {"o1", "o2"}}});
  CHECK(app.get("/fhir/Group/nope/$export", {gp, async}).status() == 404);
}

TEST_CASE("exports apply consent: the national data opt-out for planning, opt-outs for clinicians", "[server][export]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto gp = idp.clinician("GP1");
  for (std::string id : {"p1", "p2", "p3"}) REQUIRE(app.put("/fhir/Patient/" + id, patient(id), with(gp)).status() == 201);
  for (std::string id : {"1", "2", "3"}) REQUIRE(app.put("/fhir/Observation/o" + id, observation("o" + id, "p" + id), with(gp)).status() == 201);
  // p2 has a national data opt-out (planning and research); p3 the shared record opt-out.
  REQUIRE(app.put("/fhir/Consent/n2", consent("n2", "p2", "ndoo", R"({"type":"deny","purpose":[
    {"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HOPERAT"},
    {"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HRESCH"}]})"), with(consent_admin(idp))).status() == 201);
  REQUIRE(app.put("/fhir/Consent/c3", consent("c3", "p3", "shcr-optout", R"({"type":"deny"})"), with(consent_admin(idp))).status() == 201);

  auto analyst = idp.bearer(R"("sub":"a1","org_ods":"ICB1","scope":"user/*.rs","nhs_role":{"role_code":"SHCR-ANALYST"},"purpose_of_use":["HOPERAT"])");
  CHECK(app.get("/fhir/$export?_type=Consent", {analyst, async}).status() == 403);  // not the analyst's to read
  exported planning = run(app, "/fhir/Patient/$export", analyst);
  CHECK(planning["Patient"] == ids{"p1"});
  CHECK(planning["Observation"] == ids{"o1"});
  CHECK(planning.count("Consent") == 0);  // left out when not named

  // A clinician of another organisation: p2's data (ndoo does not apply to care), p3's minimal Patient only.
  std::map<std::string, fhir::json::value> resources;
  exported care = run(app, "/fhir/$export?_type=Patient,Observation", idp.clinician("RX2"), &resources);
  CHECK(care["Patient"] == ids{"p1", "p2", "p3"});
  CHECK(care["Observation"] == ids{"o1", "o2"});
  CHECK(resources["Patient/p3"].find("address") == nullptr);
  CHECK(*resources["Patient/p3"].find("meta")->find("security")->as_array()[0].find_string("code") == "REDACTED");
  CHECK(resources["Patient/p1"].find("address") != nullptr);
  // The data's own controller keeps its access.
  CHECK(run(app, "/fhir/$export?_type=Observation", gp) == exported{{"Observation", {"o1", "o2", "o3"}}});
}

TEST_CASE("a patient's own export is their record minus what is withheld, audited as subject access", "[server][export]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto gp = idp.clinician("GP1");
  for (std::string id : {"p1", "p2"}) REQUIRE(app.put("/fhir/Patient/" + id, patient(id), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o1", observation("o1", "p1"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o2", observation("o2", "p2"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o3", observation("o3", "p1", "1234",
    R"({"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"NOPAT"}]})"), with(gp)).status() == 201);

  auto me = idp.patient("p1");
  CHECK(run(app, "/fhir/Patient/$export", me) == exported{{"Observation", {"o1"}}, {"Patient", {"p1"}}});
  CHECK(app.get("/fhir/$export", {me, async}).status() == 403);
  CHECK(app.get("/fhir/Group/g1/$export", {me, async}).status() == 403);

  // The downloads are audited with the patient's purpose and name the patient.
  auto po = idp.bearer(R"("sub":"po","org_ods":"ICB1","scope":"user/*.cruds","nhs_role":{"role_code":"R0001"},"purpose_of_use":["HSYSADMIN"])");
  auto audit = app.get("/fhir/AuditEvent?patient=p1&subtype=$export-file", {po});
  REQUIRE(audit.status() == 200);
  REQUIRE(fhir::testing::count_matches(audit.json()) == 2);  // the Patient file and the Observation file
  std::string events = audit.http.body;
  CHECK(events.find("PATRQT") != std::string::npos);
  CHECK(events.find("Observation/o1") != std::string::npos);
  CHECK(events.find("Observation/o3") == std::string::npos);
}

TEST_CASE("an export never reaches what the caller may not see", "[server][export]") {
  identity_provider idp;
  app_fixture app(jwt_options(idp));
  auto gp = idp.clinician("GP1");
  for (std::string id : {"p1", "p3"}) REQUIRE(app.put("/fhir/Patient/" + id, patient(id), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o1", observation("o1", "p1"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Encounter/e1", R"({"resourceType":"Encounter","id":"e1","status":"finished",
    "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/p1"}})",
                  with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Group/g3", R"({"resourceType":"Group","id":"g3","type":"person","actual":true,"member":[
    {"entity":{"reference":"Patient/p3"}}]})", with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Consent/c3", consent("c3", "p3", "shcr-optout", R"({"type":"deny"})"), with(consent_admin(idp))).status() == 201);

  // A Group hidden by its members' Consents is as absent as a missing one.
  auto hospital = idp.clinician("RX2");
  auto hidden = app.get("/fhir/Group/g3/$export", {hospital, async});
  auto missing = app.get("/fhir/Group/g9/$export", {hospital, async});
  CHECK(hidden.status() == 404);
  std::string expected = missing.http.body;
  expected.replace(expected.find("Group/g9"), 8, "Group/g3");
  CHECK(hidden.http.body == expected);

  // A role that may read Patient, Encounter and Appointment only: nothing else, named or not.
  auto clerk = idp.bearer(R"("sub":"clerk","org_ods":"RX2","scope":"user/*.rs","nhs_role":{"role_code":"R8008"},"purpose_of_use":["TREAT"])");
  CHECK(app.get("/fhir/Patient/$export?_type=Observation", {clerk, async}).status() == 403);
  exported clerk_view = run(app, "/fhir/Patient/$export", clerk);
  CHECK(clerk_view.count("Observation") == 0);
  CHECK(clerk_view.count("Group") == 0);
  CHECK(clerk_view["Encounter"] == ids{"e1"});
  CHECK(clerk_view["Patient"] == ids{"p1", "p3"});

  // A Consent written after the export was made applies to its downloads (P4).
  std::string status = kick_off(app, "/fhir/$export?_type=Observation,Patient", hospital);
  auto manifest = wait_for_job(app, status, hospital);
  REQUIRE(app.put("/fhir/Consent/c1", consent("c1", "p1", "shcr-optout", R"({"type":"deny"})"), with(consent_admin(idp))).status() == 201);
  std::map<std::string, fhir::json::value> resources;
  exported after = download(app, manifest, hospital, &resources, false);
  CHECK(after.count("Observation") == 0);
  CHECK(resources["Patient/p1"].find("address") == nullptr);  // now the minimal Patient
}

TEST_CASE("finished exports expire and their files go", "[server][export]") {
  identity_provider idp;
  auto options = jwt_options(idp);
  options.export_retention = 1;  // 1 ms
  app_fixture app(options);
  auto gp = idp.clinician("GP1");
  REQUIRE(app.put("/fhir/Patient/p1", patient("p1"), with(gp)).status() == 201);
  std::string status = kick_off(app, "/fhir/$export?_type=Patient", gp);
  std::string directory = app.database_path() + ".exports/" + status.substr(status.rfind('/') + 1);
  REQUIRE(std::filesystem::exists(directory));
  CHECK((std::filesystem::status(directory).permissions() & std::filesystem::perms::others_all) == std::filesystem::perms::none);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (app.get(status, {gp}).status() != 404) {  // complete, then expired at the next look
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(!std::filesystem::exists(directory));
}
