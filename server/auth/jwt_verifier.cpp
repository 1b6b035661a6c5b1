#include "server/auth/jwt_verifier.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <openssl/sha.h>

#include "fhir/base64.hpp"
#include "fhir/json/parse.hpp"

namespace server::auth {
namespace {

fhir::error rejected(std::string diagnostics, std::string message_id = "token-invalid") {
  return fhir::error(fhir::error_kind::unauthenticated, fhir::issue_type::login, std::move(diagnostics), std::move(message_id));
}

bool is_base64url(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// Tokens larger than this are not tokens: refuse before hashing or parsing them.
constexpr std::size_t max_token_size = 16 * 1024;
// Token JSON is small and flat; a deep or huge document is an attack.
constexpr fhir::json::parse_options token_json{.max_depth = 8, .max_values = 2'000};

}  // namespace

std::optional<std::string> decode_base64url(std::string_view text) {
  if (!is_base64url(text) || text.size() % 4 == 1) return std::nullopt;
  // The unused low bits of the last character must be zero, so that a token has one spelling only.
  if (!text.empty() && text.size() % 4 != 0) {
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::size_t last = alphabet.find(text.back());
    unsigned unused_bits = text.size() % 4 == 2 ? 4 : 2;
    if ((last & ((1u << unused_bits) - 1)) != 0) return std::nullopt;
  }
  return fhir::base64_decode(text, true);
}

std::optional<jws_parts> split_jws(std::string_view token) {
  std::size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  std::size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
  return jws_parts{token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1),
                   token.substr(0, second)};
}

std::size_t jwt_verifier::digest_hash::operator()(const digest& d) const {
  std::size_t h;
  std::memcpy(&h, d.data(), sizeof h);  // a cryptographic digest: any eight bytes are uniform
  return h;
}

jwt_verifier::jwt_verifier(jwt_options options, std::shared_ptr<const key_set> keys)
    : options_(std::move(options)), keys_(std::move(keys)) {}

void jwt_verifier::replace_keys(std::shared_ptr<const key_set> keys) {
  std::unique_lock lock(mutex_);
  keys_ = std::move(keys);
  cache_.clear();
}

fhir::result<std::shared_ptr<const claims>> jwt_verifier::verify(std::string_view token, std::int64_t now_s) const {
  if (token.empty() || token.size() > max_token_size) return rejected("The bearer token is empty or too large");
  digest key;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), key.data());
  std::shared_ptr<const key_set> keys;
  {
    std::shared_lock lock(mutex_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      // Cached: its signature and claims were checked; only the clock can have moved since.
      if (auto times = check_times(*it->second, now_s); !times) return std::move(times).error();
      return it->second;
    }
    keys = keys_;
  }
  auto verified = verify_uncached(token, now_s, *keys);
  if (!verified) return verified;
  std::unique_lock lock(mutex_);
  if (keys != keys_) return verified;  // the keys changed meanwhile: do not cache under the new set
  if (cache_.size() >= options_.cache_capacity) {
    std::erase_if(cache_, [&](const auto& entry) { return entry.second->expires + options_.skew_s < now_s; });
    if (cache_.size() >= options_.cache_capacity) cache_.clear();
  }
  cache_.emplace(key, *verified);
  return verified;
}

fhir::result<fhir::done> jwt_verifier::check_times(const claims& c, std::int64_t now_s) const {
  if (c.expires + options_.skew_s < now_s) return rejected("The token has expired", "token-expired");
  if (c.not_before && *c.not_before - options_.skew_s > now_s) return rejected("The token is not valid yet (nbf)");
  if (c.issued_at - options_.skew_s > now_s) return rejected("The token was issued in the future (iat)");
  return fhir::done{};
}

fhir::result<std::shared_ptr<const claims>> jwt_verifier::verify_uncached(std::string_view token, std::int64_t now_s,
                                                                          const key_set& keys) const {
  auto parts = split_jws(token);
  if (!parts) return rejected("The bearer token is not a JWT (three base64url parts separated by dots)");
  auto header_text = decode_base64url(parts->header);
  auto payload_text = decode_base64url(parts->payload);
  auto signature = decode_base64url(parts->signature);
  if (!header_text || !payload_text || !signature) return rejected("The token's parts are not base64url");
  auto header = fhir::json::parse(*header_text, token_json);
  if (!header || !header->is_object()) return rejected("The token's header is not a JSON object");
  if (repeats_a_member(*header)) return rejected("The token's header names a parameter twice");

  const std::string* alg_name = header->find_string("alg");
  auto alg = alg_name ? parse_algorithm(*alg_name) : std::nullopt;
  if (!alg)
    return rejected(fmt::format("The token's algorithm '{}' is not accepted (RS256, PS256 and ES256 are)",
                                alg_name ? std::string_view(*alg_name).substr(0, 20) : "(none)"),
                    "token-algorithm");
  if (header->find("crit")) return rejected("The token has critical header parameters this server does not understand");
  const std::string* kid = header->find_string("kid");
  const verification_key* key = kid ? keys.find(*kid) : nullptr;
  if (!key) return rejected("The token's kid names no key of this server's JWKS", "token-key-unknown");
  if (!algorithm_uses(*alg, key->type) || (key->alg && *key->alg != *alg))
    return rejected("The token's algorithm does not match its key", "token-algorithm");
  if (!auth::verify(*key, *alg, parts->signing_input, *signature))
    return rejected("The token's signature does not verify", "token-signature");

  auto payload = fhir::json::parse(*payload_text, token_json);
  if (!payload) return rejected("The token's payload is not JSON");
  auto read = read_claims(*payload);
  if (!read) return std::move(read).error();
  auto c = std::make_shared<claims>(std::move(*read));

  if (std::find(options_.issuers.begin(), options_.issuers.end(), c->issuer) == options_.issuers.end())
    return rejected("The token's issuer is not trusted by this server", "token-issuer");
  if (key->issuer && *key->issuer != c->issuer) return rejected("The token's key belongs to another issuer", "token-issuer");
  if (std::find(c->audience.begin(), c->audience.end(), options_.audience) == c->audience.end())
    return rejected(fmt::format("The token is not for this server (aud must include {})", options_.audience), "token-audience");
  if (!payload->find("exp") || !payload->find("iat")) return rejected("The token must have exp and iat claims");
  if (c->jti.empty()) return rejected("The token must have a jti claim", "token-jti");
  if (auto times = check_times(*c, now_s); !times) return std::move(times).error();
  return std::shared_ptr<const claims>(std::move(c));
}

}  // namespace server::auth
