#pragma once
// The claims of an access token the server acts on (design: consent.md section 1), read from a verified
// JWT payload or a development token.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"
#include "server/auth/scopes.hpp"

namespace server::auth {

// The NHS national RBAC role the user selected (claim `nhs_role`).
struct nhs_role {
  std::string person_roleid;
  std::string role_code;                    // "R8000"
  std::vector<std::string> activity_codes;  // "B0083"
};

struct claims {
  std::string issuer;                  // iss
  std::vector<std::string> audience;   // aud (a string or an array)
  std::string subject;                 // sub: the user
  std::string client_id;               // the application
  std::string fhir_user;               // fhirUser: "Practitioner/123"
  std::string jti;                     // the token's id, audited
  std::string scope;                   // as sent
  std::vector<smart_scope> scopes;     // parsed
  std::string org_ods;                 // ODS code of the organisation the user acts for
  std::vector<nhs_role> roles;         // the token's nhs_role (the development user holds several)
  std::vector<std::string> purposes;   // purpose_of_use
  std::string patient;                 // patient-facing tokens: the Patient id the person may see
  std::int64_t expires = 0;            // exp, seconds since the epoch
  std::int64_t issued_at = 0;          // iat
  std::optional<std::int64_t> not_before;  // nbf
  bool development = false;            // a development identity (--auth dev), not a verified token
};

// True when a JSON object names a member twice (a JOSE header or claim set sent that way is ambiguous,
// RFC 7519 section 4, and refused).
bool repeats_a_member(const fhir::json::value& object);

// Reads the claims of a payload. Fails (unauthenticated) when a claim the server relies on has the
// wrong JSON type; presence and time rules are the verifier's.
fhir::result<claims> read_claims(const fhir::json::value& payload);

}  // namespace server::auth
