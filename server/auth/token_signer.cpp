#include "server/auth/token_signer.hpp"

#include <charconv>

#include "fhir/base64.hpp"
#include "fhir/json/serialize.hpp"
#include "store/id_generator.hpp"

namespace server::auth {
algorithm default_algorithm(const signing_key& key) { return key.type == key_type::rsa ? algorithm::rs256 : algorithm::es256; }

fhir::result<std::string> mint_token(const signing_key& key, fhir::json::value claims, const token_request& request) {
  if (!claims.is_object())
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, "The claims must be a JSON object", "claims-invalid");
  if (!algorithm_uses(request.alg, key.type))
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, "The algorithm does not fit the key", "key-invalid");
  std::int64_t iat = request.now_s;
  if (const fhir::json::value* given = claims.find("iat"); given && given->is_number()) {
    const std::string& text = given->as_number().text;
    double seconds = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size())
      return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, "iat must be a number of seconds", "claims-invalid");
    iat = static_cast<std::int64_t>(seconds);
  } else {
    claims.set("iat", fhir::json::value::integer(iat));
  }
  if (!claims.find("exp")) claims.set("exp", fhir::json::value::integer(iat + request.lifetime_s));
  if (!claims.find("jti")) claims.set("jti", store::new_resource_id());
  fhir::json::value header{fhir::json::object{}};
  header.set("alg", to_string(request.alg));
  header.set("typ", "JWT");
  header.set("kid", request.kid);
  std::string input = fhir::base64url_encode(fhir::json::serialize(header)) + "." + fhir::base64url_encode(fhir::json::serialize(claims));
  std::string signature = sign(key, request.alg, input);
  if (signature.empty())
    return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, "Signing failed", "sign-failed");
  return input + "." + fhir::base64url_encode(signature);
}

std::string jwks_of(const signing_key& key, std::string_view kid, algorithm alg) {
  return "{\"keys\":[" + public_jwk(key, kid, alg) + "]}";
}

}  // namespace server::auth
