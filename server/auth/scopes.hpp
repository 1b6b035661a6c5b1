#pragma once
// SMART App Launch scopes (v2: `user/Observation.cruds`, `patient/*.rs`; v1: `user/*.read`,
// `system/Patient.write`, `patient/*.*`) parsed into what they permit. Scopes with v2 query constraints
// (`patient/Observation.rs?category=...`) are not supported and grant nothing (fail closed), as do
// malformed ones; `openid`, `fhirUser`, `launch`, `offline_access` carry no resource permissions.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace server::auth {

enum class scope_level { patient, user, system };

// One SMART permission letter.
enum class permission : std::uint8_t { create = 1, read = 2, update = 4, remove = 8, search = 16 };

struct smart_scope {
  scope_level level;
  std::string type;  // a resource type or "*"
  std::uint8_t permissions = 0;

  bool grants(permission p) const { return (permissions & static_cast<std::uint8_t>(p)) != 0; }
};

std::vector<smart_scope> parse_scopes(std::string_view text);

// True when some scope of `level` grants `p` on `type` (a scope on "*" covers every type).
bool scopes_allow(const std::vector<smart_scope>& scopes, scope_level level, std::string_view type, permission p);

}  // namespace server::auth
