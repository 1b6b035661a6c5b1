#pragma once
// Mints signed JWTs: `fhir-server token`, the tests and the examples use it to act as an identity
// provider. Never used by the server to accept anything.

#include <cstdint>
#include <string>
#include <string_view>

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"
#include "server/auth/keys.hpp"

namespace server::auth {

struct token_request {
  std::string kid;
  algorithm alg = algorithm::rs256;
  std::int64_t now_s = 0;          // iat when the claims have none
  std::int64_t lifetime_s = 3600;  // exp = iat + lifetime when the claims have none
};

// The compact JWS of `claims` (a JSON object), with iat, exp and a random jti added when absent.
// Fails (invalid) when the claims are not an object or the algorithm does not fit the key.
fhir::result<std::string> mint_token(const signing_key& key, fhir::json::value claims, const token_request& request);

// The JWKS document holding the public half of `key`.
std::string jwks_of(const signing_key& key, std::string_view kid, algorithm alg);

// RS256 for RSA keys, ES256 for P-256 keys.
algorithm default_algorithm(const signing_key& key);

}  // namespace server::auth
