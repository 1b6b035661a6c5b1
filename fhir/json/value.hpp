#pragma once
// A JSON document model that keeps what FHIR JSON needs and Boost.JSON's own DOM drops:
//  - numbers keep their exact text (FHIR decimals are arbitrary precision: `1.50` stays `1.50`);
//  - objects keep member order and duplicate keys, so the validator can report duplicates as errors;
//  - null, empty strings, empty arrays and empty objects are representable, again so that the validator
//    (fhir/validation/json_rules.hpp) can report them with a FHIRPath location.
// Values are plain owning trees; copying copies the tree. Not thread-safe to mutate concurrently.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fhir::json {

enum class kind : std::uint8_t { null, boolean, number, string, array, object };

class value;
struct member;
using array = std::vector<value>;
using object = std::vector<member>;

// The exact lexical form of a JSON number, as it appeared in the source (or as a writer chose it).
struct number {
  std::string text;
  bool operator==(const number&) const = default;
  // True when the text has no fraction or exponent.
  bool is_integer() const;
};

class value {
 public:
  // Defined after `member` is complete: a constructor that initialises v_ instantiates the variant's
  // destructor, which clang (unlike g++) rejects while `member` is still incomplete.
  value() noexcept;
  value(std::nullptr_t) noexcept;
  value(bool b);
  value(number n);
  value(std::string s);
  value(std::string_view s);
  value(const char* s);
  value(array a);
  value(object o);

  static value integer(std::int64_t i);

  json::kind kind() const { return static_cast<json::kind>(v_.index()); }
  bool is_null() const { return kind() == kind::null; }
  bool is_bool() const { return kind() == kind::boolean; }
  bool is_number() const { return kind() == kind::number; }
  bool is_string() const { return kind() == kind::string; }
  bool is_array() const { return kind() == kind::array; }
  bool is_object() const { return kind() == kind::object; }

  // Accessors require the matching kind (checked by std::get: std::bad_variant_access otherwise).
  bool as_bool() const { return std::get<bool>(v_); }
  const json::number& as_number() const { return std::get<json::number>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  std::string& as_string() { return std::get<std::string>(v_); }
  const array& as_array() const { return std::get<array>(v_); }
  array& as_array() { return std::get<array>(v_); }
  const object& as_object() const { return std::get<object>(v_); }
  object& as_object() { return std::get<object>(v_); }

  // Object member lookup (first match); nullptr when absent or when this is not an object.
  const value* find(std::string_view key) const;
  value* find(std::string_view key);
  // The string member `key`, or nullptr when absent or not a string.
  const std::string* find_string(std::string_view key) const;

  // Sets member `key` (replacing the first existing one, else appending). Requires an object.
  value& set(std::string_view key, value v);
  // Inserts member `key` at `position` (or replaces it where it already is). Requires an object.
  value& set_at(std::size_t position, std::string_view key, value v);
  // Removes every member named `key`; returns how many were removed. Requires an object.
  std::size_t erase(std::string_view key);

  bool operator==(const value& other) const;

 private:
  // Index order matches json::kind.
  std::variant<std::monostate, bool, json::number, std::string, array, object> v_;
};

struct member {
  std::string key;
  json::value value;
  bool operator==(const member&) const = default;
};

inline value::value() noexcept = default;
inline value::value(std::nullptr_t) noexcept {}
inline value::value(bool b) : v_(b) {}
inline value::value(number n) : v_(std::move(n)) {}
inline value::value(std::string s) : v_(std::move(s)) {}
inline value::value(std::string_view s) : v_(std::string(s)) {}
inline value::value(const char* s) : v_(std::string(s)) {}
inline value::value(array a) : v_(std::move(a)) {}
inline value::value(object o) : v_(std::move(o)) {}

}  // namespace fhir::json
