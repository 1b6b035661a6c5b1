#include "server/auth/claims.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace server::auth {
namespace {

fhir::error malformed(std::string_view claim, std::string_view expected) {
  return fhir::error(fhir::error_kind::unauthenticated, fhir::issue_type::login,
                     fmt::format("The token's '{}' claim must be {}", claim, expected), "token-claim-malformed");
}

// NumericDate: seconds since the epoch, possibly with a fraction (RFC 7519 2).
std::optional<std::int64_t> numeric_date(const fhir::json::value& v) {
  if (!v.is_number()) return std::nullopt;
  const std::string& text = v.as_number().text;
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(seconds) || seconds < 0 || seconds > 1e15)
    return std::nullopt;
  return static_cast<std::int64_t>(seconds);
}

fhir::result<fhir::done> read_string(const fhir::json::value& payload, std::string_view name, std::string& out) {
  const fhir::json::value* v = payload.find(name);
  if (!v) return fhir::done{};
  if (!v->is_string()) return malformed(name, "a string");
  out = v->as_string();
  return fhir::done{};
}

fhir::result<fhir::done> read_strings(const fhir::json::value& v, std::string_view name, std::vector<std::string>& out,
                                      bool single_allowed) {
  if (single_allowed && v.is_string()) {
    out.push_back(v.as_string());
    return fhir::done{};
  }
  if (!v.is_array()) return malformed(name, single_allowed ? "a string or an array of strings" : "an array of strings");
  for (const fhir::json::value& item : v.as_array()) {
    if (!item.is_string()) return malformed(name, "an array of strings");
    out.push_back(item.as_string());
  }
  return fhir::done{};
}

fhir::result<nhs_role> read_role(const fhir::json::value& v) {
  if (!v.is_object()) return malformed("nhs_role", "an object");
  nhs_role role;
  if (auto ok = read_string(v, "person_roleid", role.person_roleid); !ok) return std::move(ok).error();
  if (auto ok = read_string(v, "role_code", role.role_code); !ok) return std::move(ok).error();
  if (const fhir::json::value* codes = v.find("activity_codes"))
    if (auto ok = read_strings(*codes, "nhs_role.activity_codes", role.activity_codes, false); !ok) return std::move(ok).error();
  return role;
}

}  // namespace

bool repeats_a_member(const fhir::json::value& object) {
  // Token JSON is parsed with a small value limit, so the quadratic scan stays small.
  const auto& members = object.as_object();
  for (std::size_t i = 0; i < members.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (members[i].key == members[j].key) return true;
  return false;
}

fhir::result<claims> read_claims(const fhir::json::value& payload) {
  if (!payload.is_object()) return malformed("payload", "a JSON object");
  if (repeats_a_member(payload)) return malformed("payload", "an object naming each claim once");
  claims c;
  struct text_claim {
    std::string_view name;
    std::string claims::*member;
  };
  static constexpr text_claim texts[] = {{"iss", &claims::issuer},     {"sub", &claims::subject},
                                         {"client_id", &claims::client_id}, {"fhirUser", &claims::fhir_user},
                                         {"jti", &claims::jti},        {"scope", &claims::scope},
                                         {"org_ods", &claims::org_ods}, {"patient", &claims::patient}};
  for (const text_claim& t : texts)
    if (auto ok = read_string(payload, t.name, c.*t.member); !ok) return std::move(ok).error();
  if (const fhir::json::value* aud = payload.find("aud"))
    if (auto ok = read_strings(*aud, "aud", c.audience, true); !ok) return std::move(ok).error();
  if (const fhir::json::value* purposes = payload.find("purpose_of_use"))
    if (auto ok = read_strings(*purposes, "purpose_of_use", c.purposes, true); !ok) return std::move(ok).error();
  if (const fhir::json::value* role = payload.find("nhs_role")) {
    auto parsed = read_role(*role);
    if (!parsed) return std::move(parsed).error();
    c.roles.push_back(std::move(*parsed));
  }
  struct time_claim {
    std::string_view name;
    std::int64_t claims::*member;
  };
  for (const time_claim& t : {time_claim{"exp", &claims::expires}, time_claim{"iat", &claims::issued_at}})
    if (const fhir::json::value* v = payload.find(t.name)) {
      auto seconds = numeric_date(*v);
      if (!seconds) return malformed(t.name, "a NumericDate (seconds since 1970)");
      c.*t.member = *seconds;
    }
  if (const fhir::json::value* v = payload.find("nbf")) {
    c.not_before = numeric_date(*v);
    if (!c.not_before) return malformed("nbf", "a NumericDate (seconds since 1970)");
  }
  c.scopes = parse_scopes(c.scope);
  return c;
}

}  // namespace server::auth
