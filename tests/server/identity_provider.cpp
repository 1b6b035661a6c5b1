#include "tests/server/identity_provider.hpp"

#include <fstream>

#include "fhir/json/parse.hpp"
#include "fhir/time.hpp"
#include "server/auth/token_signer.hpp"
#include "tests/support/test_keys.hpp"

namespace fhir::testing {

identity_provider::identity_provider() : jwks_path_(dir_.file("jwks.json")) {
  auto key = server::auth::parse_signing_key(generate_p256_key_pem());
  REQUIRE(key.ok());
  key_ = std::move(*key);
  std::ofstream(jwks_path_) << server::auth::jwks_of(key_, "test-key", server::auth::algorithm::es256);
}

server::http::header identity_provider::bearer(std::string_view claim_members) const {
  std::string text = R"({"iss":")" + std::string(test_issuer) + "\"";
  if (claim_members.find("\"aud\"") == std::string_view::npos) text += R"(,"aud":")" + std::string(app_fixture::base) + "\"";
  if (!claim_members.empty()) text += "," + std::string(claim_members);
  text += "}";
  auto claims = json::parse(text);
  REQUIRE(claims.ok());
  auto token = server::auth::mint_token(key_, std::move(*claims),
                                        {.kid = "test-key", .alg = server::auth::algorithm::es256, .now_s = fhir::now_ms() / 1000});
  REQUIRE(token.ok());
  return {"Authorization", "Bearer " + *token};
}

server::http::header identity_provider::clinician(std::string_view ods, std::string_view scope) const {
  return bearer(R"("sub":"555000000123","client_id":"ward-ehr","org_ods":")" + std::string(ods) + R"(","scope":")" +
                std::string(scope) + R"(","nhs_role":{"person_roleid":"555000000123-01","role_code":"R8000"},"purpose_of_use":["TREAT"])");
}

server::http::header identity_provider::patient(std::string_view patient_id) const {
  return bearer(R"("sub":"patient-login","client_id":"nhs-app","scope":"patient/*.rs","patient":")" + std::string(patient_id) +
                R"(","purpose_of_use":["PATRQT"])");
}

server::http::header consent_admin(const identity_provider& idp) {
  return idp.bearer(R"("sub":"ca1","org_ods":"ICB1","scope":"user/*.cruds","nhs_role":{"role_code":"SHCR-CONSENT-ADMIN"},
    "purpose_of_use":["PATADMIN"])");
}

std::vector<server::http::header> with(server::http::header auth, std::vector<server::http::header> more) {
  more.push_back({"Content-Type", "application/fhir+json"});
  more.push_back(std::move(auth));
  return more;
}

server::application_options jwt_options(const identity_provider& idp) {
  server::application_options options;
  options.auth = {.mode = server::auth::auth_mode::jwt, .jwks_path = idp.jwks_path(), .issuers = {std::string(test_issuer)}};
  return options;
}

}  // namespace fhir::testing
