#include "server/auth/keys.hpp"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "fhir/base64.hpp"
#include "fhir/file.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "server/auth/openssl_handles.hpp"

namespace server::auth {
namespace {

constexpr int minimum_rsa_bits = 2048;
constexpr std::size_t p256_coordinate_bytes = 32;

fhir::error invalid(std::string diagnostics, std::string message_id = "jwks-invalid") {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::security, std::move(diagnostics), std::move(message_id));
}

// A base64url member of a JWK, decoded; nullopt when absent or not base64url.
std::optional<std::string> key_bytes(const fhir::json::value& jwk, std::string_view name) {
  const std::string* text = jwk.find_string(name);
  if (!text || text->empty() || text->find('=') != std::string::npos) return std::nullopt;
  return fhir::base64_decode(*text, true);
}

openssl::bignum to_bignum(std::string_view bytes) {
  return openssl::bignum(BN_bin2bn(openssl::bytes(bytes), static_cast<int>(bytes.size()), nullptr));
}

pkey from_params(const char* type_name, OSSL_PARAM_BLD* builder) {
  openssl::params params(OSSL_PARAM_BLD_to_param(builder));
  openssl::pkey_ctx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type_name, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return nullptr;
  return pkey(key);
}

fhir::result<pkey> rsa_public_key(const fhir::json::value& jwk, std::string_view kid) {
  auto n = key_bytes(jwk, "n"), e = key_bytes(jwk, "e");
  if (!n || !e) return invalid(fmt::format("JWKS key '{}': an RSA key needs base64url members n and e", kid));
  openssl::bignum modulus = to_bignum(*n), exponent = to_bignum(*e);
  if (BN_num_bits(modulus.get()) < minimum_rsa_bits)
    return invalid(fmt::format("JWKS key '{}': RSA keys must have at least {} bits", kid, minimum_rsa_bits));
  openssl::param_builder builder(OSSL_PARAM_BLD_new());
  if (!builder || OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1)
    return invalid(fmt::format("JWKS key '{}': unusable RSA parameters", kid));
  pkey key = from_params("RSA", builder.get());
  // Rejects an even or trivial exponent and other malformed public keys.
  openssl::pkey_ctx check(key ? EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr) : nullptr);
  if (!key || !check || EVP_PKEY_public_check(check.get()) != 1)
    return invalid(fmt::format("JWKS key '{}': unusable RSA parameters", kid));
  return key;
}

fhir::result<pkey> p256_public_key(const fhir::json::value& jwk, std::string_view kid) {
  auto x = key_bytes(jwk, "x"), y = key_bytes(jwk, "y");
  if (!x || !y || x->size() != p256_coordinate_bytes || y->size() != p256_coordinate_bytes)
    return invalid(fmt::format("JWKS key '{}': a P-256 key needs base64url members x and y of 32 bytes", kid));
  std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed point
  openssl::param_builder builder(OSSL_PARAM_BLD_new());
  if (!builder || OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
    return invalid(fmt::format("JWKS key '{}': unusable EC parameters", kid));
  pkey key = from_params("EC", builder.get());
  // fromdata does not check that the point lies on the curve; a public-key check does.
  openssl::pkey_ctx check(key ? EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr) : nullptr);
  if (!key || !check || EVP_PKEY_public_check(check.get()) != 1)
    return invalid(fmt::format("JWKS key '{}': the point is not on the P-256 curve", kid));
  return key;
}

std::string bignum_member(const EVP_PKEY* key, const char* name, int pad_to) {
  BIGNUM* raw = nullptr;
  EVP_PKEY_get_bn_param(key, name, &raw);
  openssl::bignum value(raw);
  if (!value) return {};
  std::string bytes(static_cast<std::size_t>(pad_to > 0 ? pad_to : BN_num_bytes(value.get())), '\0');
  BN_bn2binpad(value.get(), reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  return fhir::base64url_encode(bytes);
}

}  // namespace

std::string_view to_string(algorithm a) {
  switch (a) {
    case algorithm::rs256: return "RS256";
    case algorithm::ps256: return "PS256";
    case algorithm::es256: return "ES256";
  }
  return "";
}

std::optional<algorithm> parse_algorithm(std::string_view name) {
  if (name == "RS256") return algorithm::rs256;
  if (name == "PS256") return algorithm::ps256;
  if (name == "ES256") return algorithm::es256;
  return std::nullopt;
}

bool algorithm_uses(algorithm alg, key_type type) {
  return alg == algorithm::es256 ? type == key_type::ec_p256 : type == key_type::rsa;
}

void pkey_deleter::operator()(evp_pkey_st* key) const { EVP_PKEY_free(key); }

fhir::result<std::shared_ptr<const key_set>> key_set::parse(std::string_view jwks) {
  auto doc = fhir::json::parse(jwks);
  if (!doc) return invalid(fmt::format("The JWKS is not valid JSON: {}", doc.error().summary()));
  const fhir::json::value* keys = doc->find("keys");
  if (!keys || !keys->is_array()) return invalid("The JWKS has no \"keys\" array");
  auto set = std::make_shared<key_set>();
  for (const fhir::json::value& jwk : keys->as_array()) {
    if (!jwk.is_object()) return invalid("A JWKS key is not a JSON object");
    const std::string* kid = jwk.find_string("kid");
    if (!kid || kid->empty()) return invalid("A JWKS key has no kid: tokens choose their key by kid");
    if (set->find(*kid)) return invalid(fmt::format("Two JWKS keys have the kid '{}'", *kid));
    if (const std::string* use = jwk.find_string("use"); use && *use != "sig") continue;
    const std::string* kty = jwk.find_string("kty");
    verification_key key{*kid, key_type::rsa, std::nullopt, nullptr};
    if (const std::string* alg = jwk.find_string("alg")) {
      key.alg = parse_algorithm(*alg);
      if (!key.alg) continue;  // a key for an algorithm we never accept is of no use
    }
    if (kty && *kty == "RSA") {
      auto public_key = rsa_public_key(jwk, *kid);
      if (!public_key) return std::move(public_key).error();
      key.key = std::move(*public_key);
    } else if (kty && *kty == "EC") {
      const std::string* crv = jwk.find_string("crv");
      if (!crv || *crv != "P-256") continue;
      key.type = key_type::ec_p256;
      auto public_key = p256_public_key(jwk, *kid);
      if (!public_key) return std::move(public_key).error();
      key.key = std::move(*public_key);
    } else {
      continue;
    }
    if (key.alg && !algorithm_uses(*key.alg, key.type))
      return invalid(fmt::format("JWKS key '{}': alg {} does not match its kty", *kid, to_string(*key.alg)));
    if (const fhir::json::value* issuer = jwk.find("issuer")) {
      if (!issuer->is_string() || issuer->as_string().empty())
        return invalid(fmt::format("JWKS key '{}': issuer must be a non-empty string (the issuer's URL, as in tokens' iss)", *kid));
      key.issuer = issuer->as_string();
    }
    set->keys_.push_back(std::move(key));
  }
  return std::shared_ptr<const key_set>(std::move(set));
}

fhir::result<std::shared_ptr<const key_set>> key_set::load(const std::string& path) {
  auto text = fhir::read_file(path);
  if (!text) return invalid(fmt::format("Cannot read the JWKS file '{}'", path), "jwks-unreadable");
  return parse(*text);
}

const verification_key* key_set::find(std::string_view kid) const {
  for (const verification_key& k : keys_)
    if (k.kid == kid) return &k;
  return nullptr;
}

fhir::result<signing_key> parse_signing_key(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  // No passphrase callback: an encrypted key fails instead of prompting on the terminal.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  pkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
  if (!key) return invalid("Not a PEM private key (an unencrypted PKCS#8, RSA or EC key is needed)", "key-invalid");
  if (EVP_PKEY_is_a(key.get(), "RSA")) {
    if (EVP_PKEY_get_bits(key.get()) < minimum_rsa_bits)
      return invalid(fmt::format("RSA signing keys must have at least {} bits", minimum_rsa_bits), "key-invalid");
    return signing_key{key_type::rsa, std::move(key)};
  }
  char group[64] = {};
  if (EVP_PKEY_is_a(key.get(), "EC") &&
      EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr) == 1 &&
      std::string_view(group) == "prime256v1")
    return signing_key{key_type::ec_p256, std::move(key)};
  return invalid("The key is neither RSA nor EC on P-256", "key-invalid");
}

fhir::result<signing_key> load_signing_key(const std::string& path) {
  auto text = fhir::read_file(path);
  if (!text) return invalid(fmt::format("Cannot read the key file '{}'", path), "key-unreadable");
  return parse_signing_key(*text);
}

std::string public_jwk(const signing_key& key, std::string_view kid, algorithm alg) {
  fhir::json::value jwk{fhir::json::object{}};
  if (key.type == key_type::rsa) {
    jwk.set("kty", "RSA");
    jwk.set("n", bignum_member(key.key.get(), OSSL_PKEY_PARAM_RSA_N, 0));
    jwk.set("e", bignum_member(key.key.get(), OSSL_PKEY_PARAM_RSA_E, 0));
  } else {
    jwk.set("kty", "EC");
    jwk.set("crv", "P-256");
    jwk.set("x", bignum_member(key.key.get(), OSSL_PKEY_PARAM_EC_PUB_X, p256_coordinate_bytes));
    jwk.set("y", bignum_member(key.key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, p256_coordinate_bytes));
  }
  jwk.set("kid", kid);
  jwk.set("use", "sig");
  jwk.set("alg", to_string(alg));
  return fhir::json::serialize(jwk);
}

namespace {

// Prepares `ctx` for `alg` once EVP_Digest{Sign,Verify}Init has set up `pctx`.
bool set_padding(EVP_PKEY_CTX* pctx, algorithm alg) {
  if (alg != algorithm::ps256) return true;
  // RFC 7518 3.5: MGF1 with SHA-256 and a salt as long as the hash.
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
}

}  // namespace

std::string sign(const signing_key& key, algorithm alg, std::string_view input) {
  openssl::md_ctx md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  std::size_t length = 0;
  if (!md || !algorithm_uses(alg, key.type) || EVP_DigestSignInit(md.get(), &pctx, EVP_sha256(), nullptr, key.key.get()) != 1 ||
      !set_padding(pctx, alg) || EVP_DigestSign(md.get(), nullptr, &length, openssl::bytes(input), input.size()) != 1)
    return {};
  std::string signature(length, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, openssl::bytes(input), input.size()) != 1)
    return {};
  signature.resize(length);
  if (alg != algorithm::es256) return signature;
  // OpenSSL writes ECDSA signatures as DER; JWS wants r and s as two 32-byte big-endian numbers.
  const unsigned char* der = openssl::bytes(signature);
  openssl::ecdsa_signature parsed(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size())));
  if (!parsed) return {};
  std::string raw(2 * p256_coordinate_bytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(parsed.get()), out, p256_coordinate_bytes);
  BN_bn2binpad(ECDSA_SIG_get0_s(parsed.get()), out + p256_coordinate_bytes, p256_coordinate_bytes);
  return raw;
}

bool verify(const verification_key& key, algorithm alg, std::string_view input, std::string_view signature) {
  if (!algorithm_uses(alg, key.type)) return false;
  openssl::openssl_bytes der_owner;
  std::string_view checked = signature;
  if (alg == algorithm::es256) {
    if (signature.size() != 2 * p256_coordinate_bytes) return false;
    openssl::ecdsa_signature parsed(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(openssl::bytes(signature), p256_coordinate_bytes, nullptr);
    BIGNUM* s = BN_bin2bn(openssl::bytes(signature) + p256_coordinate_bytes, p256_coordinate_bytes, nullptr);
    if (!parsed || !r || !s || ECDSA_SIG_set0(parsed.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    unsigned char* der = nullptr;
    int length = i2d_ECDSA_SIG(parsed.get(), &der);
    if (length <= 0) return false;
    der_owner.reset(der);
    checked = std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  }
  openssl::md_ctx md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  return md && EVP_DigestVerifyInit(md.get(), &pctx, EVP_sha256(), nullptr, key.key.get()) == 1 && set_padding(pctx, alg) &&
         EVP_DigestVerify(md.get(), openssl::bytes(checked), checked.size(), openssl::bytes(input), input.size()) == 1;
}

}  // namespace server::auth
