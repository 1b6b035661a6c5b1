// The consent decision on its own (fhir/consent): which Consents are read and which refused, whether
// each provision element matches, nesting, conflicts between Consents, period boundaries, and the
// ordered steps of the decision (consent.md section 2).
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "fhir/consent/consent_decision.hpp"
#include "fhir/json/parse.hpp"

using namespace fhir::consent;

namespace {

consent_rule rule(const std::string& json) {
  auto parsed = fhir::json::parse(json);
  REQUIRE(parsed.ok());
  auto read = read_consent(*parsed);
  INFO((read.ok() ? std::string() : read.error().summary()));
  REQUIRE(read.ok());
  return std::move(*read);
}

// A Consent of `kind` for patient p1, active unless said otherwise, with this root provision.
std::string consent(const std::string& id, const std::string& kind, const std::string& provision, const std::string& status = "active") {
  return R"({"resourceType":"Consent","id":")" + id + R"(","status":")" + status +
         R"(","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
    "category":[{"coding":[{"system":"https://shared-care-record.github.io/fhir/CodeSystem/consent-kind","code":")" + kind + R"("}]}],
    "patient":{"reference":"Patient/p1"},"policy":[{"uri":"https://example.org/policy"}],"provision":)" + provision + "}";
}

fhir::error refusal(const std::string& json) {
  auto parsed = fhir::json::parse(json);
  REQUIRE(parsed.ok());
  auto read = read_consent(*parsed);
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().kind() == fhir::error_kind::unprocessable);
  return read.error();
}

const std::map<std::string, purpose_class, std::less<>> classes = {
    {"TREAT", purpose_class::direct},     {"COC", purpose_class::direct},      {"ETREAT", purpose_class::emergency},
    {"BTG", purpose_class::emergency},    {"PATRQT", purpose_class::self},     {"HSYSADMIN", purpose_class::admin},
    {"HOPERAT", purpose_class::planning}, {"POPHLTH", purpose_class::planning}, {"HRESCH", purpose_class::research}};

requester caller(const std::string& purpose, const std::string& controller = "RX1") {
  return requester{.purpose = purpose, .purpose_kind = classes.at(purpose), .controller = controller, .practitioner = "555000000123"};
}

resource_facts observation(const std::string& id = "o1", const std::string& controller = "GP1") {
  return resource_facts{.type = "Observation", .id = id, .controller = controller,
                        .codes = {{"http://snomed.info/sct", "1234"}}, .clinical_date = fhir::parse_date_time("2024-06-01")};
}

constexpr fhir::epoch_ms now = 1767225600000;  // 2026-01-01T00:00:00Z
const decision_options options{.classify = [](std::string_view purpose) {
  auto it = classes.find(purpose);
  return it == classes.end() ? purpose_class::unknown : it->second;
}};

verdict decide_for(const requester& who, const resource_facts& r, const std::vector<consent_rule>& consents, fhir::epoch_ms at = now) {
  return decide(who, r, "p1", consents, at, options).outcome;
}

const std::string optout_root = R"({"type":"deny"})";

}  // namespace

TEST_CASE("Consents the decision cannot fully interpret are refused with where and why", "[fhir][consent]") {
  auto read = rule(consent("c1", "shcr-optout", R"({"type":"deny","provision":[{"type":"permit","purpose":[{"system":
    "http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]}]})"));
  CHECK(read.kind == kind::optout);
  CHECK(read.patient == "p1");
  CHECK(read.root.type == effect::deny);
  REQUIRE(read.root.children.size() == 1);
  CHECK(read.root.children[0].purposes[0].value == "ETREAT");

  CHECK(refusal(consent("c", "shcr-optout", R"({"type":"permit"})")).issues()[0].expression == "Consent.provision.type");
  CHECK(refusal(consent("c", "unknown-kind", optout_root)).issues()[0].expression == "Consent.category");
  auto collect = refusal(consent("c", "granular", R"({"type":"permit","provision":[{"type":"deny","action":[{"coding":[{"system":
    "http://terminology.hl7.org/CodeSystem/consentaction","code":"collect"}]}]}]})"));
  CHECK(collect.issues()[0].expression == "Consent.provision.provision[0].action[0]");
  auto role = refusal(consent("c", "granular", R"({"type":"permit","actor":[{"role":{"coding":[{"system":
    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"AUT"}]},"reference":{"reference":"Practitioner/1"}}]})"));
  CHECK(role.issues()[0].expression == "Consent.provision.actor[0].role");
  CHECK(refusal(consent("c", "granular", R"({"type":"permit","modifierExtension":[{"url":"x","valueBoolean":true}]})"))
            .issues()[0].expression == "Consent.provision.modifierExtension");
  CHECK(refusal(consent("c", "granular", R"({"type":"permit","provision":[{"class":[{"code":"Observation"}]}]})"))
            .issues()[0].expression == "Consent.provision.provision[0].type");
  CHECK(refusal(consent("c", "research-consent", optout_root)).issues()[0].expression == "Consent.provision.type");
  CHECK(refusal(consent("c", "research-consent", R"({"type":"permit","purpose":[{"code":"HRESCH"}]})")).issues()[0].expression ==
        "Consent.provision.actor");  // a research consent for no study in particular would lift every opt-out
  std::string two_kinds = consent("c", "granular", R"({"type":"permit"})");
  two_kinds.replace(two_kinds.find(R"("code":"granular")"), 17, R"("code":"granular"},{"system":"https://shared-care-record.github.io/fhir/CodeSystem/consent-kind","code":"ndoo")");
  CHECK(refusal(two_kinds).issues()[0].message_id == "consent-kind");
}

TEST_CASE("the decision takes its steps in order: not patient data, the patient, the controller, the Consents, the default", "[fhir][consent]") {
  std::vector<consent_rule> optout{rule(consent("c1", "shcr-optout", optout_root))};
  resource_facts org{.type = "Organization", .id = "x", .patient_data = false};
  CHECK(decide(caller("TREAT"), org, "p1", optout, now, options).basis == "not-patient-data");
  CHECK(decide(caller("TREAT"), observation(), "p1", {}, now, options).basis == "default");
  // An opt-out denies everyone...
  auto denied = decide(caller("TREAT"), observation(), "p1", optout, now, options);
  CHECK(denied.outcome == verdict::deny);
  CHECK(denied.basis == "Consent/c1");
  // ...but the data's own controller, for direct care, emergencies and administration.
  CHECK(decide(caller("TREAT", "GP1"), observation(), "p1", optout, now, options).basis == "controller");
  CHECK(decide_for(caller("HOPERAT", "GP1"), observation(), optout) == verdict::deny);
  // The patient sees their own record, except what is withheld from them.
  requester self{.purpose = "PATRQT", .purpose_kind = purpose_class::self, .patient = "p1"};
  CHECK(decide(self, observation(), "p1", optout, now, options).basis == "self");
  resource_facts withheld = observation();
  withheld.security.push_back({"http://terminology.hl7.org/CodeSystem/v3-ActCode", "NOPAT"});
  CHECK(decide_for(self, withheld, optout) == verdict::deny);
  requester other_patient = self;
  other_patient.patient = "p2";
  CHECK(decide_for(other_patient, observation(), optout) == verdict::deny);
  // The Patient itself: minimal demographics for clinical callers, nothing for planners.
  resource_facts patient{.type = "Patient", .id = "p1", .controller = "GP1"};
  CHECK(decide_for(caller("TREAT"), patient, optout) == verdict::minimal);
  CHECK(decide_for(caller("POPHLTH"), patient, optout) == verdict::deny);
  // Another kind of deny on the Patient itself hides it entirely.
  auto no_demographics = rule(consent("g9", "granular", R"({"type":"deny","class":[{"code":"Patient"}]})"));
  CHECK(decide_for(caller("TREAT"), patient, {optout[0], no_demographics}) == verdict::deny);
  decision_options hidden = options;
  hidden.minimal_patient = false;
  CHECK(decide(caller("TREAT"), patient, "p1", optout, now, hidden).outcome == verdict::deny);
}

TEST_CASE("only Consents in force count: status, period boundaries and patient", "[fhir][consent]") {
  std::string bounded = R"({"type":"deny","period":{"start":"2026-01-01","end":"2026-03-31"}})";
  std::vector<consent_rule> restriction{rule(consent("c1", "art18-restriction", bounded))};
  auto at = [](const char* instant) { return *fhir::parse_date_time(instant); };
  CHECK(decide_for(caller("TREAT"), observation(), restriction, at("2025-12-31T23:59:59Z")) == verdict::permit);
  CHECK(decide_for(caller("TREAT"), observation(), restriction, at("2026-01-01T00:00:00Z")) == verdict::deny);
  CHECK(decide_for(caller("TREAT"), observation(), restriction, at("2026-03-31T23:59:59.999Z")) == verdict::deny);
  CHECK(decide_for(caller("TREAT"), observation(), restriction, at("2026-04-01T00:00:00Z")) == verdict::permit);
  for (const char* status : {"proposed", "rejected", "inactive", "draft", "entered-in-error"})
    CHECK(decide_for(caller("TREAT"), observation(), {rule(consent("c2", "art21-objection", optout_root, status))}) == verdict::permit);
  CHECK(decide_for(caller("TREAT"), observation(), {rule(consent("c2", "art21-objection", optout_root, "active"))}) == verdict::deny);
  // Another patient's Consent says nothing about p1.
  CHECK(decide(caller("TREAT"), observation(), "p2", restriction, at("2026-02-01T00:00:00Z"), options).outcome == verdict::permit);
}

TEST_CASE("each provision element matches on its own, and all populated elements must match", "[fhir][consent]") {
  auto granular = [](const std::string& nested) {
    return std::vector<consent_rule>{rule(consent("g1", "granular", R"({"type":"permit","provision":[)" + nested + "]}"))};
  };
  // actor: an organisation by ODS code, a practitioner by SDS user id
  auto by_org = granular(R"({"type":"deny","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
    "code":"IRCP"}]},"reference":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"RX1"}}}]})");
  CHECK(decide_for(caller("TREAT", "RX1"), observation(), by_org) == verdict::deny);
  CHECK(decide_for(caller("TREAT", "RY9"), observation(), by_org) == verdict::permit);
  auto by_user = granular(R"({"type":"deny","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
    "code":"PRCP"}]},"reference":{"identifier":{"system":"https://fhir.nhs.uk/Id/sds-user-id","value":"555000000123"}}}]})");
  CHECK(decide_for(caller("TREAT"), observation(), by_user) == verdict::deny);
  requester someone_else = caller("TREAT");
  someone_else.practitioner = "999";
  CHECK(decide_for(someone_else, observation(), by_user) == verdict::permit);
  // purpose: exact, or by class (ETREAT named, BTG asked: both emergency)
  auto emergency = granular(R"({"type":"deny","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]})");
  CHECK(decide_for(caller("ETREAT"), observation(), emergency) == verdict::deny);
  CHECK(decide_for(caller("BTG"), observation(), emergency) == verdict::deny);
  CHECK(decide_for(caller("TREAT"), observation(), emergency) == verdict::permit);
  // class and code
  auto sensitive = granular(R"({"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Observation"}],
    "code":[{"coding":[{"system":"http://snomed.info/sct","code":"1234"}]}]})");
  CHECK(decide_for(caller("TREAT"), observation(), sensitive) == verdict::deny);
  resource_facts other_code = observation();
  other_code.codes = {{"http://snomed.info/sct", "9999"}};
  CHECK(decide_for(caller("TREAT"), other_code, sensitive) == verdict::permit);
  resource_facts condition = observation();
  condition.type = "Condition";
  CHECK(decide_for(caller("TREAT"), condition, sensitive) == verdict::permit);  // AND: the class does not match
  // securityLabel: sensitivity present; confidentiality by level
  auto psy = granular(R"({"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]})");
  resource_facts mental_health = observation();
  mental_health.security = {{"http://terminology.hl7.org/CodeSystem/v3-ActCode", "PSY"}};
  CHECK(decide_for(caller("TREAT"), mental_health, psy) == verdict::deny);
  CHECK(decide_for(caller("TREAT"), observation(), psy) == verdict::permit);
  auto restricted = granular(R"({"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]})");
  resource_facts very = observation();
  very.security = {{"http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "V"}};
  CHECK(decide_for(caller("TREAT"), very, restricted) == verdict::deny);       // V >= R
  CHECK(decide_for(caller("TREAT"), observation(), restricted) == verdict::permit);  // unlabelled: N < R
  resource_facts two_levels = observation();
  two_levels.security = {{"http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "V"},
                         {"http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "L"}};
  CHECK(decide_for(caller("TREAT"), two_levels, restricted) == verdict::deny);  // the highest level counts
  // dataPeriod: the clinical date, else lastUpdated
  auto old = granular(R"({"type":"deny","dataPeriod":{"start":"2024-01-01","end":"2024-12-31"}})");
  CHECK(decide_for(caller("TREAT"), observation(), old) == verdict::deny);
  resource_facts recent = observation();
  recent.clinical_date = fhir::parse_date_time("2025-02-01");
  CHECK(decide_for(caller("TREAT"), recent, old) == verdict::permit);
  resource_facts undated = observation();
  undated.clinical_date.reset();
  undated.last_updated = *fhir::parse_date_time("2024-03-01");
  CHECK(decide_for(caller("TREAT"), undated, old) == verdict::deny);
  // data: instance, dependents (what references it), related (what it references)
  auto instance = granular(R"({"type":"deny","data":[{"meaning":"instance","reference":{"reference":"Observation/o1"}}]})");
  CHECK(decide_for(caller("TREAT"), observation("o1"), instance) == verdict::deny);
  CHECK(decide_for(caller("TREAT"), observation("o2"), instance) == verdict::permit);
  auto dependents = granular(R"({"type":"deny","data":[{"meaning":"dependents","reference":{"reference":"Encounter/e1"}}]})");
  resource_facts in_encounter = observation("o3");
  in_encounter.references = {"Encounter/e1"};
  CHECK(decide_for(caller("TREAT"), in_encounter, dependents) == verdict::deny);
  CHECK(decide_for(caller("TREAT"), observation("o4"), dependents) == verdict::permit);
  auto related = granular(R"({"type":"deny","data":[{"meaning":"related","reference":{"reference":"DiagnosticReport/r1"}}]})");
  decision_options with_lookup = options;
  with_lookup.related = [](const std::string& ref) {
    return ref == "DiagnosticReport/r1" ? std::vector<std::string>{"Observation/o5"} : std::vector<std::string>{};
  };
  CHECK(decide(caller("TREAT"), observation("o5"), "p1", related, now, with_lookup).outcome == verdict::deny);
  CHECK(decide(caller("TREAT"), observation("o6"), "p1", related, now, with_lookup).outcome == verdict::permit);
}

TEST_CASE("nesting, conflicts between Consents, break-glass and the national opt-out", "[fhir][consent]") {
  // Inside one Consent the most specific rule wins; deny wins among matching siblings.
  auto nested = rule(consent("n1", "shcr-optout", R"({"type":"deny","provision":[
    {"type":"permit","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}],
     "provision":[{"type":"deny","class":[{"code":"Observation"}],"code":[{"coding":[{"system":"http://snomed.info/sct","code":"1234"}]}]}]},
    {"type":"permit","class":[{"code":"AllergyIntolerance"}]},
    {"type":"deny","class":[{"code":"AllergyIntolerance"}],"securityLabel":[{"code":"PSY"}]}]})"));
  CHECK(decide_for(caller("TREAT"), observation(), {nested}) == verdict::deny);
  resource_facts other = observation();
  other.codes = {{"http://snomed.info/sct", "5555"}};
  CHECK(decide_for(caller("ETREAT"), other, {nested}) == verdict::permit);      // "except emergencies"
  CHECK(decide_for(caller("ETREAT"), observation(), {nested}) == verdict::deny);  // ...but not this code
  resource_facts allergy{.type = "AllergyIntolerance", .id = "a1", .controller = "GP1"};
  CHECK(decide_for(caller("TREAT"), allergy, {nested}) == verdict::permit);
  allergy.security = {{"", "PSY"}};
  CHECK(decide_for(caller("TREAT"), allergy, {nested}) == verdict::deny);  // deny wins among siblings

  // Across Consents any deny wins over any permit.
  auto permit_all = rule(consent("g1", "granular", R"({"type":"permit"})"));
  auto deny_obs = rule(consent("g2", "granular", R"({"type":"deny","class":[{"code":"Observation"}]})"));
  auto both = decide(caller("TREAT"), observation(), "p1", {permit_all, deny_obs}, now, options);
  CHECK(both.outcome == verdict::deny);
  CHECK(both.basis == "Consent/g2");
  CHECK(decide(caller("TREAT"), allergy, "p1", {permit_all, deny_obs}, now, options).basis == "Consent/g1");

  // Break-glass turns granular denies into permits, marked; an opt-out only yields through its own permit.
  requester emergency = caller("ETREAT");
  emergency.break_glass = true;
  auto glass = decide(emergency, observation(), "p1", {deny_obs}, now, options);
  CHECK(glass.outcome == verdict::permit);
  CHECK(glass.overridden);
  CHECK(decide_for(emergency, observation(), {rule(consent("o1", "shcr-optout", optout_root))}) == verdict::deny);

  // The national data opt-out denies planning and research to everyone, the controller included; a
  // research consent lifts it for that study's organisation only.
  auto ndoo = rule(consent("d1", "ndoo", R"({"type":"deny","purpose":[{"code":"HOPERAT"},{"code":"HRESCH"}]})"));
  auto study = rule(consent("s1", "research-consent", R"({"type":"permit","purpose":[{"code":"HRESCH"}],"actor":[{"role":{"coding":[{"system":
    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"identifier":{"system":
    "https://fhir.nhs.uk/Id/ods-organization-code","value":"STUDY1"}}}]})"));
  CHECK(decide_for(caller("TREAT"), observation(), {ndoo}) == verdict::permit);
  CHECK(decide_for(caller("HOPERAT", "GP1"), observation(), {ndoo}) == verdict::deny);
  CHECK(decide_for(caller("HRESCH", "STUDY1"), observation(), {ndoo}) == verdict::deny);
  CHECK(decide_for(caller("HRESCH", "STUDY1"), observation(), {ndoo, study}) == verdict::permit);
  CHECK(decide_for(caller("HRESCH", "OTHER"), observation(), {ndoo, study}) == verdict::deny);
  CHECK(decide_for(caller("POPHLTH"), observation(), {ndoo}) == verdict::deny);  // HOPERAT named: planning by class
}
