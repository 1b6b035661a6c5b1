#include "fhir/definitions/primitive_type.hpp"

#include <stdexcept>

#include <re2/re2.h>

namespace fhir::definitions {

primitive_type::primitive_type(std::string code, json_form form, const std::string& regex, bool is_temporal,
                               std::optional<std::size_t> max_length, std::optional<std::int64_t> min_value,
                               std::optional<std::int64_t> max_value)
    : code_(std::move(code)),
      form_(form),
      pattern_(regex),
      is_temporal_(is_temporal),
      max_length_(max_length),
      min_value_(min_value),
      max_value_(max_value) {
  if (!regex.empty()) {
    RE2::Options options;
    options.set_log_errors(false);
    // Strings may be up to 1 MB; RE2's default 8 MB program budget is ample for these patterns, and its
    // DFA falls back to the NFA (still linear) if a pathological input exhausts the cache.
    regex_ = std::make_unique<re2::RE2>(regex, options);
    if (!regex_->ok())
      throw std::invalid_argument("regex of primitive type " + code_ + " does not compile: " + regex_->error());
  }
}

primitive_type::~primitive_type() = default;
primitive_type::primitive_type(primitive_type&&) noexcept = default;

bool primitive_type::matches_regex(std::string_view text) const {
  if (!regex_) return true;
  return RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *regex_);
}

}  // namespace fhir::definitions
