#include "fhir/validation/json_match.hpp"

#include <algorithm>

namespace fhir::validation {
namespace {

bool same_scalar(const json::value& a, const json::value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::null: return true;
    case json::kind::boolean: return a.as_bool() == b.as_bool();
    case json::kind::number: return a.as_number().text == b.as_number().text;
    case json::kind::string: return a.as_string() == b.as_string();
    default: return false;
  }
}

}  // namespace

bool matches_fixed(const json::value& instance, const json::value& fixed) {
  if (fixed.is_object()) {
    if (!instance.is_object() || instance.as_object().size() != fixed.as_object().size()) return false;
    return std::all_of(fixed.as_object().begin(), fixed.as_object().end(), [&](const json::member& m) {
      const json::value* v = instance.find(m.key);
      return v && matches_fixed(*v, m.value);
    });
  }
  if (fixed.is_array()) {
    if (!instance.is_array() || instance.as_array().size() != fixed.as_array().size()) return false;
    for (std::size_t i = 0; i < fixed.as_array().size(); ++i)
      if (!matches_fixed(instance.as_array()[i], fixed.as_array()[i])) return false;
    return true;
  }
  return same_scalar(instance, fixed);
}

bool matches_pattern(const json::value& instance, const json::value& pattern) {
  if (pattern.is_object()) {
    if (!instance.is_object()) return false;
    return std::all_of(pattern.as_object().begin(), pattern.as_object().end(), [&](const json::member& m) {
      const json::value* v = instance.find(m.key);
      return v && matches_pattern(*v, m.value);
    });
  }
  if (pattern.is_array()) {
    if (!instance.is_array()) return false;
    return std::all_of(pattern.as_array().begin(), pattern.as_array().end(), [&](const json::value& p) {
      return std::any_of(instance.as_array().begin(), instance.as_array().end(),
                         [&](const json::value& v) { return matches_pattern(v, p); });
    });
  }
  return same_scalar(instance, pattern);
}

}  // namespace fhir::validation
