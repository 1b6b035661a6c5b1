// The example scenarios of the consent design (../shared/design/consent.md section 5), run against the
// real fhir-server binary over HTTP with tokens signed by a test identity provider (ES256; the server
// trusts its JWKS file). One server and one data set: the scenarios share data, so they run in order in
// one test case, each block named by its scenario number.
//
// Organisations: GP1 (general practice), ACU1 (acute trust), MH1 (mental health), ICB1 (the board:
// analysts, consent administrators, privacy officers), RES1 (a research organisation).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/base64.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/json/value.hpp"
#include "fhir/time.hpp"
#include "server/auth/keys.hpp"
#include "server/auth/token_signer.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_keys.hpp"

using namespace fhir::testing;
using fhir::json::value;

namespace {

constexpr std::string_view issuer = "https://idp.test";
constexpr std::string_view audience = "https://shcr.test/fhir";
constexpr std::string_view signing_kid = "idp-test-1";
constexpr std::string_view withheld_text = "Items excluded due to confidentiality and/or patient preferences.";
constexpr std::string_view dicom_system = "http://dicom.nema.org/resources/ontology/DCM";

using ids = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------------
// Tokens

// The test identity provider: a fresh P-256 key and the JWKS that trusts it.
class token_issuer {
 public:
  explicit token_issuer(std::string jwks_path) : jwks_path_(std::move(jwks_path)) {
    auto key = server::auth::parse_signing_key(generate_p256_key_pem());
    REQUIRE(key.ok());
    key_ = std::move(*key);
    std::ofstream(jwks_path_) << server::auth::jwks_of(key_, signing_kid, server::auth::algorithm::es256);
  }

  const std::string& jwks_path() const { return jwks_path_; }

  // A signed token whose claims are `members` (a JSON object's members, without braces) plus iss, and
  // aud unless the members name one; mint_token adds iat, exp (an hour) and jti unless given.
  std::string mint(std::string_view members) const {
    std::string text = "{\"iss\":\"" + std::string(issuer) + "\"";
    if (members.find("\"aud\"") == std::string_view::npos) text += ",\"aud\":\"" + std::string(audience) + "\"";
    text += "," + std::string(members) + "}";
    INFO(text);
    auto claims = fhir::json::parse(text);
    REQUIRE(claims.ok());
    auto token = server::auth::mint_token(key_, std::move(*claims),
                                          {.kid = std::string(signing_kid),
                                           .alg = server::auth::algorithm::es256,
                                           .now_s = fhir::now_ms() / 1000});
    REQUIRE(token.ok());
    return *token;
  }

 private:
  std::string jwks_path_;
  server::auth::signing_key key_;
};

// A token with {"alg":"none"} and an empty signature: claims otherwise valid.
std::string unsigned_token(std::string_view members) {
  std::int64_t now = fhir::now_ms() / 1000;
  std::string header = R"({"alg":"none","typ":"JWT"})";
  std::string payload = "{\"iss\":\"" + std::string(issuer) + "\",\"aud\":\"" + std::string(audience) + "\"," + std::string(members) +
                        ",\"iat\":" + std::to_string(now) + ",\"exp\":" + std::to_string(now + 3600) + ",\"jti\":\"alg-none-1\"}";
  return fhir::base64url_encode(header) + "." + fhir::base64url_encode(payload) + ".";
}

// ---------------------------------------------------------------------------------------------------
// Callers and requests

struct caller {
  std::string name;           // for failure messages
  std::string authorization;  // "Bearer <JWT>"
  std::string purpose;        // X-Purpose-Of-Use sent unless a request says otherwise; empty: none
};

caller make_caller(const token_issuer& idp, std::string name, std::string_view claims, std::string purpose = {}) {
  return caller{std::move(name), "Bearer " + idp.mint(claims), std::move(purpose)};
}

// Requests to the server, one connection each.
class client {
 public:
  explicit client(std::uint16_t port) : port_(port) {}

  // `purpose`, when given, replaces the caller's default purpose header ("" sends none).
  http_reply send(const caller& who, std::string_view method, std::string_view target, std::string_view body = {},
                  const char* purpose = nullptr) const {
    header_list headers{{"Authorization", who.authorization}};
    std::string p = purpose ? std::string(purpose) : who.purpose;
    if (!p.empty()) headers.emplace_back("X-Purpose-Of-Use", p);
    if (!body.empty()) headers.emplace_back("Content-Type", "application/fhir+json");
    return http_request(port_, method, target, body, headers);
  }

  http_reply get(const caller& who, std::string_view target, const char* purpose = nullptr) const {
    return send(who, "GET", target, {}, purpose);
  }

 private:
  std::uint16_t port_;
};

// A write that sets the scenario up: it must succeed.
void put_ok(const client& api, const caller& who, const std::string& target, const std::string& body) {
  http_reply r = api.send(who, "PUT", target, body);
  INFO(who.name << " PUT " << target << " -> " << r.status << " " << r.body);
  REQUIRE((r.status == 201 || r.status == 200));
}

// ---------------------------------------------------------------------------------------------------
// Reading answers

value json_of(const http_reply& r) {
  auto v = fhir::json::parse(r.body);
  if (!v.ok()) {
    FAIL_CHECK("the body is not JSON (status " << r.status << "): " << r.body);
    return value{};
  }
  return std::move(*v);
}

const fhir::json::array& items(const value* v) {
  static const fhir::json::array none;
  return v && v->is_array() ? v->as_array() : none;
}

std::string text_of(const value* v, std::string_view key) {
  const std::string* s = v ? v->find_string(key) : nullptr;
  return s ? *s : std::string();
}

// GET `target` as `who`, expecting a searchset (200); the Bundle.
value search(const client& api, const caller& who, const std::string& target, const char* purpose = nullptr) {
  http_reply r = api.get(who, target, purpose);
  INFO(who.name << " GET " << target << " -> " << r.status << " " << r.body);
  CHECK(r.status == 200);
  return json_of(r);
}

// The resources of a searchset's match entries (an entry without search.mode counts as a match).
std::vector<const value*> matches(const value& bundle) {
  std::vector<const value*> out;
  for (const value& e : items(bundle.find("entry"))) {
    const value* entry_search = e.find("search");
    const std::string* mode = entry_search ? entry_search->find_string("mode") : nullptr;
    if (mode && *mode != "match") continue;
    if (const value* resource = e.find("resource")) out.push_back(resource);
  }
  return out;
}

// The ids of a searchset's matches, sorted.
ids ids_of(const value& bundle) {
  ids out;
  for (const value* resource : matches(bundle)) out.push_back(text_of(resource, "id"));
  std::sort(out.begin(), out.end());
  return out;
}

// The issues of the searchset's OperationOutcome entries (search.mode outcome).
std::vector<const value*> outcome_issues(const value& bundle) {
  std::vector<const value*> out;
  for (const value& e : items(bundle.find("entry"))) {
    if (text_of(e.find("search"), "mode") != "outcome") continue;
    for (const value& issue : items(e.find("resource") ? e.find("resource")->find("issue") : nullptr)) out.push_back(&issue);
  }
  return out;
}

bool has_outcome_code(const value& bundle, std::string_view code) {
  auto issues = outcome_issues(bundle);
  return std::any_of(issues.begin(), issues.end(), [&](const value* i) { return text_of(i, "code") == code; });
}

// Bundle.total as its JSON text; nullopt when absent.
std::optional<std::string> total_of(const value& bundle) {
  const value* total = bundle.find("total");
  if (!total || !total->is_number()) return std::nullopt;
  return total->as_number().text;
}

// Whether an array of Codings holds `code`.
bool has_coding(const value* codings, std::string_view code) {
  const auto& list = items(codings);
  return std::any_of(list.begin(), list.end(), [&](const value& c) { return text_of(&c, "code") == code; });
}

// The names of a Parameters resource's parameters.
ids parameter_names(const value& parameters) {
  ids out;
  for (const value& p : items(parameters.find("parameter"))) out.push_back(text_of(&p, "name"));
  std::sort(out.begin(), out.end());
  return out;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) text.replace(pos, from.size(), to);
  return text;
}

// An AuditEvent entity's detail value of `type` (entity.detail[].type / valueString); empty when absent.
std::string detail_of(const value& entity, std::string_view type) {
  for (const value& d : items(entity.find("detail")))
    if (text_of(&d, "type") == type) return text_of(&d, "valueString");
  return {};
}

// The entity of an AuditEvent whose what.reference is `reference`; null when none.
const value* entity_for(const value& event, std::string_view reference) {
  for (const value& e : items(event.find("entity")))
    if (text_of(e.find("what"), "reference") == reference) return &e;
  return nullptr;
}

long long as_count(const std::string& text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return -1;
  return std::stoll(text);
}

// ---------------------------------------------------------------------------------------------------
// Resources

constexpr std::string_view nhs_numbers[] = {"9000000009", "9000000017", "9000000025", "9000000033", "9000000041", "9000000068",
                                            "9000000076", "9000000084", "9000000092", "9000000106", "9000000114", "9000000122"};

// Patient Pn (1-based) with its NHS number, demographics and an address (which the minimal Patient drops).
std::string patient_json(int n) {
  std::string id = "P" + std::to_string(n);
  return R"({"resourceType":"Patient","id":")" + id + R"(","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" +
         std::string(nhs_numbers[n - 1]) + R"("}],"name":[{"family":"Patient)" + std::to_string(n) +
         R"(","given":["Test"]}],"gender":")" + (n % 2 ? "female" : "male") +
         R"(","birthDate":"1970-01-01","address":[{"line":["1 High Street"],"city":"Leeds","postalCode":"LS1 1AA"}]})";
}

std::string observation_json(const std::string& id, const std::string& patient, std::string_view meta = {}) {
  std::string out = R"({"resourceType":"Observation")";
  if (!id.empty()) out += R"(,"id":")" + id + "\"";
  if (!meta.empty()) out += R"(,"meta":)" + std::string(meta);
  out += R"(,"status":"final","code":{"text":"bp"},"subject":{"reference":"Patient/)" + patient + R"("}})";
  return out;
}

std::string purpose_coding(std::string_view code) {
  return R"({"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":")" + std::string(code) + R"("})";
}

// A Consent of `kind` (a consent-kind code) for `patient`; every change is a PUT of the same text with
// another status, so only `status` varies between versions.
std::string consent_json(const std::string& id, const std::string& patient, std::string_view kind, std::string_view status,
                         const std::string& provision = R"({"type":"deny"})") {
  return R"({"resourceType":"Consent","id":")" + id + R"(","status":")" + std::string(status) +
         R"(","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},)"
         R"("category":[{"coding":[{"system":"https://shared-care-record.github.io/fhir/CodeSystem/consent-kind","code":")" +
         std::string(kind) + R"("}]}],"patient":{"reference":"Patient/)" + patient +
         R"("},"dateTime":"2026-01-01","policy":[{"uri":"https://shared-care-record.github.io/fhir/policy/)" + std::string(kind) +
         R"("}],"provision":)" + provision + "}";
}

const std::string valid_declaration =
    R"({"resourceType":"Parameters","parameter":[{"name":"reasonCode","valueCode":"unconscious"},)"
    R"({"name":"reasonText","valueString":"Unconscious in ED, needs medication history"}]})";

}  // namespace

TEST_CASE("consent design section 5: the example scenarios against the real server with signed tokens", "[integration][consent]") {
  temp_dir dir;
  token_issuer idp(dir.file("jwks.json"));
  server_process server(dir.file("shcr.db"), {"--auth", "jwt", "--jwks", idp.jwks_path(), "--issuer", std::string(issuer),
                                              "--audience", std::string(audience), "--plain-http"});
  client api(server.port());

  // The callers (design section 5's fixture).
  const caller DR_ACU = make_caller(idp, "DR_ACU", R"("sub":"555000000001","client_id":"ward-ehr","org_ods":"ACU1","scope":"user/*.cruds",
    "nhs_role":{"person_roleid":"555000000001-01","role_code":"R8000","activity_codes":["B0083"]},"purpose_of_use":["TREAT","ETREAT"])",
                                    "TREAT");
  const caller CLERK_ACU = make_caller(idp, "CLERK_ACU", R"("sub":"555000000002","client_id":"ward-ehr","org_ods":"ACU1","scope":"user/*.cruds",
    "nhs_role":{"person_roleid":"555000000002-01","role_code":"R8008"},"purpose_of_use":["TREAT","ETREAT"])",
                                       "TREAT");
  const caller DR_GP = make_caller(idp, "DR_GP", R"("sub":"555000000003","client_id":"gp-system","org_ods":"GP1","scope":"user/*.cruds",
    "nhs_role":{"person_roleid":"555000000003-01","role_code":"R8000"},"purpose_of_use":["TREAT"])");
  const caller DR_MH = make_caller(idp, "DR_MH", R"("sub":"555000000004","client_id":"mh-system","org_ods":"MH1","scope":"user/*.cruds",
    "nhs_role":{"person_roleid":"555000000004-01","role_code":"R8000"},"purpose_of_use":["TREAT"])");
  const caller ANALYST = make_caller(idp, "ANALYST", R"("sub":"555000000005","client_id":"icb-analytics","org_ods":"ICB1","scope":"user/*.rs",
    "nhs_role":{"person_roleid":"555000000005-01","role_code":"SHCR-ANALYST"},"purpose_of_use":["HOPERAT"])");
  const caller RSCH1 = make_caller(idp, "RSCH1", R"("sub":"555000000006","client_id":"research-portal","org_ods":"RES1","scope":"user/*.rs",
    "nhs_role":{"person_roleid":"555000000006-01","role_code":"SHCR-RESEARCHER"},"purpose_of_use":["HRESCH"])");
  const caller GP_RESEARCHER = make_caller(idp, "GP_RESEARCHER", R"("sub":"555000000007","client_id":"research-portal","org_ods":"GP1",
    "scope":"user/*.rs","nhs_role":{"person_roleid":"555000000007-01","role_code":"SHCR-RESEARCHER"},"purpose_of_use":["HRESCH"])");
  const caller CADMIN = make_caller(idp, "CADMIN", R"("sub":"555000000008","client_id":"consent-admin","org_ods":"ICB1","scope":"user/*.cruds",
    "nhs_role":{"person_roleid":"555000000008-01","role_code":"SHCR-CONSENT-ADMIN"},"purpose_of_use":["PATADMIN"])");
  const caller PO = make_caller(idp, "PO", R"("sub":"555000000009","client_id":"audit-console","org_ods":"ICB1","scope":"user/*.rs",
    "nhs_role":{"person_roleid":"555000000009-01","role_code":"R0001"},"purpose_of_use":["HSYSADMIN"])");
  const caller PAT_P2 = make_caller(idp, "PAT_P2", R"("sub":"p2-login","client_id":"nhs-app","scope":"patient/*.rs","patient":"P2",
    "purpose_of_use":["PATRQT"])");

  // The data, each written by the organisation that controls it (the server tags every write).
  for (int n = 1; n <= 12; ++n) put_ok(api, DR_GP, "/fhir/Patient/P" + std::to_string(n), patient_json(n));
  auto observation = [&](const caller& writer, const std::string& id, const std::string& patient, std::string_view meta = {}) {
    put_ok(api, writer, "/fhir/Observation/" + id, observation_json(id, patient, meta));
  };
  observation(DR_GP, "o1a", "P1");
  observation(DR_MH, "o1b", "P1");
  observation(DR_GP, "o2a", "P2");
  observation(DR_ACU, "o2b", "P2");
  observation(DR_GP, "o2n", "P2", R"({"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"NOPAT"}]})");
  for (std::string n : {"3", "4", "5", "6", "7", "10", "11", "12"}) {
    observation(DR_GP, "o" + n + "a", "P" + n);   // GP1's
    observation(DR_ACU, "o" + n + "b", "P" + n);  // ACU1's
  }
  auto consent = [&](const std::string& id, const std::string& patient, std::string_view kind, std::string_view status,
                     const std::string& provision = R"({"type":"deny"})") {
    put_ok(api, CADMIN, "/fhir/Consent/" + id, consent_json(id, patient, kind, status, provision));
  };
  // A status change of a Consent: the same Consent, another status.
  auto change_status = [&](const std::string& id, const std::string& patient, std::string_view kind, std::string_view status,
                           const std::string& provision = R"({"type":"deny"})") {
    http_reply r = api.send(CADMIN, "PUT", "/fhir/Consent/" + id, consent_json(id, patient, kind, status, provision));
    INFO("CADMIN PUT Consent/" << id << " status " << status << " -> " << r.body);
    CHECK(r.status == 200);
  };
  const std::string p2_nhs_number = std::string(nhs_numbers[1]);

  // Scenario 1: no Consents at all; P1 has o1a (GP1) and o1b (MH1): a clinician of ACU1 sees both.
  {
    value bundle = search(api, DR_ACU, "/fhir/Observation?patient=P1&_total=accurate");
    CHECK(ids_of(bundle) == ids{"o1a", "o1b"});
    CHECK(total_of(bundle).value_or("absent") == "2");
    CHECK_FALSE(has_outcome_code(bundle, "suppressed"));
  }

  // Scenario 2: P2 opts out (c2). ACU1 sees only its own o2b, a total of 1 and the withheld-items
  // warning; the request's AuditEvent names Consent c2 with decision deny and what it suppressed.
  consent("c2", "P2", "shcr-optout", "active");
  {
    value bundle = search(api, DR_ACU, "/fhir/Observation?patient=P2&_total=accurate");
    CHECK(ids_of(bundle) == ids{"o2b"});
    CHECK(total_of(bundle).value_or("absent") == "1");
    bool warned = false;
    for (const value* issue : outcome_issues(bundle))
      if (text_of(issue, "code") == "suppressed") {
        warned = true;
        CHECK(text_of(issue, "severity") == "warning");
        CHECK(text_of(issue, "diagnostics") == withheld_text);
      }
    CHECK(warned);

    value audit = search(api, PO, "/fhir/AuditEvent?entity=Consent/c2&_count=200");
    bool found = false;
    for (const value* event : matches(audit)) {
      if (text_of(event, "outcomeDesc").find("/fhir/Observation?patient=P2") == std::string::npos) continue;
      const value* decided = entity_for(*event, "Consent/c2");
      if (!decided) continue;
      found = true;
      CHECK(detail_of(*decided, "decision") == "deny");
      CHECK(as_count(detail_of(*decided, "suppressed")) >= 1);
    }
    INFO(matches(audit).size() << " AuditEvents name Consent/c2");
    CHECK(found);
  }

  // Scenario 3: ACU1 reads GP1's o2a: exactly the 404 of an id that does not exist.
  {
    http_reply hidden = api.get(DR_ACU, "/fhir/Observation/o2a");
    http_reply missing = api.get(DR_ACU, "/fhir/Observation/does-not-exist");
    CHECK(hidden.status == 404);
    CHECK(missing.status == 404);
    CHECK(hidden.body == replace_all(missing.body, "does-not-exist", "o2a"));
    CHECK(hidden.header("Content-Type") == missing.header("Content-Type"));
    CHECK(hidden.header("ETag") == missing.header("ETag"));
  }

  // Scenario 4: GP1 wrote o2a: its own controller still reads it.
  {
    http_reply r = api.get(DR_GP, "/fhir/Observation/o2a");
    CHECK(r.status == 200);
    value o2a = json_of(r);
    CHECK(text_of(&o2a, "id") == "o2a");
  }

  // Scenario 5: ACU1 looks P2 up by NHS number: one minimal Patient, tagged REDACTED, without address.
  const std::string by_p2_nhs_number = "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number%7C" + p2_nhs_number;
  {
    value bundle = search(api, DR_ACU, by_p2_nhs_number);
    auto found = matches(bundle);
    CHECK(found.size() == 1);
    if (found.size() == 1) {
      const value& p2 = *found.front();
      CHECK(text_of(&p2, "id") == "P2");
      CHECK(has_coding(p2.find("meta") ? p2.find("meta")->find("security") : nullptr, "REDACTED"));
      CHECK(p2.find("address") == nullptr);
      CHECK(p2.find("identifier") != nullptr);
      CHECK(p2.find("name") != nullptr);
      CHECK(text_of(&p2, "birthDate") == "1970-01-01");
      CHECK(text_of(&p2, "gender") == "male");
    }
  }

  // Scenario 6: the analyst (planning) gets nothing, and is not told that anything was withheld.
  {
    value bundle = search(api, ANALYST, by_p2_nhs_number);
    CHECK(ids_of(bundle).empty());
    if (auto total = total_of(bundle)) CHECK(*total == "0");
    CHECK_FALSE(has_outcome_code(bundle, "suppressed"));
  }

  // Scenario 7: the same through a chain on the subject's NHS number: only ACU1's o2b.
  {
    value bundle = search(api, DR_ACU, "/fhir/Observation?subject.identifier=https://fhir.nhs.uk/Id/nhs-number%7C" + p2_nhs_number);
    CHECK(ids_of(bundle) == ids{"o2b"});
  }

  // Scenario 8: Article 21 objections: pending (proposed) has no effect, upheld (active) acts as an
  // opt-out, rejected has no effect.
  consent("c4", "P4", "art21-objection", "proposed");
  consent("c5", "P5", "art21-objection", "active");
  consent("c6", "P6", "art21-objection", "rejected");
  CHECK(ids_of(search(api, DR_ACU, "/fhir/Observation?patient=P4")) == ids{"o4a", "o4b"});
  CHECK(ids_of(search(api, DR_ACU, "/fhir/Observation?patient=P5")) == ids{"o5b"});
  CHECK(ids_of(search(api, DR_ACU, "/fhir/Observation?patient=P6")) == ids{"o6a", "o6b"});

  // Scenario 9: P3 opts out "except in emergencies" (a nested permit for ETREAT).
  consent("c3", "P3", "shcr-optout", "active",
          R"({"type":"deny","provision":[{"type":"permit","purpose":[)" + purpose_coding("ETREAT") + "]}]}");
  {
    // Direct care: ACU1's own data only.
    CHECK(ids_of(search(api, DR_ACU, "/fhir/Observation?patient=P3")) == ids{"o3b"});
    // Emergency purpose without a declaration (design scenario 10 on P3): refused.
    CHECK(api.get(DR_ACU, "/fhir/Observation?patient=P3", "ETREAT").status == 403);

    // Bad declarations are 400 and open nothing.
    http_reply short_text = api.send(DR_ACU, "POST", "/fhir/Patient/P3/$break-glass",
                                     R"({"resourceType":"Parameters","parameter":[{"name":"reasonCode","valueCode":"unconscious"},)"
                                     R"({"name":"reasonText","valueString":"short"}]})",
                                     "ETREAT");
    INFO(short_text.body);
    CHECK(short_text.status == 400);
    http_reply unknown_code = api.send(DR_ACU, "POST", "/fhir/Patient/P3/$break-glass",
                                       R"({"resourceType":"Parameters","parameter":[{"name":"reasonCode","valueCode":"curious"},)"
                                       R"({"name":"reasonText","valueString":"Unconscious in ED, needs medication history"}]})",
                                       "ETREAT");
    INFO(unknown_code.body);
    CHECK(unknown_code.status == 400);
    CHECK(api.get(DR_ACU, "/fhir/Observation?patient=P3", "ETREAT").status == 403);

    // The declaration opens a session for P3.
    http_reply declared = api.send(DR_ACU, "POST", "/fhir/Patient/P3/$break-glass", valid_declaration, "ETREAT");
    INFO(declared.body);
    CHECK(declared.status == 200);
    value session = json_of(declared);
    CHECK(text_of(&session, "resourceType") == "Parameters");
    CHECK(parameter_names(session) == ids{"patient", "sessionEnd"});
    for (const value& p : items(session.find("parameter")))
      if (text_of(&p, "name") == "patient") CHECK(text_of(p.find("valueReference"), "reference") == "Patient/P3");

    // With ETREAT: everything, marked as emergency access.
    http_reply emergency = api.get(DR_ACU, "/fhir/Observation?patient=P3", "ETREAT");
    INFO(emergency.body);
    CHECK(emergency.status == 200);
    value bundle = json_of(emergency);
    CHECK(ids_of(bundle) == ids{"o3a", "o3b"});
    CHECK(emergency.header("X-Break-Glass") == "active");
    CHECK(has_outcome_code(bundle, "informational"));
    // The session changes nothing for requests made with the direct care purpose.
    http_reply direct = api.get(DR_ACU, "/fhir/Observation?patient=P3");
    CHECK(direct.status == 200);
    CHECK(ids_of(json_of(direct)) == ids{"o3b"});
    CHECK(direct.header("X-Break-Glass").empty());

    // The privacy officer finds the Security Alert (Emergency Override Started), flagged for review.
    value audit = search(api, PO, "/fhir/AuditEvent?patient=P3&_count=200");
    bool alert = false;
    for (const value* event : matches(audit)) {
      const value* type = event->find("type");
      if (text_of(type, "code") != "110113") continue;
      alert = true;
      CHECK(text_of(type, "system") == dicom_system);
      const value* subtypes = event->find("subtype");
      CHECK((!items(subtypes).empty() && text_of(&items(subtypes)[0], "code") == "110127"));
      CHECK(has_coding(event->find("meta") ? event->find("meta")->find("tag") : nullptr, "review"));
    }
    CHECK(alert);
  }

  // Scenario 10: emergency purpose for a patient without a declared session: 403 (a search and a read);
  // a role not entitled to break the glass cannot declare.
  CHECK(api.get(DR_ACU, "/fhir/Observation?patient=P4", "ETREAT").status == 403);
  CHECK(api.get(DR_ACU, "/fhir/Patient/P4", "ETREAT").status == 403);
  {
    http_reply clerk = api.send(CLERK_ACU, "POST", "/fhir/Patient/P3/$break-glass", valid_declaration, "ETREAT");
    INFO(clerk.body);
    CHECK(clerk.status == 403);
  }

  // Scenario 11: Consents not in force are not enforced: an opt-out whose period ended yesterday; one
  // withdrawn (inactive) by the consent administrator, from the very next request; one entered in error.
  {
    std::string yesterday = fhir::format_instant(fhir::now_ms() - 24LL * 3600 * 1000).substr(0, 10);
    consent("c12", "P12", "shcr-optout", "active", R"({"type":"deny","period":{"end":")" + yesterday + R"("}})");
    CHECK(ids_of(search(api, DR_ACU, "/fhir/Observation?patient=P12")) == ids{"o12a", "o12b"});

    consent("c11", "P11", "shcr-optout", "active");
    CHECK(ids_of(search(api, DR_ACU, "/fhir/Observation?patient=P11")) == ids{"o11b"});
    change_status("c11", "P11", "shcr-optout", "inactive");
    CHECK(ids_of(search(api, DR_ACU, "/fhir/Observation?patient=P11")) == ids{"o11a", "o11b"});

    consent("c10", "P10", "shcr-optout", "active");
    CHECK(ids_of(search(api, DR_ACU, "/fhir/Observation?patient=P10")) == ids{"o10b"});
    change_status("c10", "P10", "shcr-optout", "entered-in-error");
    CHECK(ids_of(search(api, DR_ACU, "/fhir/Observation?patient=P10")) == ids{"o10a", "o10b"});
  }

  // Scenario 12: a Consent is never deleted; a clinician may not read Consents, and is refused before
  // any lookup (the same answer for a missing one).
  {
    CHECK(api.send(CADMIN, "DELETE", "/fhir/Consent/c2").status == 405);
    CHECK(api.get(CADMIN, "/fhir/Consent/c2").status == 200);  // it is there
    http_reply existing = api.get(DR_ACU, "/fhir/Consent/c2");
    http_reply missing = api.get(DR_ACU, "/fhir/Consent/no-such-consent");
    CHECK(existing.status == 403);
    CHECK(missing.status == 403);
    CHECK(existing.body == missing.body);
  }

  // Scenario 13: P7 has a national data opt-out: research sees nothing (total 0), direct care everything.
  consent("c7", "P7", "ndoo", "active",
          R"({"type":"deny","purpose":[)" + purpose_coding("HOPERAT") + "," + purpose_coding("HRESCH") + "]}");
  {
    value research = search(api, RSCH1, "/fhir/Observation?patient=P7&_total=accurate");
    CHECK(ids_of(research).empty());
    CHECK(total_of(research).value_or("absent") == "0");
    CHECK_FALSE(has_outcome_code(research, "suppressed"));
    CHECK(ids_of(search(api, DR_ACU, "/fhir/Observation?patient=P7")) == ids{"o7a", "o7b"});
  }

  // Scenario 14: a researcher at GP1 does not see GP1's own P7 data (the controller exemption is for care).
  {
    value research = search(api, GP_RESEARCHER, "/fhir/Observation?patient=P7");
    CHECK(ids_of(research).empty());
    CHECK_FALSE(has_outcome_code(research, "suppressed"));
  }

  // Scenario 15: the patient sees their own data despite their opt-out, except what is withheld from
  // them (NOPAT); another patient's data is refused.
  {
    CHECK(ids_of(search(api, PAT_P2, "/fhir/Observation?patient=P2")) == ids{"o2a", "o2b"});
    CHECK(api.get(PAT_P2, "/fhir/Observation/o2n").status == 404);
    CHECK(api.get(PAT_P2, "/fhir/Observation?patient=P1").status == 403);

    // Subject access: the patient's whole record in one Bundle, without what is withheld from them, and
    // audited as the patient's own request (purpose PATRQT, the $everything operation, their record).
    http_reply everything = api.get(PAT_P2, "/fhir/Patient/P2/$everything");
    INFO(everything.body);
    REQUIRE(everything.status == 200);
    ids record;
    const value bundle = json_of(everything);
    for (const value& e : items(bundle.find("entry")))
      if (const value* resource = e.find("resource")) record.push_back(text_of(resource, "resourceType") + "/" + text_of(resource, "id"));
    CHECK(std::find(record.begin(), record.end(), "Patient/P2") != record.end());
    CHECK(std::find(record.begin(), record.end(), "Observation/o2a") != record.end());
    CHECK(std::find(record.begin(), record.end(), "Observation/o2b") != record.end());
    CHECK(std::find(record.begin(), record.end(), "Observation/o2n") == record.end());  // NOPAT: withheld
    CHECK(api.get(PAT_P2, "/fhir/Patient/P1/$everything").status >= 400);                // only their own
    value audit = search(api, PO, "/fhir/AuditEvent?patient=P2&_count=200");
    bool subject_access = false;
    for (const value* event : matches(audit)) {
      const value* subtypes = event->find("subtype");
      bool everything_operation = !items(subtypes).empty() && text_of(&items(subtypes)[0], "code") == "$everything";
      std::string purpose;
      for (const value& agent : items(event->find("agent")))
        for (const value& reason : items(agent.find("purposeOfUse")))
          for (const value& c : items(reason.find("coding"))) purpose = text_of(&c, "code");
      if (everything_operation && purpose == "PATRQT") subject_access = true;
    }
    CHECK(subject_access);
  }

  // Scenario 16: GP1 keeps submitting data for opted-out P2 (201); ACU1 cannot see it.
  {
    http_reply created = api.send(DR_GP, "POST", "/fhir/Observation", observation_json("", "P2"));
    INFO(created.body);
    CHECK(created.status == 201);
    std::string location = created.header("Location");
    INFO("Location: " << location);
    auto at = location.find("/Observation/");
    std::string id = at == std::string::npos ? std::string() : location.substr(at + 13, location.find('/', at + 13) - (at + 13));
    CHECK_FALSE(id.empty());
    if (!id.empty()) {
      CHECK(api.get(DR_ACU, "/fhir/Observation/" + id).status == 404);
      CHECK(api.get(DR_GP, "/fhir/Observation/" + id).status == 200);
    }
  }

  // Scenario 17: token checks (401 with error="invalid_token") and a purpose the token does not allow (403).
  {
    const std::string gp_claims = R"("sub":"555000000003","client_id":"gp-system","org_ods":"GP1","scope":"user/*.cruds",
      "nhs_role":{"person_roleid":"555000000003-01","role_code":"R8000"},"purpose_of_use":["TREAT"])";
    std::int64_t now = fhir::now_ms() / 1000;
    const caller alg_none{"alg none", "Bearer " + unsigned_token(gp_claims), ""};
    const caller expired = make_caller(idp, "expired", gp_claims + ",\"iat\":" + std::to_string(now - 3600) + ",\"exp\":" +
                                                           std::to_string(now - 600));
    const caller wrong_audience = make_caller(idp, "wrong aud", gp_claims + R"(,"aud":"https://other.example/fhir")");
    for (const caller* who : {&alg_none, &expired, &wrong_audience}) {
      http_reply r = api.get(*who, "/fhir/Observation?patient=P1");
      INFO(who->name << ": " << r.status << " " << r.body);
      CHECK(r.status == 401);
      CHECK(r.header("WWW-Authenticate").find("error=\"invalid_token\"") != std::string::npos);
    }
    CHECK(api.get(DR_GP, "/fhir/Observation?patient=P1", "HRESCH").status == 403);
    // A token with several purposes needs the header.
    CHECK(api.get(DR_ACU, "/fhir/Observation?patient=P1", "").status == 400);
  }

  // Scenario 18: nobody writes AuditEvents; clinicians do not read them; the privacy officer finds the
  // hidden read of scenario 3 by patient (outcome 4, a consent-based 404).
  {
    http_reply put = api.send(PO, "PUT", "/fhir/AuditEvent/x",
                              R"({"resourceType":"AuditEvent","id":"x","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type",)"
                              R"("code":"rest"},"recorded":"2026-01-01T00:00:00Z","agent":[{"requestor":true,"who":{"display":"someone"}}],)"
                              R"("source":{"observer":{"display":"somewhere"}}})");
    INFO(put.body);
    CHECK(put.status == 405);
    CHECK(api.get(DR_ACU, "/fhir/AuditEvent").status == 403);
    value audit = search(api, PO, "/fhir/AuditEvent?patient=P2&_count=200");
    bool found = false;
    for (const value* event : matches(audit))
      if (text_of(event, "outcome") == "4" && text_of(event, "outcomeDesc").find("Observation/o2a") != std::string::npos) found = true;
    INFO(matches(audit).size() << " AuditEvents name Patient/P2");
    CHECK(found);
  }

  INFO(server.log());
  CHECK(server.stop() == 0);
}
