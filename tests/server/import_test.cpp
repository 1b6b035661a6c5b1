// Bulk import ($import, the Bulk Data import proposal's manifest approach) through the router with
// signed tokens, fetching from a real HTTP source (tests/support/file_server): the kick-off's checks (the
// allowed sources, types, the caller's right to write them), the asynchronous job and its result, each
// line written as the caller's update (validated, data controller and meta.source recorded, audited) or
// reported with its line number in an error file, another organisation's records left alone, sources
// that redirect or fail, and an import interrupted by a restart continuing when asked for again.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>
#include <vector>

#include "tests/server/app_fixture.hpp"
#include "tests/server/identity_provider.hpp"
#include "tests/server/requests.hpp"
#include "tests/support/file_server.hpp"

using fhir::testing::app_fixture;
using fhir::testing::file_server;
using fhir::testing::identity_provider;
using fhir::testing::jwt_options;
using fhir::testing::wait_for_job;
using fhir::testing::reply;
using fhir::testing::with;
using server::http::header;

namespace {

const header async{"Prefer", "respond-async"};
using ids = std::vector<std::string>;

std::string patient(const std::string& id, const std::string& birth_date = "1970-01-01") {
  return R"({"resourceType":"Patient","id":")" + id + R"(","name":[{"family":"Smith"}],"gender":"female","birthDate":")" + birth_date +
         R"("})";
}

std::string observation(const std::string& id, const std::string& subject) {
  return R"({"resourceType":"Observation","id":")" + id +
         R"(","status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"1234"}]},"subject":{"reference":"Patient/)" +
         subject + R"("}})";
}

// The proposal's JSON manifest for (type, url) inputs.
std::string manifest_of(const std::vector<std::pair<std::string, std::string>>& inputs) {
  std::string list;
  for (const auto& [type, url] : inputs) list += std::string(list.empty() ? "" : ",") + R"({"type":")" + type + R"(","url":")" + url + R"("})";
  return R"({"inputFormat":"application/fhir+ndjson","inputSource":"https://gp1.example.org/fhir","storageDetail":{"type":"https"},"input":[)" +
         list + "]}";
}

std::string local(const std::string& url) {
  REQUIRE(url.starts_with(app_fixture::base));
  return "/fhir" + url.substr(app_fixture::base.size());
}

std::string kick_off(const app_fixture& app, const std::string& body, const header& caller) {
  reply r = app.post("/fhir/$import", body, {caller, async, {"Content-Type", "application/json"}});
  INFO(r.http.body);
  REQUIRE(r.status() == 202);
  std::string location = r.header("Content-Location");
  REQUIRE(location.starts_with(std::string(app_fixture::base) + "/$import-poll-status/"));
  return local(location);
}

std::int64_t count_of(const fhir::json::value& entry) { return std::stoll(entry.find("count")->as_number().text); }

// The diagnostics of an error file's OperationOutcomes, line by line.
std::vector<std::string> error_lines(const app_fixture& app, const fhir::json::value& error, const header& caller) {
  reply r = app.get(local(*error.find_string("url")), {caller});
  REQUIRE(r.status() == 200);
  CHECK(r.header("Content-Type") == "application/fhir+ndjson");
  std::ifstream in(r.http.file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    auto outcome = fhir::json::parse(line);
    REQUIRE(outcome.ok());
    CHECK(*outcome->find_string("resourceType") == "OperationOutcome");
    out.push_back(*outcome->find("issue")->as_array()[0].find_string("diagnostics"));
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A source to fetch from and a server allowed to fetch from its `prefix`, with GP1's clinician as the feed.
struct import_setup {
  explicit import_setup(const std::string& prefix = "/feeds/") : app(options(prefix)), gp(idp.clinician("GP1")) {}
  server::application_options options(const std::string& prefix) {
    auto o = jwt_options(idp);
    o.import_sources = {source.origin() + prefix};
    return o;
  }
  file_server source;
  identity_provider idp;
  app_fixture app;
  header gp;
};

// The prefix without its final slash: it still ends at a path boundary.
struct import_setup_unslashed : import_setup {
  import_setup_unslashed() : import_setup("/feeds") {}
};

// Waits until the source has been asked for `path`.
void wait_for_request(const file_server& source, const std::string& path) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (source.requests(path) == 0) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

TEST_CASE_METHOD(import_setup, "an import fetches NDJSON from an allowed source and writes each line as its caller's update", "[server][import]") {
  std::string patients = source.origin() + "/feeds/Patient.ndjson";
  std::string observations = source.origin() + "/feeds/Observation.ndjson";
  source.serve("/feeds/Patient.ndjson", patient("p1") + "\n" + patient("p2") + "\n" + patient("p3", "1970-13-01") + "\n" +
                                            R"({"resourceType":"Patient","name":[{"family":"Noid"}]})" + "\n" + observation("o9", "p1") + "\n\n");
  source.serve("/feeds/Observation.ndjson", observation("o1", "p1") + "\n" + observation("o2", "p2") + "\n");
  std::string manifest = manifest_of({{"Patient", patients}, {"Observation", observations}});

  // The kick-off: asynchronous, NDJSON, known types, only from the allowed sources, by a caller who may write them.
  auto json_body = [](const header& caller) { return std::vector<header>{caller, async, {"Content-Type", "application/json"}}; };
  auto sync = app.post("/fhir/$import", manifest, {gp, {"Content-Type", "application/json"}});
  CHECK(sync.status() == 400);
  CHECK(sync.issue_ids() == ids{"import-prefer-missing"});
  auto outside = app.post("/fhir/$import", manifest_of({{"Patient", source.origin() + "/feeds-old/Patient.ndjson"}}), json_body(gp));
  CHECK(outside.status() == 400);
  CHECK(outside.issue_expressions() == ids{"input[0].url"});
  for (const std::string& url : ids{"http://elsewhere.example/feeds/Patient.ndjson", "https://127.0.0.1/feeds/Patient.ndjson",
                          source.origin() + "/feeds/..%2Fsecret.ndjson", source.origin() + "/feeds/%2e%2e/secret.ndjson",
                          source.origin() + "/feeds/../secret.ndjson", source.origin() + "/feeds/..;/secret.ndjson",
                          source.origin() + "/feeds/%252e%252e/secret.ndjson", source.origin() + "/FEEDS/Patient.ndjson",
                          "http://user@" + source.origin().substr(7) + "/feeds/Patient.ndjson", "file:///etc/passwd"}) {
    INFO(url);
    CHECK(app.post("/fhir/$import", manifest_of({{"Patient", url}}), json_body(gp)).status() == 400);
  }
  CHECK(app.post("/fhir/$import", manifest_of({{"Nonsense", patients}}), json_body(gp)).issue_expressions() == ids{"input[0].type"});
  CHECK(app.post("/fhir/$import", R"({"inputFormat":"text/csv","inputSource":"x","input":[]})", json_body(gp)).status() == 400);
  auto audit_events = app.post("/fhir/$import", manifest_of({{"AuditEvent", patients}}), json_body(gp));  // the server writes those
  CHECK(audit_events.status() == 400);
  CHECK(audit_events.issue_expressions() == ids{"input[0].type"});
  CHECK(app.post("/fhir/$import", manifest, json_body(idp.patient("p1"))).status() == 403);
  CHECK(app.post("/fhir/$import", manifest, json_body(idp.clinician("GP1", "user/*.rs"))).status() == 403);
  CHECK(source.requests("/feeds/Patient.ndjson") == 0);  // nothing refused was fetched

  std::string status = kick_off(app, manifest, gp);
  auto result = wait_for_job(app, status, gp);
  CHECK(*result.find_string("request") == std::string(app_fixture::base) + "/$import");
  CHECK(result.find("transactionTime") != nullptr);
  const auto& output = result.find("output")->as_array();
  REQUIRE(output.size() == 2);
  CHECK(*output[0].find_string("inputUrl") == patients);
  CHECK(count_of(output[0]) == 2);
  CHECK(count_of(output[1]) == 2);
  const auto& errors = result.find("error")->as_array();
  REQUIRE(errors.size() == 1);
  CHECK(*errors[0].find_string("inputUrl") == patients);
  CHECK(count_of(errors[0]) == 3);
  auto lines = error_lines(app, errors[0], gp);
  REQUIRE(lines.size() == 3);
  CHECK(contains(lines[0], patients + " line 3: "));
  CHECK(contains(lines[0], "Patient.birthDate"));
  CHECK(contains(lines[1], "line 4: a Patient without an id"));
  CHECK(contains(lines[2], "line 5: resourceType is Observation, but the input's type is Patient"));

  // Written as GP1's updates: the data controller and meta.source recorded, nothing of the bad lines.
  auto p1 = app.get("/fhir/Patient/p1", {gp});
  REQUIRE(p1.status() == 200);
  CHECK(contains(p1.http.body, R"("source":"https://gp1.example.org/fhir")"));
  CHECK(contains(p1.http.body, R"("code":"GP1")"));
  CHECK(app.get("/fhir/Observation/o2", {gp}).status() == 200);
  CHECK(app.get("/fhir/Observation/o9", {gp}).status() == 404);
  CHECK(app.get("/fhir/Patient/p3", {gp}).status() == 404);

  // Audited as writes of the operation by GP1's user, naming the patients.
  auto po = idp.bearer(R"("sub":"po","org_ods":"ICB1","scope":"user/*.cruds","nhs_role":{"role_code":"R0001"},"purpose_of_use":["HSYSADMIN"])");
  auto audit = app.get("/fhir/AuditEvent?patient=p2&subtype=$import", {po});
  REQUIRE(audit.status() == 200);
  CHECK(fhir::testing::count_matches(audit.json()) == 2);  // the Patient batch and the Observation batch
  CHECK(contains(audit.http.body, "Observation/o2"));

  // The job is its caller's alone.
  auto other = idp.clinician("RX2");
  CHECK(app.get(status, {other}).issue_ids() == ids{"import-job-unknown"});
  CHECK(app.get(local(*errors[0].find_string("url")), {other}).status() == 404);
  std::string job = status.substr(status.rfind('/') + 1);
  CHECK(app.get("/fhir/$import-file/" + job + "/..%2Ftest.db", {gp}).status() == 404);

  // The same import again, as a Parameters resource: nothing changed, so no new versions.
  std::string parameters = R"({"resourceType":"Parameters","parameter":[
    {"name":"inputFormat","valueCode":"application/fhir+ndjson"},{"name":"inputSource","valueUri":"https://gp1.example.org/fhir"},
    {"name":"storageDetail","part":[{"name":"type","valueCode":"https"}]},
    {"name":"input","part":[{"name":"type","valueCode":"Observation"},{"name":"url","valueUri":")" + observations + R"("}]}]})";
  reply again = app.post("/fhir/$import", parameters, with(gp, {async}));
  REQUIRE(again.status() == 202);
  auto second = wait_for_job(app, local(again.header("Content-Location")), gp);
  CHECK(count_of(second.find("output")->as_array()[0]) == 2);
  CHECK(second.find("error")->as_array().empty());
  CHECK(contains(app.get("/fhir/Observation/o1", {gp}).http.body, R"("versionId":"1")"));

  // Listed in the CapabilityStatement because sources are allowed.
  CHECK(contains(app.get("/fhir/metadata").http.body, "OperationDefinition/import"));
}

TEST_CASE_METHOD(import_setup_unslashed, "an import leaves other organisations' records alone and reports sources that fail", "[server][import]") {
  REQUIRE(app.put("/fhir/Patient/p9", patient("p9"), with(idp.clinician("ORG2"))).status() == 201);
  source.serve("/feeds/Patient.ndjson", patient("p9", "1980-02-02") + "\n" + patient("p4") + "\n");
  source.redirect("/feeds/moved.ndjson", source.origin() + "/elsewhere/Patient.ndjson");
  std::string manifest = manifest_of({{"Patient", source.origin() + "/feeds/Patient.ndjson"},
                                      {"Patient", source.origin() + "/feeds/moved.ndjson"},
                                      {"Patient", source.origin() + "/feeds/missing.ndjson"}});
  auto result = wait_for_job(app, kick_off(app, manifest, gp), gp);
  const auto& output = result.find("output")->as_array();
  REQUIRE(output.size() == 3);
  CHECK(count_of(output[0]) == 1);  // p4; p9 is ORG2's
  CHECK(count_of(output[1]) == 0);
  CHECK(count_of(output[2]) == 0);
  const auto& errors = result.find("error")->as_array();
  REQUIRE(errors.size() == 3);
  auto p9_error = error_lines(app, errors[0], gp);
  REQUIRE(p9_error.size() == 1);
  CHECK(contains(p9_error[0], "line 1: Patient/p9 is ORG2's data; GP1 may not change it"));
  // The prefix "/feeds" ends at a path boundary: "/feeds-old/..." is not inside it.
  CHECK(app.post("/fhir/$import", manifest_of({{"Patient", source.origin() + "/feeds-old/Patient.ndjson"}}),
                 {gp, async, {"Content-Type", "application/json"}})
            .status() == 400);
  CHECK(contains(error_lines(app, errors[1], gp).at(0), "answered HTTP 302"));  // redirects are not followed
  CHECK(source.requests("/elsewhere/Patient.ndjson") == 0);
  CHECK(contains(error_lines(app, errors[2], gp).at(0), "answered HTTP 404"));
  // The refusal is audited as an access denied, naming the patient; ORG2's record is as ORG2 wrote it.
  auto po = idp.bearer(R"("sub":"po","org_ods":"ICB1","scope":"user/*.cruds","nhs_role":{"role_code":"R0001"},"purpose_of_use":["HSYSADMIN"])");
  auto denied = app.get("/fhir/AuditEvent?patient=p9&subtype=$import", {po});
  REQUIRE(denied.status() == 200);
  CHECK(fhir::testing::count_matches(denied.json()) == 1);
  CHECK(contains(denied.http.body, "1 lines of " + source.origin() + "/feeds/Patient.ndjson were refused"));
  CHECK(contains(denied.http.body, R"("outcome":"8")"));
  auto p9 = app.get("/fhir/Patient/p9", {gp});
  CHECK(contains(p9.http.body, R"("birthDate":"1970-01-01")"));
  CHECK(contains(p9.http.body, R"("versionId":"1")"));
  CHECK(app.get("/fhir/Patient/p4", {gp}).status() == 200);

  // A line longer than 64 MiB is rejected without being kept; the next line is imported.
  source.serve("/feeds/huge.ndjson", std::string((64u << 20) + 1, 'x') + "\n" + patient("p5") + "\n");
  auto huge = wait_for_job(app, kick_off(app, manifest_of({{"Patient", source.origin() + "/feeds/huge.ndjson"}}), gp), gp);
  CHECK(count_of(huge.find("output")->as_array()[0]) == 1);
  REQUIRE(huge.find("error")->as_array().size() == 1);
  CHECK(contains(error_lines(app, huge.find("error")->as_array()[0], gp).at(0), "line 1: the line is longer than 67108864 bytes"));
  CHECK(app.get("/fhir/Patient/p5", {gp}).status() == 200);
}

TEST_CASE_METHOD(import_setup, "an import interrupted by a restart continues when asked for again", "[server][import]") {
  source.serve("/feeds/1.ndjson", patient("p1") + "\n");
  source.serve("/feeds/2.ndjson", patient("p2") + "\n");
  source.hold("/feeds/2.ndjson");  // the second input hangs until the restart
  std::string manifest = manifest_of({{"Patient", source.origin() + "/feeds/1.ndjson"}, {"Patient", source.origin() + "/feeds/2.ndjson"}});
  std::string status = kick_off(app, manifest, gp);
  wait_for_request(source, "/feeds/2.ndjson");

  app.reopen();  // the running job is cancelled and forgotten, as by a restart
  source.release();
  CHECK(app.get(status, {gp}).status() == 404);
  CHECK(app.get("/fhir/Patient/p1", {gp}).status() == 200);  // committed before the restart
  CHECK(app.get("/fhir/Patient/p2", {gp}).status() == 404);

  // Asked again, it continues: the first input is not fetched or imported again.
  auto result = wait_for_job(app, kick_off(app, manifest, gp), gp);
  const auto& output = result.find("output")->as_array();
  REQUIRE(output.size() == 2);
  CHECK(count_of(output[0]) == 1);
  CHECK(count_of(output[1]) == 1);
  CHECK(source.requests("/feeds/1.ndjson") == 1);
  CHECK(source.requests("/feeds/2.ndjson") == 2);
  CHECK(app.get("/fhir/Patient/p2", {gp}).status() == 200);

  // Once complete, asking again is a new import: everything is fetched again.
  wait_for_job(app, kick_off(app, manifest, gp), gp);
  CHECK(source.requests("/feeds/1.ndjson") == 2);
}

TEST_CASE_METHOD(import_setup, "an import can be cancelled, runs once per caller, and imported Consents apply at once", "[server][import]") {
  source.serve("/feeds/slow.ndjson", patient("p1") + "\n");
  source.serve("/feeds/other.ndjson", patient("p2") + "\n");
  source.hold("/feeds/slow.ndjson");
  std::string slow = manifest_of({{"Patient", source.origin() + "/feeds/slow.ndjson"}});
  std::string status = kick_off(app, slow, gp);
  wait_for_request(source, "/feeds/slow.ndjson");
  // The same import asked again while it runs is the running job; another import of the caller waits its turn.
  CHECK(kick_off(app, slow, gp) == status);
  auto busy = app.post("/fhir/$import", manifest_of({{"Patient", source.origin() + "/feeds/other.ndjson"}}),
                       {gp, async, {"Content-Type", "application/json"}});
  CHECK(busy.status() == 503);
  CHECK(busy.header("Retry-After") == "30");
  // Cancelled: forgotten, nothing imported.
  CHECK(app.del(status, {idp.clinician("RX2")}).status() == 404);
  CHECK(app.del(status, {gp}).status() == 202);
  CHECK(app.get(status, {gp}).status() == 404);
  source.release();
  // The job stops (its directory goes once it has), and imports nothing.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto job_directories = [&] {
    std::size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(app.database_path() + ".imports")) n += entry.is_directory() ? 1 : 0;
    return n;
  };
  while (job_directories() != 0) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(app.get("/fhir/Patient/p1", {gp}).status() == 404);

  // A consent administrator imports an opt-out: the very next request of another organisation's clinician obeys it.
  REQUIRE(app.put("/fhir/Patient/p2", patient("p2"), with(gp)).status() == 201);
  REQUIRE(app.put("/fhir/Observation/o2", observation("o2", "p2"), with(gp)).status() == 201);
  auto hospital = idp.clinician("RX2");
  CHECK(app.get("/fhir/Observation/o2", {hospital}).status() == 200);
  std::string consent = fhir::testing::consent_json("c2", "p2", "shcr-optout");
  std::replace(consent.begin(), consent.end(), '\n', ' ');  // one line of NDJSON
  source.serve("/feeds/Consent.ndjson", consent + "\n");
  source.hold("/feeds/Consent.ndjson");
  auto admin = fhir::testing::consent_admin(idp);
  std::string consent_import = kick_off(app, manifest_of({{"Consent", source.origin() + "/feeds/Consent.ndjson"}}), admin);
  wait_for_request(source, "/feeds/Consent.ndjson");
  CHECK(app.get("/fhir/Observation/o2", {hospital}).status() == 200);  // p2's Consents (none) cached again
  source.release();
  auto result = wait_for_job(app, consent_import, admin);
  CHECK(count_of(result.find("output")->as_array()[0]) == 1);
  CHECK(app.get("/fhir/Observation/o2", {hospital}).status() == 404);
}
