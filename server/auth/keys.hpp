#pragma once
// Asymmetric keys for JSON Web Signatures (RFC 7515/7518): the three algorithms the design allows
// (RS256, PS256, ES256), verification keys read from a JWKS document (RFC 7517) by `kid`, and signing
// keys read from PEM (for `fhir-server token`, tests and examples).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/result.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace server::auth {

enum class algorithm { rs256, ps256, es256 };

std::string_view to_string(algorithm a);
// nullopt for anything else: none, HS256, RS384, ... are never accepted.
std::optional<algorithm> parse_algorithm(std::string_view name);

enum class key_type { rsa, ec_p256 };

struct pkey_deleter {
  void operator()(evp_pkey_st* key) const;
};
using pkey = std::unique_ptr<evp_pkey_st, pkey_deleter>;

// True when `alg` signs with keys of type `type`.
bool algorithm_uses(algorithm alg, key_type type);

struct verification_key {
  std::string kid;
  key_type type;
  std::optional<algorithm> alg;  // the JWK's "alg": when present, tokens must use exactly it
  pkey key;
  // The JWK's "issuer" (an extension member, as some identity providers publish it): when present,
  // only tokens of that issuer may use the key, so one trusted issuer cannot sign as another.
  std::optional<std::string> issuer = std::nullopt;
};

// The public keys of a JWKS document. Immutable once built; shared by request threads.
class key_set {
 public:
  // Keys of kty RSA (at least 2048 bits) and EC (crv P-256) with a kid; other keys ("use": "enc",
  // unknown kty or curve) are skipped. Fails (invalid) on malformed JSON, a key without kid, a
  // duplicate kid, or malformed key material, naming the key.
  static fhir::result<std::shared_ptr<const key_set>> parse(std::string_view jwks);
  static fhir::result<std::shared_ptr<const key_set>> load(const std::string& path);

  const verification_key* find(std::string_view kid) const;
  std::size_t size() const { return keys_.size(); }
  const std::vector<verification_key>& keys() const { return keys_; }

 private:
  std::vector<verification_key> keys_;
};

// A private key for signing tokens, with the public half as a JWK.
struct signing_key {
  key_type type;
  pkey key;
};

// Reads a PEM private key (PKCS#8 or traditional RSA/EC). Fails (invalid) for other key types.
fhir::result<signing_key> load_signing_key(const std::string& path);
fhir::result<signing_key> parse_signing_key(std::string_view pem);

// The public JWK of `key` (kty, kid, use "sig", alg and the key parameters) as compact JSON.
std::string public_jwk(const signing_key& key, std::string_view kid, algorithm alg);

// Signs `input` (the JWS signing input) and returns the raw signature (r||s for ES256).
std::string sign(const signing_key& key, algorithm alg, std::string_view input);
// Verifies a raw signature of `input`; false for any mismatch or malformed signature.
bool verify(const verification_key& key, algorithm alg, std::string_view input, std::string_view signature);

}  // namespace server::auth
