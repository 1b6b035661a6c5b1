// The auth module on its own: JWT verification (keys, algorithms, claims, times, cache), SMART scopes,
// the access policy and the authenticator's purpose rules. Keys are generated per run.

#include <catch2/catch.hpp>

#include "fhir/base64.hpp"
#include "fhir/json/parse.hpp"
#include "server/auth/authenticator.hpp"
#include "server/auth/jwt_verifier.hpp"
#include "server/auth/token_signer.hpp"
#include "tests/support/test_keys.hpp"

namespace auth = server::auth;

namespace {

constexpr std::int64_t now = 1'800'000'000;
constexpr std::string_view issuer = "https://idp.example.nhs.uk";
constexpr std::string_view audience = "https://shcr.example/fhir";

struct signer {
  auth::signing_key key;
  std::string kid;
  auth::algorithm alg;
};

signer make_signer(const std::string& pem, std::string kid, auth::algorithm alg) {
  auto key = auth::parse_signing_key(pem);
  REQUIRE(key.ok());
  return signer{std::move(*key), std::move(kid), alg};
}

const signer& rsa() {
  static const signer s = make_signer(fhir::testing::generate_rsa_key_pem(), "rsa-1", auth::algorithm::rs256);
  return s;
}
const signer& ec() {
  static const signer s = make_signer(fhir::testing::generate_p256_key_pem(), "ec-1", auth::algorithm::es256);
  return s;
}

std::string claims_json(std::string_view extra = "", std::string_view purposes = R"(["TREAT","ETREAT"])") {
  return R"({"iss":")" + std::string(issuer) + R"(","aud":")" + std::string(audience) +
         R"(","sub":"555000000123","client_id":"ward-ehr","scope":"user/*.rs user/Observation.c","org_ods":"RVV",
            "nhs_role":{"person_roleid":"555000000123-01","role_code":"R8000","activity_codes":["B0083"]},
            "jti":"7d1f","purpose_of_use":)" +
         std::string(purposes) + std::string(extra) + "}";
}

std::string mint(const signer& s, const std::string& claims, std::optional<auth::algorithm> alg = std::nullopt) {
  auto parsed = fhir::json::parse(claims);
  REQUIRE(parsed.ok());
  auto token = auth::mint_token(s.key, std::move(*parsed), {.kid = s.kid, .alg = alg.value_or(s.alg), .now_s = now});
  REQUIRE(token.ok());
  return *token;
}

std::shared_ptr<const auth::key_set> keys_of(std::initializer_list<const signer*> signers) {
  std::string jwks = R"({"keys":[)";
  bool first = true;
  for (const signer* s : signers) {
    if (!first) jwks += ",";
    first = false;
    jwks += auth::public_jwk(s->key, s->kid, s->alg);
  }
  jwks += "]}";
  auto set = auth::key_set::parse(jwks);
  REQUIRE(set.ok());
  return *set;
}

auth::jwt_verifier verifier() {
  return auth::jwt_verifier({.issuers = {std::string(issuer)}, .audience = std::string(audience)}, keys_of({&rsa(), &ec()}));
}

std::string rejection(const fhir::result<std::shared_ptr<const auth::claims>>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind() == fhir::error_kind::unauthenticated);
  return r.error().issues().front().message_id;
}

std::string b64(std::string_view s) { return fhir::base64url_encode(s); }

}  // namespace

TEST_CASE("RS256, PS256 and ES256 tokens verify and their claims are read", "[auth][jwt]") {
  auto v = verifier();
  for (auto [s, alg] : {std::pair{&rsa(), auth::algorithm::rs256}, std::pair{&rsa(), auth::algorithm::ps256},
                        std::pair{&ec(), auth::algorithm::es256}}) {
    // The RSA key's JWK names RS256; PS256 needs a key without "alg", so use a JWKS that omits it.
    auth::jwt_verifier any_alg({.issuers = {std::string(issuer)}, .audience = std::string(audience)},
                               *auth::key_set::parse(R"({"keys":[)" + [&] {
                                 std::string jwk = auth::public_jwk(s->key, s->kid, alg);
                                 auto at = jwk.find(",\"alg\"");
                                 return jwk.substr(0, at) + "}";
                               }() + "]}"));
    auto verified = any_alg.verify(mint(*s, claims_json(), alg), now);
    INFO(auth::to_string(alg));
    REQUIRE(verified.ok());
    const auth::claims& c = **verified;
    CHECK(c.subject == "555000000123");
    CHECK(c.org_ods == "RVV");
    CHECK(c.jti == "7d1f");
    REQUIRE(c.roles.size() == 1);
    CHECK(c.roles[0].role_code == "R8000");
    CHECK(c.roles[0].activity_codes == std::vector<std::string>{"B0083"});
    CHECK(c.purposes == std::vector<std::string>{"TREAT", "ETREAT"});
    CHECK(c.expires == now + 3600);
    REQUIRE(c.scopes.size() == 2);
  }
  CHECK(v.verify(mint(rsa(), claims_json()), now).ok());
  CHECK(v.verify(mint(ec(), claims_json()), now).ok());
}

TEST_CASE("forged, foreign and malformed tokens are refused with a reason", "[auth][jwt][errors]") {
  auto v = verifier();
  std::string good = mint(rsa(), claims_json());
  auto dot1 = good.find('.'), dot2 = good.rfind('.');
  std::string header = good.substr(0, dot1), payload = good.substr(dot1 + 1, dot2 - dot1 - 1), signature = good.substr(dot2 + 1);

  // alg none, HS256 (with the public key as an HMAC secret: the classic confusion attack).
  CHECK(rejection(v.verify(b64(R"({"alg":"none","kid":"rsa-1"})") + "." + payload + ".", now)) == "token-algorithm");
  CHECK(rejection(v.verify(b64(R"({"alg":"HS256","kid":"rsa-1"})") + "." + payload + "." + signature, now)) == "token-algorithm");
  // A tampered payload: the signature no longer matches.
  std::string tampered_payload = b64(claims_json(R"(,"patient":"someone-else")"));
  CHECK(rejection(v.verify(header + "." + tampered_payload + "." + signature, now)) == "token-signature");
  // Signed by another key that claims the same kid.
  signer impostor = make_signer(fhir::testing::generate_rsa_key_pem(), "rsa-1", auth::algorithm::rs256);
  CHECK(rejection(v.verify(mint(impostor, claims_json()), now)) == "token-signature");
  // An EC signature presented as RS256 under the RSA kid, and an unknown kid.
  CHECK(rejection(v.verify(mint(impostor, claims_json()).replace(0, dot1, b64(R"({"alg":"ES256","kid":"rsa-1"})")), now)) ==
        "token-algorithm");
  signer unknown = make_signer(fhir::testing::generate_p256_key_pem(), "nobody", auth::algorithm::es256);
  CHECK(rejection(v.verify(mint(unknown, claims_json()), now)) == "token-key-unknown");
  // Claims.
  auto claims_with = [](std::string_view iss, std::string_view aud, std::string_view rest) {
    return R"({"iss":")" + std::string(iss) + R"(","aud":")" + std::string(aud) + R"(")" + std::string(rest) + "}";
  };
  CHECK(rejection(v.verify(mint(rsa(), claims_with(issuer, "https://other.example/fhir", R"(,"jti":"x")")), now)) == "token-audience");
  CHECK(rejection(v.verify(mint(rsa(), claims_with("https://evil.example", audience, R"(,"jti":"x")")), now)) == "token-issuer");
  CHECK(rejection(v.verify(mint(rsa(), claims_with(issuer, audience, R"(,"jti":"")")), now)) == "token-jti");
  // A claim sent twice is ambiguous (RFC 7519 4): refused rather than guessing which one counts.
  CHECK(rejection(v.verify(mint(rsa(), claims_json(R"(,"org_ods":"GP1")")), now)) == "token-claim-malformed");
  CHECK(rejection(v.verify(mint(rsa(), claims_json(R"(,"scope":7)")), now)) == "token-claim-malformed");
  // Not JWTs at all.
  for (std::string junk : {std::string(), std::string("abc"), std::string("a.b"), std::string("a.b.c.d"), header + ".%%%." + signature,
                           std::string(20000, 'a')})
    CHECK_FALSE(v.verify(junk, now).ok());
}

TEST_CASE("exp, nbf and iat are checked with 60 seconds of skew, also for cached tokens", "[auth][jwt]") {
  auto v = verifier();
  std::string token = mint(rsa(), claims_json(R"(,"iat":1800000000,"exp":1800000100,"nbf":1800000000)"));
  CHECK(v.verify(token, now).ok());
  CHECK(v.verify(token, now + 100 + 60).ok());                       // within the skew after exp
  CHECK(rejection(v.verify(token, now + 100 + 61)) == "token-expired");  // cached, and still refused
  CHECK(v.verify(token, now - 60).ok());
  auto early = verifier();
  CHECK(rejection(early.verify(token, now - 61)) == "token-invalid");  // nbf and iat in the future
  CHECK(rejection(verifier().verify(mint(rsa(), claims_json(R"(,"exp":"tomorrow")")), now)) == "token-claim-malformed");
}

TEST_CASE("verified tokens are cached until the keys change", "[auth][jwt]") {
  auto v = verifier();
  std::string token = mint(ec(), claims_json());
  auto first = v.verify(token, now);
  auto second = v.verify(token, now);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->get() == second->get());  // the same parsed claim set: nothing verified or allocated again
  v.replace_keys(keys_of({&rsa()}));     // the EC key is withdrawn (SIGHUP with a new JWKS)
  CHECK(rejection(v.verify(token, now)) == "token-key-unknown");
}

// Two trusted identity providers: a key the JWKS binds to one (its "issuer" member) cannot sign the
// other's tokens; an unbound key still serves any trusted issuer. Fails when the binding is not checked.
TEST_CASE("a JWKS key with an issuer signs only that issuer's tokens", "[auth][jwt][errors]") {
  const std::string other = "https://idp.other-trust.nhs.uk";
  auto bound = [&](const signer& s, std::string_view to) {
    std::string jwk = auth::public_jwk(s.key, s.kid, s.alg);
    return jwk.substr(0, jwk.size() - 1) + R"(,"issuer":")" + std::string(to) + R"("})";
  };
  auto keys = auth::key_set::parse(R"({"keys":[)" + bound(rsa(), issuer) + "," + auth::public_jwk(ec().key, ec().kid, ec().alg) + "]}");
  REQUIRE(keys.ok());
  CHECK((*keys)->keys().at(0).issuer == std::optional<std::string>(issuer));
  CHECK_FALSE((*keys)->keys().at(1).issuer);
  auth::jwt_verifier v({.issuers = {std::string(issuer), other}, .audience = std::string(audience)}, *keys);
  auto claims_of = [&](std::string_view iss) {
    std::string c = claims_json();
    c.replace(c.find(issuer), issuer.size(), iss);
    return c;
  };
  CHECK(v.verify(mint(rsa(), claims_of(issuer)), now).ok());
  CHECK(rejection(v.verify(mint(rsa(), claims_of(other)), now)) == "token-issuer");
  CHECK(v.verify(mint(ec(), claims_of(other)), now).ok());
  CHECK(v.verify(mint(ec(), claims_of(issuer)), now).ok());
  // An issuer member that is not a URL string is a broken JWKS, not an unbound key.
  std::string jwk = auth::public_jwk(rsa().key, "k2", auth::algorithm::rs256);
  CHECK_FALSE(auth::key_set::parse(R"({"keys":[)" + jwk.substr(0, jwk.size() - 1) + R"(,"issuer":7}]})").ok());
  CHECK_FALSE(auth::key_set::parse(R"({"keys":[)" + jwk.substr(0, jwk.size() - 1) + R"(,"issuer":""}]})").ok());
}

TEST_CASE("a JWKS with unusable keys is refused, keys for other uses are skipped", "[auth][jwt][errors]") {
  CHECK_FALSE(auth::key_set::parse("not json").ok());
  CHECK_FALSE(auth::key_set::parse(R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]})").ok());  // no kid
  CHECK_FALSE(auth::key_set::parse(R"({"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB"}]})").ok());  // 17 bits
  CHECK_FALSE(auth::key_set::parse(R"({"keys":[{"kty":"EC","kid":"k","crv":"P-256","x":"AAAA","y":"AAAA"}]})").ok());
  auto skipped = auth::key_set::parse(R"({"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"},{"kty":"RSA","kid":"e","use":"enc"}]})");
  REQUIRE(skipped.ok());
  CHECK((*skipped)->size() == 0);
  // A point that is not on the curve.
  std::string jwk = auth::public_jwk(ec().key, "bad", auth::algorithm::es256);
  auto y = jwk.find("\"y\":\"") + 5;
  jwk[y] = jwk[y] == 'A' ? 'B' : 'A';
  CHECK_FALSE(auth::key_set::parse(R"({"keys":[)" + jwk + "]}").ok());
}

TEST_CASE("SMART scopes: v2 letters, v1 read and write, constraints and junk grant nothing", "[auth][scopes]") {
  auto scopes = auth::parse_scopes("openid fhirUser launch user/Observation.rs patient/*.r system/Patient.write user/Condition.cruds "
                                   "user/Encounter.rs?category=x user/Procedure.sr user/x.r user/AllergyIntolerance.*");
  using auth::permission;
  CHECK(auth::scopes_allow(scopes, auth::scope_level::user, "Observation", permission::read));
  CHECK(auth::scopes_allow(scopes, auth::scope_level::user, "Observation", permission::search));
  CHECK_FALSE(auth::scopes_allow(scopes, auth::scope_level::user, "Observation", permission::create));
  CHECK(auth::scopes_allow(scopes, auth::scope_level::patient, "Medication", permission::read));  // patient/*.r
  CHECK_FALSE(auth::scopes_allow(scopes, auth::scope_level::patient, "Medication", permission::search));
  CHECK_FALSE(auth::scopes_allow(scopes, auth::scope_level::user, "Medication", permission::read));  // another level
  CHECK(auth::scopes_allow(scopes, auth::scope_level::system, "Patient", permission::create));  // v1 write
  CHECK(auth::scopes_allow(scopes, auth::scope_level::system, "Patient", permission::remove));
  CHECK_FALSE(auth::scopes_allow(scopes, auth::scope_level::user, "Patient", permission::create));
  CHECK_FALSE(auth::scopes_allow(scopes, auth::scope_level::user, "Encounter", permission::search));  // query-constrained: unsupported
  CHECK_FALSE(auth::scopes_allow(scopes, auth::scope_level::user, "Procedure", permission::search));  // letters out of order
  CHECK(auth::scopes_allow(scopes, auth::scope_level::user, "AllergyIntolerance", permission::update));
  CHECK(auth::scopes_allow(scopes, auth::scope_level::user, "Condition", permission::remove));
}

TEST_CASE("the default access policy follows the design's RBAC table", "[auth][policy]") {
  const auto& p = auth::access_policy::defaults();
  using auth::operation;
  using auth::purpose_class;
  auto with_role = [](std::string role, std::vector<std::string> activities = {}) {
    auth::claims c;
    c.roles.push_back({"x", std::move(role), std::move(activities)});
    return c;
  };
  CHECK(p.class_of("TREAT") == purpose_class::direct);
  CHECK(p.class_of("ETREAT") == purpose_class::emergency);
  CHECK(p.class_of("HOPERAT") == purpose_class::planning);
  CHECK(p.class_of("HRESCH") == purpose_class::research);
  CHECK(p.class_of("PATRQT") == purpose_class::self);
  CHECK_FALSE(p.class_of("MADEUP"));

  auto clinician = with_role("S8000:G8000:R8000");  // a full national role path
  CHECK(p.allows(clinician, "TREAT", purpose_class::direct, "Observation", operation::create));
  CHECK(p.allows(clinician, "ETREAT", purpose_class::emergency, "Condition", operation::read));
  CHECK_FALSE(p.allows(clinician, "HOPERAT", purpose_class::planning, "Observation", operation::read));
  CHECK_FALSE(p.allows(clinician, "TREAT", purpose_class::direct, "AuditEvent", operation::read));  // protected
  CHECK_FALSE(p.allows(clinician, "TREAT", purpose_class::direct, "Consent", operation::create));  // only administrators
  auto clerk = with_role("R8008");
  CHECK(p.allows(clerk, "TREAT", purpose_class::direct, "Patient", operation::update));
  CHECK_FALSE(p.allows(clerk, "TREAT", purpose_class::direct, "Observation", operation::read));
  CHECK_FALSE(p.allows(clerk, "ETREAT", purpose_class::emergency, "Patient", operation::read));
  auto officer = with_role("R0001");
  CHECK(p.allows(officer, "HSYSADMIN", purpose_class::admin, "AuditEvent", operation::search));
  CHECK_FALSE(p.allows(officer, "RECORDMGT", purpose_class::admin, "AuditEvent", operation::search));
  CHECK_FALSE(p.allows(officer, "HSYSADMIN", purpose_class::admin, "Observation", operation::read));
  auto analyst = with_role("SHCR-ANALYST");
  CHECK(p.allows(analyst, "HOPERAT", purpose_class::planning, "Observation", operation::search));
  CHECK_FALSE(p.allows(analyst, "HOPERAT", purpose_class::planning, "Observation", operation::create));
  auto admin = with_role("SHCR-CONSENT-ADMIN");
  CHECK(p.allows(admin, "PATADMIN", purpose_class::admin, "Consent", operation::create));
  CHECK_FALSE(p.allows(admin, "TREAT", purpose_class::direct, "Consent", operation::create));
  CHECK(p.break_glass_entitled(clinician));
  CHECK(p.break_glass_entitled(with_role("R8001", {"B0083"})));
  CHECK_FALSE(p.break_glass_entitled(clerk));
  auth::claims patient;
  patient.patient = "P2";
  CHECK(p.allows(patient, "PATRQT", purpose_class::self, "Observation", operation::read, true));
  CHECK_FALSE(p.allows(patient, "PATRQT", purpose_class::self, "Observation", operation::create, true));
  CHECK_FALSE(p.allows(patient, "TREAT", purpose_class::direct, "Observation", operation::read, true));
  CHECK(p.allows(patient, "PATRQT", purpose_class::self, "Practitioner", operation::read));
  CHECK_FALSE(p.allows(patient, "PATRQT", purpose_class::self, "Binary", operation::read));        // could hold anyone's data
  CHECK_FALSE(p.allows(patient, "PATRQT", purpose_class::self, "AuditEvent", operation::read, true));  // protected
}

TEST_CASE("an access policy file replaces the defaults and is checked", "[auth][policy][errors]") {
  auto custom = auth::access_policy::parse(R"({"purposeClasses":{"direct":["TREAT"]},"roles":[],
                                               "controllers":{"RVV01":"RVV"}})");
  REQUIRE(custom.ok());
  CHECK(custom->controller_of("RVV01") == "RVV");
  CHECK(custom->controller_of("Y01234") == "Y01234");
  CHECK_FALSE(custom->class_of("ETREAT"));
  CHECK_FALSE(auth::access_policy::parse(R"({"purposeClasses":{"weird":[]},"roles":[]})").ok());
  CHECK_FALSE(auth::access_policy::parse(R"({"purposeClasses":{},"roles":[{"operations":["fly"]}]})").ok());
  CHECK_FALSE(auth::access_policy::parse("[]").ok());
}

TEST_CASE("the effective purpose: the header if the token allows it, else the token's only one", "[auth][purpose]") {
  auto shared = std::make_shared<auth::jwt_verifier>(
      auth::jwt_options{.issuers = {std::string(issuer)}, .audience = std::string(audience)}, keys_of({&rsa(), &ec()}));
  auth::authenticator a(auth::auth_mode::jwt, auth::access_policy::defaults(), shared);
  std::string two = "Bearer " + mint(rsa(), claims_json());
  std::string one = "Bearer " + mint(rsa(), claims_json("", R"(["TREAT"])"));
  auto c = a.authenticate(one, std::nullopt, now);
  REQUIRE(c.ok());
  CHECK(c->purpose == "TREAT");
  CHECK(c->purpose_category == auth::purpose_class::direct);
  CHECK(c->controller == "RVV");
  CHECK(a.authenticate(two, std::nullopt, now).error().kind() == fhir::error_kind::invalid);  // which one?
  auto emergency = a.authenticate(two, std::string_view("ETREAT"), now);
  REQUIRE(emergency.ok());
  CHECK(emergency->purpose_category == auth::purpose_class::emergency);
  CHECK(a.authenticate(two, std::string_view("HRESCH"), now).error().kind() == fhir::error_kind::forbidden);
  CHECK(a.authenticate(mint(rsa(), claims_json()), std::nullopt, now).error().kind() == fhir::error_kind::unauthenticated);
  CHECK(a.authenticate(std::nullopt, std::nullopt, now).error().issues().front().message_id == "token-missing");
  // A development token is worthless outside development mode.
  CHECK(a.authenticate("Bearer dev." + b64(claims_json()), std::nullopt, now).error().kind() == fhir::error_kind::unauthenticated);
  auth::authenticator dev(auth::auth_mode::dev, auth::access_policy::defaults(), nullptr);
  auto simulated = dev.authenticate("Bearer dev." + b64(claims_json("", R"(["TREAT"])")), std::nullopt, now);
  REQUIRE(simulated.ok());
  CHECK(simulated->token->development);
  CHECK(simulated->controller == "RVV");
  auto anonymous = dev.authenticate(std::nullopt, std::nullopt, now);
  REQUIRE(anonymous.ok());
  CHECK(anonymous->purpose == "TREAT");
  CHECK(dev.allowed(*anonymous, "Observation", auth::operation::create));
  CHECK_FALSE(dev.authenticate("Bearer " + mint(rsa(), claims_json()), std::nullopt, now).ok());  // no JWKS configured
}
