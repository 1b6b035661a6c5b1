#pragma once
// Verifies JWT bearer tokens (RFC 7519, JWS compact form) as the design requires: RS256, PS256 or
// ES256 only (`none` and HS* are refused), the key chosen by `kid` from the JWKS, `iss` on the
// allow-list, `aud` containing the server's audience, `exp`/`nbf`/`iat` with a bounded clock skew, and
// `jti` present.
//
// Verified tokens are cached by the SHA-256 of their text until they expire, so a client reusing its
// token costs one hash and one lookup per request and allocates nothing; the cache is bounded and is
// emptied when the keys are replaced (a removed key must stop working at once).

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fhir/result.hpp"
#include "server/auth/claims.hpp"
#include "server/auth/keys.hpp"

namespace server::auth {

struct jwt_options {
  std::vector<std::string> issuers;  // allow-list; a token from any other issuer is refused
  std::string audience;              // must appear in `aud`
  std::int64_t skew_s = 60;          // tolerated clock difference for exp, nbf and iat
  std::size_t cache_capacity = 10'000;
};

class jwt_verifier {
 public:
  jwt_verifier(jwt_options options, std::shared_ptr<const key_set> keys);

  // Swaps in a new key set (SIGHUP) and forgets every cached verification. Thread-safe.
  void replace_keys(std::shared_ptr<const key_set> keys);

  // The claims of a valid token; fails with kind unauthenticated, saying why, otherwise. Thread-safe.
  fhir::result<std::shared_ptr<const claims>> verify(std::string_view token, std::int64_t now_s) const;

  const jwt_options& options() const { return options_; }

 private:
  using digest = std::array<unsigned char, 32>;
  struct digest_hash {
    std::size_t operator()(const digest& d) const;
  };

  fhir::result<std::shared_ptr<const claims>> verify_uncached(std::string_view token, std::int64_t now_s,
                                                              const key_set& keys) const;
  fhir::result<fhir::done> check_times(const claims& c, std::int64_t now_s) const;

  jwt_options options_;
  mutable std::shared_mutex mutex_;  // guards keys_ and cache_
  std::shared_ptr<const key_set> keys_;
  mutable std::unordered_map<digest, std::shared_ptr<const claims>, digest_hash> cache_;
};

// Splits "header.payload.signature"; each part base64url without padding. Used by the verifier and by
// development tokens.
struct jws_parts {
  std::string_view header, payload, signature;  // still encoded
  std::string_view signing_input;               // "header.payload"
};
std::optional<jws_parts> split_jws(std::string_view token);

// Strict base64url (RFC 7515 2: no padding, no whitespace, URL-safe alphabet only).
std::optional<std::string> decode_base64url(std::string_view text);

}  // namespace server::auth
