#include "fhir/json/value.hpp"

#include <algorithm>

namespace fhir::json {

bool number::is_integer() const {
  return text.find_first_of(".eE") == std::string::npos;
}

value value::integer(std::int64_t i) { return value(json::number{std::to_string(i)}); }

const value* value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  // Reject on length and first character inline: most members differ there, and memcmp is a call.
  for (const member& m : as_object())
    if (m.key.size() == key.size() && (key.empty() || (m.key[0] == key[0] && m.key == key))) return &m.value;
  return nullptr;
}

value* value::find(std::string_view key) {
  return const_cast<value*>(static_cast<const value&>(*this).find(key));
}

const std::string* value::find_string(std::string_view key) const {
  const value* v = find(key);
  return v && v->is_string() ? &v->as_string() : nullptr;
}

value& value::set(std::string_view key, value v) {
  object& o = as_object();
  for (member& m : o)
    if (m.key == key) return m.value = std::move(v);
  o.push_back(member{std::string(key), std::move(v)});
  return o.back().value;
}

value& value::set_at(std::size_t position, std::string_view key, value v) {
  if (value* existing = find(key)) return *existing = std::move(v);
  object& o = as_object();
  position = std::min(position, o.size());
  auto it = o.insert(o.begin() + static_cast<std::ptrdiff_t>(position), member{std::string(key), std::move(v)});
  return it->value;
}

std::size_t value::erase(std::string_view key) {
  object& o = as_object();
  return std::erase_if(o, [&](const member& m) { return m.key == key; });
}

bool value::operator==(const value& other) const { return v_ == other.v_; }

}  // namespace fhir::json
