#pragma once
// A test identity provider: a freshly generated signing key, the JWKS file that trusts it, and an
// application in JWT mode configured with both; tokens are minted from claim sets by role.

#include <string>
#include <string_view>
#include <vector>

#include "server/auth/keys.hpp"
#include "server/http/message.hpp"
#include "tests/server/app_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace fhir::testing {

inline constexpr std::string_view test_issuer = "https://idp.test.example";

class identity_provider {
 public:
  identity_provider();
  const std::string& jwks_path() const { return jwks_path_; }

  // "Authorization: Bearer <JWT>" for these claims (a JSON object's members, without braces);
  // iss, aud (the fixture's base URL, unless the members name one), iat, exp and jti are added.
  server::http::header bearer(std::string_view claim_members) const;

  // Common callers of the design's scenarios.
  server::http::header clinician(std::string_view ods = "ACU1", std::string_view scope = "user/*.cruds") const;
  server::http::header patient(std::string_view patient_id) const;

 private:
  temp_dir dir_;
  std::string jwks_path_;
  server::auth::signing_key key_;
};

// A consent administrator (SHCR-CONSENT-ADMIN at ICB1, purpose PATADMIN).
server::http::header consent_admin(const identity_provider& idp);

// `auth` and a JSON Content-Type, with any `more` headers: what a write with a token sends.
std::vector<server::http::header> with(server::http::header auth, std::vector<server::http::header> more = {});

// An application in JWT mode trusting `idp` (every request needs one of its tokens).
server::application_options jwt_options(const identity_provider& idp);

}  // namespace fhir::testing
