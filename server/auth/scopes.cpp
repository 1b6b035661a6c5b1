#include "server/auth/scopes.hpp"

#include <optional>

namespace server::auth {
namespace {

constexpr std::uint8_t bit(permission p) { return static_cast<std::uint8_t>(p); }

std::optional<scope_level> parse_level(std::string_view text) {
  if (text == "patient") return scope_level::patient;
  if (text == "user") return scope_level::user;
  if (text == "system") return scope_level::system;
  return std::nullopt;
}

// "cruds" in this order, each letter at most once, at least one; v1 "read", "write", "*".
std::optional<std::uint8_t> parse_permissions(std::string_view text) {
  if (text == "read") return bit(permission::read) | bit(permission::search);
  if (text == "write") return bit(permission::create) | bit(permission::update) | bit(permission::remove);
  if (text == "*") return bit(permission::create) | bit(permission::read) | bit(permission::update) | bit(permission::remove) |
                          bit(permission::search);
  constexpr std::string_view order = "cruds";
  constexpr permission bits[] = {permission::create, permission::read, permission::update, permission::remove, permission::search};
  std::uint8_t out = 0;
  std::size_t next = 0;
  for (char c : text) {
    std::size_t at = order.find(c, next);
    if (at == std::string_view::npos) return std::nullopt;  // unknown letter, repeated or out of order
    out |= bit(bits[at]);
    next = at + 1;
  }
  if (out == 0) return std::nullopt;
  return out;
}

bool is_type_name(std::string_view s) {
  if (s == "*") return true;
  if (s.empty() || s.front() < 'A' || s.front() > 'Z') return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

}  // namespace

std::vector<smart_scope> parse_scopes(std::string_view text) {
  std::vector<smart_scope> out;
  while (!text.empty()) {
    std::size_t space = text.find(' ');
    std::string_view token = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    std::size_t slash = token.find('/'), dot = token.rfind('.');
    if (slash == std::string_view::npos || dot == std::string_view::npos || dot < slash) continue;
    auto level = parse_level(token.substr(0, slash));
    std::string_view type = token.substr(slash + 1, dot - slash - 1);
    auto permissions = parse_permissions(token.substr(dot + 1));  // a '?' constraint fails here
    if (!level || !permissions || !is_type_name(type)) continue;
    out.push_back({*level, std::string(type), *permissions});
  }
  return out;
}

bool scopes_allow(const std::vector<smart_scope>& scopes, scope_level level, std::string_view type, permission p) {
  for (const smart_scope& s : scopes)
    if (s.level == level && (s.type == "*" || s.type == type) && s.grants(p)) return true;
  return false;
}

}  // namespace server::auth
