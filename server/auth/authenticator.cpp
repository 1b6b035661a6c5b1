#include "server/auth/authenticator.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/text.hpp"

namespace server::auth {
namespace {

constexpr std::string_view development_prefix = "dev.";
constexpr std::string_view development_organisation = "DEV";
// Without an X-Purpose-Of-Use header the development user, who may act for every purpose, acts for
// direct care (a token with several purposes and no header is otherwise a 400).
constexpr std::string_view development_default_purpose = "TREAT";

fhir::error unauthenticated(std::string diagnostics, std::string message_id) {
  return fhir::error(fhir::error_kind::unauthenticated, fhir::issue_type::login, std::move(diagnostics), std::move(message_id));
}

fhir::error purpose_refused(std::string diagnostics) {
  return fhir::error(fhir::error_kind::forbidden, fhir::issue_type::forbidden, std::move(diagnostics), "purpose-not-allowed");
}

// "Bearer <token>" (the scheme is case-insensitive, RFC 7235); nullopt for any other scheme.
std::optional<std::string_view> bearer_token(std::string_view header) {
  constexpr std::string_view scheme = "bearer ";
  if (header.size() <= scheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return std::nullopt;
  std::string_view token = header.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

fhir::result<std::shared_ptr<const claims>> development_token(std::string_view encoded) {
  auto text = decode_base64url(encoded);
  if (!text) return unauthenticated("The development token is not base64url", "token-invalid");
  auto payload = fhir::json::parse(*text, {.max_depth = 8, .max_values = 2'000});
  if (!payload) return unauthenticated("The development token is not JSON", "token-invalid");
  auto read = read_claims(*payload);
  if (!read) return std::move(read).error();
  read->development = true;
  return std::shared_ptr<const claims>(std::make_shared<claims>(std::move(*read)));
}

}  // namespace

fhir::error forbidden() {
  return fhir::error(fhir::error_kind::forbidden, fhir::issue_type::forbidden,
                     "The caller's role, purpose or scopes do not allow this interaction", "access-denied");
}

authenticator::authenticator(auth_mode mode, access_policy policy, std::shared_ptr<jwt_verifier> verifier,
                             std::function<bool(std::string_view)> patient_data)
    : mode_(mode), policy_(std::move(policy)), verifier_(std::move(verifier)), patient_data_(std::move(patient_data)) {}

std::shared_ptr<const claims> authenticator::development_user() {
  static const std::shared_ptr<const claims> user = [] {
    auto c = std::make_shared<claims>();
    c->issuer = "urn:shcr:development";
    c->subject = "development-user";
    c->client_id = "development";
    c->jti = "development";
    c->org_ods = std::string(development_organisation);
    c->scope = "user/*.cruds";
    c->scopes = parse_scopes(c->scope);
    c->roles = {nhs_role{"development-user-01", "R8000", {"B0083"}}, nhs_role{"development-user-02", "SHCR-CONSENT-ADMIN", {}},
                nhs_role{"development-user-03", "R0001", {}}};
    c->purposes = {"TREAT", "COC", "ETREAT", "PATADMIN", "HSYSADMIN", "RECORDMGT"};
    c->development = true;
    return c;
  }();
  return user;
}

fhir::result<std::shared_ptr<const claims>> authenticator::identify(std::optional<std::string_view> authorization,
                                                                    std::int64_t now_s) const {
  if (!authorization) {
    if (mode_ == auth_mode::dev) return development_user();
    return unauthenticated("This server needs a bearer token (Authorization: Bearer <JWT>)", "token-missing");
  }
  auto token = bearer_token(*authorization);
  if (!token) return unauthenticated("The Authorization header must be 'Bearer <token>'", "token-invalid");
  if (token->starts_with(development_prefix)) {
    if (mode_ != auth_mode::dev)
      return unauthenticated("Development tokens are accepted only by a server in development mode", "token-invalid");
    return development_token(token->substr(development_prefix.size()));
  }
  if (!verifier_) return unauthenticated("This development server has no JWKS: send a development token", "token-invalid");
  return verifier_->verify(*token, now_s);
}

fhir::result<caller> authenticator::authenticate(std::optional<std::string_view> authorization,
                                                 std::optional<std::string_view> purpose_header, std::int64_t now_s) const {
  auto token = identify(authorization, now_s);
  if (!token) return std::move(token).error();
  caller c;
  c.token = std::move(*token);
  const std::vector<std::string>& allowed = c.token->purposes;
  if (purpose_header) {
    if (std::find(allowed.begin(), allowed.end(), *purpose_header) == allowed.end())
      return purpose_refused(fmt::format("The token does not allow the purpose of use '{}'", fhir::utf8_prefix(*purpose_header, 40)));
    c.purpose = std::string(*purpose_header);
  } else if (allowed.size() == 1) {
    c.purpose = allowed.front();
  } else if (c.token.get() == development_user().get()) {
    c.purpose = std::string(development_default_purpose);
  } else if (allowed.empty()) {
    return purpose_refused("The token allows no purpose of use (claim purpose_of_use)");
  } else {
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::required,
                       "The token allows several purposes of use: say which applies with the X-Purpose-Of-Use header",
                       "purpose-ambiguous");
  }
  auto cls = policy_.class_of(c.purpose);
  if (!cls) return purpose_refused(fmt::format("'{}' is not a purpose of use this server knows", fhir::utf8_prefix(c.purpose, 40)));
  c.purpose_category = *cls;
  if (!c.token->org_ods.empty()) c.controller = policy_.controller_of(c.token->org_ods);
  return c;
}

bool authenticator::allowed(const caller& c, std::string_view type, operation op) const {
  scope_level level = c.patient_facing() ? scope_level::patient : c.token->roles.empty() ? scope_level::system : scope_level::user;
  bool patient_data = is_patient_data(type);
  return policy_.allows(*c.token, c.purpose, c.purpose_category, type, op, patient_data) &&
         scopes_allow(c.token->scopes, level, type, smart_permission(op));
}

fhir::result<fhir::done> authenticator::authorise(const caller& c, std::string_view type, operation op) const {
  if (!allowed(c, type, op)) return forbidden();
  return fhir::done{};
}

}  // namespace server::auth
