// The leak test of the consent design (../shared/design/consent.md, principle P2 and section 5; issue 8):
// for a patient with an opt-out, every search parameter of every resource type that can reference a
// Patient, every _include/_revinclude, _has and chain, every read, version read, history, compartment
// search and $everything is asked by an unauthorised caller (a planner, a researcher), and each answer
// must be the answer to the same request about a patient that does not exist, except in what carries
// no patient information (the Bundle's id and time stamps, and the request's own echo of the id or NHS
// number it was given).
//
// Clinicians are deliberately not used: by design they get the minimal Patient and a withheld-items
// warning, which differ from a missing patient's answers on purpose.
//
// The parameters come from the server's own registry, so a parameter added to the definitions is
// covered without editing this test.

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/search/search_parameters.hpp"
#include "server/interactions/compartment.hpp"
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

// The opted-out patient "px" and the patient "py" that was never written. Their NHS numbers are both
// valid (Modulus 11); 9000000017 is nobody's.
constexpr std::string_view nhs_system = "https://fhir.nhs.uk/Id/nhs-number";
const std::string px_nhs_number = "9000000009";
const std::string px_family = "Leakfamily", px_given = "Quilla", px_birth_date = "1961-07-23";
// Data of the opted-out patient has ids starting so, to be recognised wherever it shows.
constexpr std::string_view data_prefix = "leak-";

using replacements = std::vector<std::pair<std::string, std::string>>;

// What turns a request about px into the same request about py, and px's answer into what py's must be
// if nothing leaks: the patient's id as requests and links write it (links percent-encode the '/') and
// the NHS number. Nothing here is patient data; it is what the caller sent.
const replacements patient_text{{"Patient/px", "Patient/py"},
                                {"Patient%2Fpx", "Patient%2Fpy"},
                                {"_id=px", "_id=py"},
                                {"9000000009", "9000000017"}};

std::string replaced(std::string text, const replacements& rules) {
  for (const auto& [from, to] : rules)
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
      text.replace(at, from.size(), to);
  return text;
}

// One request about px and the same request about py.
struct request_pair {
  std::string method = "GET";
  std::string px_target, py_target;
  std::string px_body, py_body;  // POST only
  std::string content_type;      // POST only
  replacements rules;            // px -> py text, applied to px's answer before comparing
};

// The pair of a request about px: the py request is derived with the same rules that normalise px's
// answer, plus `extra` (a name, a birth date, a resource id the request names).
request_pair about(std::string px_target, replacements extra = {}) {
  replacements rules = patient_text;
  rules.insert(rules.begin(), extra.begin(), extra.end());
  request_pair p;
  p.py_target = replaced(px_target, rules);
  p.px_target = std::move(px_target);
  p.rules = std::move(rules);
  return p;
}

request_pair posted(std::string target, std::string px_body, std::string content_type, replacements extra = {}) {
  request_pair p = about(std::move(target), std::move(extra));
  p.method = "POST";
  p.py_body = replaced(px_body, p.rules);
  p.px_body = std::move(px_body);
  p.content_type = std::move(content_type);
  return p;
}

// A Bundle's id, timestamp and meta.lastUpdated say when the answer was made, not about whom; a batch
// answer holds Bundles in its entries.
void drop_answer_stamps(fhir::json::value& v) {
  if (!v.is_object()) return;
  const std::string* type = v.find_string("resourceType");
  if (!type || *type != "Bundle") return;
  v.erase("id");
  v.erase("timestamp");
  if (fhir::json::value* meta = v.find("meta"); meta && meta->is_object()) {
    meta->erase("lastUpdated");
    if (meta->as_object().empty()) v.erase("meta");
  }
  if (fhir::json::value* entries = v.find("entry"); entries && entries->is_array())
    for (fhir::json::value& e : entries->as_array())
      if (fhir::json::value* resource = e.is_object() ? e.find("resource") : nullptr) drop_answer_stamps(*resource);
}

// An answer's body with the request's echo rewritten and the answer's own stamps dropped; the text
// itself when it is not JSON.
std::string normalised(const std::string& body, const replacements& rules) {
  std::string text = replaced(body, rules);
  auto parsed = fhir::json::parse(text);
  if (!parsed) return text;
  fhir::json::value v = std::move(*parsed);
  drop_answer_stamps(v);
  return fhir::json::serialize(v);
}

struct compared {
  bool same = false;
  unsigned px_status = 0, py_status = 0;
  std::string px_answer, py_answer;            // as sent
  std::string px_normalised, py_normalised;    // as compared
};

fhir::testing::reply ask(const app_fixture& app, const header& caller, const std::string& method, const std::string& target,
                          const std::string& body, const std::string& content_type) {
  std::vector<header> headers{caller};
  if (!content_type.empty()) headers.push_back({"Content-Type", content_type});
  return app.send(method, target, body, std::move(headers));
}

compared compare_answers(const app_fixture& app, const header& caller, const request_pair& p) {
  auto px = ask(app, caller, p.method, p.px_target, p.px_body, p.content_type);
  auto py = ask(app, caller, p.method, p.py_target, p.py_body, p.content_type);
  compared c;
  c.px_status = px.status();
  c.py_status = py.status();
  c.px_answer = px.http.body;
  c.py_answer = py.http.body;
  c.px_normalised = normalised(px.http.body, p.rules);
  c.py_normalised = normalised(py.http.body, {});
  c.same = c.px_status == c.py_status && c.px_normalised == c.py_normalised;
  return c;
}

struct tally {
  std::size_t pairs = 0, differing = 0;
  std::map<unsigned, std::size_t> by_status;  // px's status, for the report
};

// Asks both requests and checks the answers match; on a difference, says which request and both bodies.
void expect_same(const app_fixture& app, const header& caller, const request_pair& p, tally& t) {
  compared c = compare_answers(app, caller, p);
  ++t.pairs;
  ++t.by_status[c.px_status];
  if (c.same) return;
  ++t.differing;
  INFO(p.method << " " << p.px_target << (p.px_body.empty() ? "" : "  body: " + p.px_body));
  INFO("   vs " << p.method << " " << p.py_target << (p.py_body.empty() ? "" : "  body: " + p.py_body));
  INFO("px answer (" << c.px_status << "): " << c.px_answer);
  INFO("py answer (" << c.py_status << "): " << c.py_answer);
  CHECK(c.px_status == c.py_status);
  CHECK(c.px_normalised == c.py_normalised);
}

header analyst(const identity_provider& idp) {
  return idp.bearer(R"("sub":"a1","org_ods":"ICB1","scope":"user/*.rs","nhs_role":{"role_code":"SHCR-ANALYST"},"purpose_of_use":["HOPERAT"])");
}

header researcher(const identity_provider& idp) {
  return idp.bearer(R"("sub":"r1","org_ods":"RES1","scope":"user/*.rs","nhs_role":{"role_code":"SHCR-RESEARCHER"},"purpose_of_use":["HRESCH"])");
}

std::string resource(std::string_view type, std::string_view id, std::string_view members) {
  return R"({"resourceType":")" + std::string(type) + R"(","id":")" + std::string(id) + R"(",)" + std::string(members) + "}";
}

struct seeded {
  std::string type, id, members;
};

// The opted-out patient's record: one small resource of each of many Patient-compartment types, each
// pointing at Patient/px through its usual element, with a code where the type has one.
std::vector<seeded> patient_data() {
  return {
      {"Observation", "leak-obs",
       R"("status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"75367002"}]},
         "subject":{"reference":"Patient/px"},"effectiveDateTime":"2025-01-01")"},
      {"Condition", "leak-cond",
       R"("clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
         "code":{"coding":[{"system":"http://snomed.info/sct","code":"38341003"}]},
         "subject":{"reference":"Patient/px"})"},
      {"AllergyIntolerance", "leak-allergy",
       R"("clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
         "code":"active"}]},
         "code":{"coding":[{"system":"http://snomed.info/sct","code":"91936005"}]},
         "patient":{"reference":"Patient/px"})"},
      {"MedicationStatement", "leak-medstmt",
       R"("status":"active",
         "medicationCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"322236009"}]},
         "subject":{"reference":"Patient/px"})"},
      {"Encounter", "leak-enc",
       R"("status":"finished",
         "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
         "type":[{"coding":[{"system":"http://snomed.info/sct","code":"185347001"}]}],
         "subject":{"reference":"Patient/px"})"},
      {"Procedure", "leak-proc",
       R"("status":"completed","code":{"coding":[{"system":"http://snomed.info/sct","code":"80146002"}]},
         "subject":{"reference":"Patient/px"},"performedDateTime":"2025-01-01")"},
      {"Immunization", "leak-imm",
       R"("status":"completed",
         "vaccineCode":{"coding":[{"system":"http://snomed.info/sct","code":"39114911000001105"}]},
         "patient":{"reference":"Patient/px"},"occurrenceDateTime":"2025-01-01")"},
      {"DiagnosticReport", "leak-report",
       R"("status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"15220000"}]},
         "subject":{"reference":"Patient/px"})"},
      {"CarePlan", "leak-careplan",
       R"("status":"active","intent":"plan",
         "category":[{"coding":[{"system":"http://snomed.info/sct","code":"734163000"}]}],
         "subject":{"reference":"Patient/px"})"},
      {"DocumentReference", "leak-doc",
       R"("status":"current","type":{"coding":[{"system":"http://snomed.info/sct","code":"371531000"}]},
         "subject":{"reference":"Patient/px"},
         "content":[{"attachment":{"contentType":"text/plain","url":"http://example.org/letter.txt"}}])"},
      {"Flag", "leak-flag",
       R"("status":"active","code":{"coding":[{"system":"http://snomed.info/sct","code":"439808003"}]},
         "subject":{"reference":"Patient/px"})"},
      {"Appointment", "leak-appt",
       R"("status":"booked","serviceType":[{"coding":[{"system":"http://snomed.info/sct","code":"394814009"}]}],
         "start":"2025-02-01T09:00:00Z","end":"2025-02-01T09:15:00Z",
         "participant":[{"actor":{"reference":"Patient/px"},"status":"accepted"}])"},
      // More of the Patient compartment, each as small as R4 allows.
      {"AppointmentResponse", "leak-apptresp",
       R"("appointment":{"reference":"Appointment/leak-appt"},"actor":{"reference":"Patient/px"},
         "participantStatus":"accepted")"},
      {"CareTeam", "leak-careteam", R"("status":"active","subject":{"reference":"Patient/px"})"},
      {"Goal", "leak-goal",
       R"("lifecycleStatus":"active","description":{"text":"Lower blood pressure"},
         "subject":{"reference":"Patient/px"})"},
      {"ServiceRequest", "leak-sr",
       R"("status":"active","intent":"order",
         "code":{"coding":[{"system":"http://snomed.info/sct","code":"26604007"}]},
         "subject":{"reference":"Patient/px"})"},
      {"MedicationRequest", "leak-mr",
       R"("status":"active","intent":"order",
         "medicationCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"322236009"}]},
         "subject":{"reference":"Patient/px"})"},
      {"MedicationAdministration", "leak-ma",
       R"("status":"completed",
         "medicationCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"322236009"}]},
         "subject":{"reference":"Patient/px"},"effectiveDateTime":"2025-01-01")"},
      {"MedicationDispense", "leak-md",
       R"("status":"completed",
         "medicationCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"322236009"}]},
         "subject":{"reference":"Patient/px"})"},
      {"EpisodeOfCare", "leak-eoc", R"("status":"active","patient":{"reference":"Patient/px"})"},
      {"RiskAssessment", "leak-risk",
       R"("status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"225338004"}]},
         "subject":{"reference":"Patient/px"})"},
      {"FamilyMemberHistory", "leak-fmh",
       R"("status":"completed","patient":{"reference":"Patient/px"},
         "relationship":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"FTH"}]})"},
      {"List", "leak-list",
       R"("status":"current","mode":"working","code":{"coding":[{"system":"http://snomed.info/sct","code":"182836005"}]},
         "subject":{"reference":"Patient/px"})"},
      {"QuestionnaireResponse", "leak-qr", R"("status":"completed","subject":{"reference":"Patient/px"})"},
      {"Specimen", "leak-spec",
       R"("type":{"coding":[{"system":"http://snomed.info/sct","code":"119297000"}]},
         "subject":{"reference":"Patient/px"})"},
      {"RelatedPerson", "leak-rp", R"("patient":{"reference":"Patient/px"},"name":[{"family":"Kin"}])"},
      {"Task", "leak-task",
       R"("status":"requested","intent":"order",
         "code":{"coding":[{"system":"http://snomed.info/sct","code":"386053000"}]},"for":{"reference":"Patient/px"})"},
      {"Communication", "leak-comm", R"("status":"completed","subject":{"reference":"Patient/px"})"},
      {"CommunicationRequest", "leak-commreq", R"("status":"active","subject":{"reference":"Patient/px"})"},
      {"DeviceRequest", "leak-devreq",
       R"("status":"active","intent":"order",
         "codeCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"58938008"}]},
         "subject":{"reference":"Patient/px"})"},
      {"Basic", "leak-basic",
       R"("code":{"coding":[{"system":"http://snomed.info/sct","code":"404684003"}]},
         "subject":{"reference":"Patient/px"})"},
      {"Coverage", "leak-cov",
       R"("status":"active","beneficiary":{"reference":"Patient/px"},"payor":[{"reference":"Patient/px"}])"},
      {"Group", "leak-group", R"("type":"person","actual":true,"member":[{"entity":{"reference":"Patient/px"}}])"},
      {"Schedule", "leak-sched", R"("actor":[{"reference":"Patient/px"}])"},
      {"Person", "leak-person", R"("link":[{"target":{"reference":"Patient/px"}}])"},
      {"Media", "leak-media",
       R"("status":"completed","subject":{"reference":"Patient/px"},
         "content":{"contentType":"text/plain","url":"http://example.org/photo.txt"})"},
      {"ClinicalImpression", "leak-ci", R"("status":"completed","subject":{"reference":"Patient/px"})"},
      {"DetectedIssue", "leak-di", R"("status":"final","patient":{"reference":"Patient/px"})"},
      {"AdverseEvent", "leak-ae", R"("actuality":"actual","subject":{"reference":"Patient/px"})"},
      {"ImagingStudy", "leak-is", R"("status":"available","subject":{"reference":"Patient/px"})"},
      {"BodyStructure", "leak-bs",
       R"("location":{"coding":[{"system":"http://snomed.info/sct","code":"368209003"}]},
         "patient":{"reference":"Patient/px"})"},
      {"Account", "leak-acct", R"("status":"active","subject":[{"reference":"Patient/px"}])"},
      {"Invoice", "leak-inv", R"("status":"issued","subject":{"reference":"Patient/px"})"},
      {"SupplyDelivery", "leak-sd", R"("status":"completed","patient":{"reference":"Patient/px"})"},
      {"RequestGroup", "leak-rg", R"("status":"active","intent":"order","subject":{"reference":"Patient/px"})"},
      {"Composition", "leak-comp",
       R"("status":"final","type":{"coding":[{"system":"http://snomed.info/sct","code":"373942005"}]},
         "subject":{"reference":"Patient/px"},"date":"2025-01-01","author":[{"display":"Dr Who"}],
         "title":"Discharge summary")"},
      {"DocumentManifest", "leak-dm",
       R"("status":"current","subject":{"reference":"Patient/px"},"content":[{"reference":"DocumentReference/leak-doc"}])"},
      {"EnrollmentRequest", "leak-er", R"("status":"active","candidate":{"reference":"Patient/px"})"},
      {"MeasureReport", "leak-mrep",
       R"("status":"complete","type":"individual","measure":"http://example.org/Measure/m1",
         "subject":{"reference":"Patient/px"},"period":{"start":"2025-01-01","end":"2025-12-31"})"},
      // Visible only when everything it is about is.
      {"Provenance", "leak-prov",
       R"("target":[{"reference":"Observation/leak-obs"},{"reference":"Patient/px"}],
         "recorded":"2025-01-01T00:00:00Z","agent":[{"who":{"display":"GP system"}}])"},
  };
}

// px (with an NHS number, name, gender and birth date), its record, a visible patient "pv" with one
// Observation of the same code (so the searches are seen to find what they may), all written by GP1.
// Returns the id of one resource of each type written, for _has.
std::map<std::string, std::string> seed(const app_fixture& app, const header& gp) {
  auto put = [&](const std::string& type, const std::string& id, const std::string& body) {
    auto answer = app.put("/fhir/" + type + "/" + id, body, with(gp));
    INFO("PUT " << type << "/" << id << "\n" << body << "\n" << answer.http.body);
    REQUIRE(answer.status() == 201);
  };
  put("Patient", "px",
      resource("Patient", "px",
               R"("identifier":[{"system":")" + std::string(nhs_system) + R"(","value":")" + px_nhs_number + R"("}],
                  "name":[{"family":")" + px_family + R"(","given":[")" + px_given + R"("]}],"gender":"female",
                  "birthDate":")" + px_birth_date + R"(")"));
  put("Patient", "pv",
      resource("Patient", "pv", R"("name":[{"family":"Visible","given":["Vera"]}],"gender":"male","birthDate":"1980-01-01")"));
  put("Observation", "vis-obs",
      resource("Observation", "vis-obs", R"("status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"75367002"}]},
                                           "subject":{"reference":"Patient/pv"})"));
  std::map<std::string, std::string> ids;
  for (const seeded& s : patient_data()) {
    put(s.type, s.id, resource(s.type, s.id, s.members));
    ids.try_emplace(s.type, s.id);
  }
  return ids;
}

std::string optout_for_px() {
  return R"({"resourceType":"Consent","id":"leak-optout","status":"active",
    "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
    "category":[{"coding":[{"system":"https://shared-care-record.github.io/fhir/CodeSystem/consent-kind","code":"shcr-optout"}]}],
    "patient":{"reference":"Patient/px"},"dateTime":"2026-01-01","policy":[{"uri":"https://example.org/shcr-optout"}],
    "provision":{"type":"deny"}})";
}

// A reference search parameter that can point at a Patient (it names Patient among its targets, or
// names none).
struct patient_reference {
  std::string type, code;
  bool only_patient = false;  // Patient is its only target: a chain needs no type modifier
};

std::vector<patient_reference> patient_references(const server::context& ctx) {
  std::vector<patient_reference> out;
  for (const std::string& type : ctx.definitions.resource_types())
    for (const auto& [code, p] : ctx.search_parameters.of(type)) {
      if (p.type != fhir::search::param_type::reference) continue;
      bool to_patient = p.targets.empty() || std::find(p.targets.begin(), p.targets.end(), "Patient") != p.targets.end();
      if (to_patient) out.push_back({type, code, p.targets.size() == 1});
    }
  return out;
}

// Requests per reference parameter (eight pairs each): the reference itself, with an accurate total
// and as a count; the chain to the NHS number and the :identifier modifier; _include from it,
// _revinclude to the Patient, and _has through it.
void add_reference_pairs(std::vector<request_pair>& pairs, const patient_reference& r, const std::map<std::string, std::string>& ids) {
  const std::string base = "/fhir/" + r.type + "?";
  const std::string number = std::string(nhs_system) + "|" + px_nhs_number;
  const std::string chain = r.only_patient ? r.code + ".identifier" : r.code + ":Patient.identifier";
  pairs.push_back(about(base + r.code + "=Patient/px"));
  pairs.push_back(about(base + r.code + "=Patient/px&_total=accurate"));
  pairs.push_back(about(base + r.code + "=Patient/px&_summary=count"));
  pairs.push_back(about(base + chain + "=" + number));
  pairs.push_back(about(base + r.code + ":identifier=" + number));
  pairs.push_back(about(base + r.code + "=Patient/px&_include=" + r.type + ":" + r.code));
  pairs.push_back(about("/fhir/Patient?_id=px&_revinclude=" + r.type + ":" + r.code));
  auto id = ids.find(r.type);
  pairs.push_back(about("/fhir/Patient?_id=px&_has:" + r.type + ":" + r.code + ":_id=" + (id == ids.end() ? "none" : id->second)));
}

// Requests naming the Patient itself: read, version read, history, $everything, every compartment
// search, and the searches a caller would use to trace a person (identifier, demographics, chains).
void add_patient_pairs(std::vector<request_pair>& pairs, const server::context& ctx) {
  const std::string number = std::string(nhs_system) + "|" + px_nhs_number;
  const replacements family{{px_family, "Nobodyfamily"}}, given{{px_given, "Zenobia"}}, born{{px_birth_date, "1961-07-24"}};
  replacements demographics = family;
  demographics.insert(demographics.end(), born.begin(), born.end());
  // Written without the type: "subject=px"; an error may quote the value.
  const replacements bare_id{{"=px", "=py"}, {"'px'", "'py'"}};

  for (const char* target : {"/fhir/Patient/px", "/fhir/Patient/px/_history", "/fhir/Patient/px/_history/1",
                                    "/fhir/Patient/px/$everything", "/fhir/Patient/px/$everything?_count=5",
                                    "/fhir/Patient?_id=px", "/fhir/Patient?_id=px&_total=accurate", "/fhir/Patient?_id=px&_summary=count",
                                    "/fhir/Patient?_id=px&_revinclude=*", "/fhir/Patient?_id=px&_has:Observation:subject:code=75367002",
                                    "/fhir/Observation?subject=Patient/px&code=75367002",
                                    "/fhir/Observation?subject=Patient/px&_revinclude=Provenance:target",
                                    "/fhir/Observation?subject=Patient/px&_include=*",
                                    "/fhir/Observation?subject=http://test.example/fhir/Patient/px",
                                    "/fhir?_type=Observation,Condition&patient=Patient/px"})
    pairs.push_back(about(target));
  for (const std::string& query : {"identifier=" + number, "identifier=" + px_nhs_number, "identifier=" + number + "&_total=accurate",
                                   "identifier=" + number + "&_summary=count",
                                   "identifier=" + number + "&_revinclude=Observation:subject"})
    pairs.push_back(about("/fhir/Patient?" + query));
  for (const std::string& query : {"subject.identifier=" + number, "subject:Patient.identifier=" + number, "patient.identifier=" + number})
    pairs.push_back(about("/fhir/Observation?" + query));
  pairs.push_back(about("/fhir/Observation?subject=px", bare_id));
  pairs.push_back(about("/fhir/Patient?family=" + px_family, family));
  pairs.push_back(about("/fhir/Patient?name=" + px_family, family));
  pairs.push_back(about("/fhir/Patient?given=" + px_given, given));
  pairs.push_back(about("/fhir/Patient?birthdate=" + px_birth_date, born));
  pairs.push_back(about("/fhir/Patient?family=" + px_family + "&birthdate=" + px_birth_date + "&gender=female", demographics));
  pairs.push_back(about("/fhir/Observation?subject:Patient.name=" + px_family, family));
  pairs.push_back(about("/fhir/Observation?patient.birthdate=" + px_birth_date, born));
  for (const std::string& type : server::interactions::compartment_types(ctx, "Patient"))
    pairs.push_back(about("/fhir/Patient/px/" + type));
  // The same through POST _search and a batch.
  pairs.push_back(posted("/fhir/Observation/_search", "subject=Patient%2Fpx", "application/x-www-form-urlencoded"));
  pairs.push_back(posted("/fhir/Patient/_search", "identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9000000009",
                         "application/x-www-form-urlencoded"));
  pairs.push_back(posted("/fhir", R"({"resourceType":"Bundle","type":"batch","entry":[
    {"request":{"method":"GET","url":"Patient/px"}},
    {"request":{"method":"GET","url":"Observation?subject=Patient/px"}},
    {"request":{"method":"GET","url":"Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009"}}]})",
                         "application/fhir+json"));
}

// Reads of each resource of px's record (and of its Consent) against reads of an id nobody has.
void add_resource_pairs(std::vector<request_pair>& pairs) {
  std::vector<std::pair<std::string, std::string>> resources{{"Consent", "leak-optout"}};
  for (const seeded& s : patient_data()) resources.emplace_back(s.type, s.id);
  for (const auto& [type, id] : resources) {
    const replacements missing{{type + "/" + id, type + "/no-such-id"}};
    for (const char* suffix : {"", "/_history", "/_history/1"})
      pairs.push_back(about("/fhir/" + type + "/" + id + suffix, missing));
  }
}

// Searches that name no patient: whatever they find must not be px or px's record.
void expect_nothing_of_px(const app_fixture& app, const header& caller, const std::string& target) {
  auto answer = app.get(target, {caller});
  INFO("GET " << target << "\n" << answer.http.body);
  CHECK((answer.status() == 200 || answer.status() == 403));
  const std::string& body = answer.http.body;
  CHECK(body.find(data_prefix) == std::string::npos);
  CHECK(body.find("Patient/px") == std::string::npos);
  CHECK(body.find(px_nhs_number) == std::string::npos);
  CHECK(body.find(px_family) == std::string::npos);
}

std::vector<std::string> match_ids(const fhir::json::value& bundle) {
  std::vector<std::string> out;
  if (const auto* entries = bundle.find("entry"))
    for (const auto& e : entries->as_array())
      if (fhir::testing::text(e.find("search"), "mode") == "match") out.push_back(fhir::testing::text(e.find("resource"), "id"));
  return out;
}

void no_leak_for(const identity_provider& idp, const header& caller) {
  app_fixture app(jwt_options(idp));
  auto gp = idp.clinician("GP1");
  auto ids = seed(app, gp);
  const server::context& ctx = app.application().context();

  // Before the opt-out the caller sees px's record: the comparison below has something to hide.
  auto before = app.get("/fhir/Observation?subject=Patient/px", {caller});
  REQUIRE(before.status() == 200);
  CHECK(match_ids(before.json()) == std::vector<std::string>{"leak-obs"});
  CHECK_FALSE(compare_answers(app, caller, about("/fhir/Observation?subject=Patient/px")).same);
  CHECK_FALSE(compare_answers(app, caller, about("/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009")).same);

  REQUIRE(app.put("/fhir/Consent/leak-optout", optout_for_px(), with(consent_admin(idp))).status() == 201);

  // The record's controller still sees it (the data is there and indexed); the caller still sees the
  // visible patient's Observation (the caller's searches work).
  CHECK(match_ids(app.get("/fhir/Observation?subject=Patient/px", {gp}).json()) == std::vector<std::string>{"leak-obs"});
  CHECK(match_ids(app.get("/fhir/Observation?subject=Patient/pv", {caller}).json()) == std::vector<std::string>{"vis-obs"});

  std::vector<request_pair> pairs;
  auto references = patient_references(ctx);
  for (const patient_reference& r : references) add_reference_pairs(pairs, r, ids);
  add_patient_pairs(pairs, ctx);
  add_resource_pairs(pairs);

  tally t;
  for (const request_pair& p : pairs) expect_same(app, caller, p, t);

  // Searches that name no patient find the visible patient and nothing of px.
  auto has = app.get("/fhir/Patient?_has:Observation:subject:code=75367002", {caller});
  REQUIRE(has.status() == 200);
  CHECK(match_ids(has.json()) == std::vector<std::string>{"pv"});
  expect_nothing_of_px(app, caller, "/fhir/Patient?_has:Observation:subject:code=75367002");
  expect_nothing_of_px(app, caller, "/fhir/Observation?code=http://snomed.info/sct|75367002&_total=accurate");
  expect_nothing_of_px(app, caller, "/fhir/Patient?gender=female");
  expect_nothing_of_px(app, caller, "/fhir/Patient?_count=1000&_total=accurate");
  expect_nothing_of_px(app, caller, "/fhir?_count=1000");
  expect_nothing_of_px(app, caller, "/fhir/_history?_count=1000");
  for (const auto& written : ids) {
    expect_nothing_of_px(app, caller, "/fhir/" + written.first + "?_count=1000&_total=accurate");
    expect_nothing_of_px(app, caller, "/fhir/" + written.first + "/_history?_count=1000");
  }

  // Not vacuous: R4 has 242 reference parameters that can point at a Patient (eight pairs each: 1,936),
  // plus 67 compartment searches, 153 reads (51 resources, three ways) and 34 other requests: 2,190
  // pairs. Most must be answered 200, so identical refusals cannot make up the result.
  std::ostringstream statuses;
  for (const auto& [status, n] : t.by_status) statuses << " " << status << ": " << n;
  INFO("reference parameters: " << references.size() << ", pairs: " << t.pairs << ", differing: " << t.differing
                                << ", px answers by status:" << statuses.str());
  CHECK(references.size() >= 200);
  CHECK(t.pairs > 2000);
  CHECK(t.by_status[200] * 2 > t.pairs);
  CHECK(t.differing == 0);
}

}  // namespace

TEST_CASE("an opted-out patient's data is indistinguishable from a missing patient's on every search path, for a planner",
          "[server][consent][leak]") {
  identity_provider idp;
  no_leak_for(idp, analyst(idp));
}

TEST_CASE("an opted-out patient's data is indistinguishable from a missing patient's on every search path, for a researcher",
          "[server][consent][leak]") {
  identity_provider idp;
  no_leak_for(idp, researcher(idp));
}
