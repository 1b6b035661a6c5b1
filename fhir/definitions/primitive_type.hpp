#pragma once
// The lexical rules of one FHIR primitive type, read from its StructureDefinition: the JSON form it takes,
// the `regex` extension of its `value` element, and the maxLength / minValueInteger / maxValueInteger
// facets (inherited along baseDefinition, so `code` gets string's 1 MB limit and `positiveInt` integer's
// 32-bit range).
//
// Regexes run on RE2, whose matching time is linear in the input: the R4 regexes include patterns such as
// base64Binary's `(\s*([0-9a-zA-Z\+/=]){4}\s*)+` that a backtracking engine can take exponential time on.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace fhir::definitions {

// How a primitive appears in JSON (json.html#primitive).
enum class json_form { boolean, number, string };

class primitive_type {
 public:
  // Throws std::invalid_argument when `regex` is not a valid RE2 pattern (a defect in the definitions).
  primitive_type(std::string code, json_form form, const std::string& regex, bool is_temporal,
                 std::optional<std::size_t> max_length, std::optional<std::int64_t> min_value,
                 std::optional<std::int64_t> max_value);
  ~primitive_type();
  primitive_type(primitive_type&&) noexcept;

  const std::string& code() const { return code_; }
  json_form form() const { return form_; }
  // True when the value is a date, dateTime or instant, whose calendar fields must also be valid.
  bool is_temporal() const { return is_temporal_; }
  std::optional<std::size_t> max_length() const { return max_length_; }
  std::optional<std::int64_t> min_value() const { return min_value_; }
  std::optional<std::int64_t> max_value() const { return max_value_; }
  bool has_regex() const { return regex_ != nullptr; }
  const std::string& regex_pattern() const { return pattern_; }

  // True when `text` matches the whole regex (true when the type has none). Thread-safe.
  bool matches_regex(std::string_view text) const;

 private:
  std::string code_;
  json_form form_;
  std::string pattern_;
  std::unique_ptr<re2::RE2> regex_;
  bool is_temporal_;
  std::optional<std::size_t> max_length_;
  std::optional<std::int64_t> min_value_, max_value_;
};

}  // namespace fhir::definitions
