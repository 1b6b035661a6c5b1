#include "server/bundle/bundle_text.hpp"

namespace server::bundle {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view t, std::size_t i) {
  while (i < t.size() && is_space(t[i])) ++i;
  return i;
}

// The end of the string starting at t[i] == '"' (one past the closing quote), or npos.
std::size_t end_of_string(std::string_view t, std::size_t i) {
  for (++i; i < t.size(); ++i) {
    if (t[i] == '\\') ++i;
    else if (t[i] == '"') return i + 1;
  }
  return std::string_view::npos;
}

// The end of the value starting at t[i] (one past it), or npos. Objects and arrays are skipped by
// counting brackets outside strings; their well-formedness is left to the parser.
std::size_t end_of_value(std::string_view t, std::size_t i) {
  if (i >= t.size()) return std::string_view::npos;
  if (t[i] == '"') return end_of_string(t, i);
  if (t[i] == '{' || t[i] == '[') {
    std::size_t depth = 0;
    for (; i < t.size(); ++i) {
      char c = t[i];
      if (c == '"') {
        i = end_of_string(t, i);
        if (i == std::string_view::npos) return i;
        --i;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
    }
    return std::string_view::npos;
  }
  while (i < t.size() && t[i] != ',' && t[i] != '}' && t[i] != ']' && !is_space(t[i])) ++i;
  return i;
}

}  // namespace

std::optional<bundle_text> split_bundle(std::string_view t, std::size_t max_entries) {
  std::size_t i = skip_space(t, 0);
  if (i >= t.size() || t[i] != '{') return std::nullopt;
  i = skip_space(t, i + 1);
  while (i < t.size() && t[i] != '}') {
    if (t[i] != '"') return std::nullopt;
    std::size_t key_end = end_of_string(t, i);
    if (key_end == std::string_view::npos) return std::nullopt;
    std::string_view key = t.substr(i + 1, key_end - i - 2);
    i = skip_space(t, key_end);
    if (i >= t.size() || t[i] != ':') return std::nullopt;
    std::size_t value_start = skip_space(t, i + 1);
    std::size_t value_end = end_of_value(t, value_start);
    if (value_end == std::string_view::npos) return std::nullopt;
    if (key == "entry" && t[value_start] == '[') {
      bundle_text out;
      for (std::size_t j = skip_space(t, value_start + 1); j < value_end - 1;) {
        std::size_t element_end = end_of_value(t, j);
        if (element_end == std::string_view::npos || element_end > value_end - 1) return std::nullopt;
        out.entries.push_back(t.substr(j, element_end - j));
        if (out.entries.size() > max_entries) return out;  // the caller refuses the Bundle
        j = skip_space(t, element_end);
        if (j < value_end - 1) {
          if (t[j] != ',') return std::nullopt;
          j = skip_space(t, j + 1);
          if (j >= value_end - 1) return std::nullopt;  // a trailing comma: let the parser report it
        }
      }
      out.skeleton.reserve(t.size() - (value_end - value_start) + 2);
      out.skeleton.append(t.substr(0, value_start)).append("[]").append(t.substr(value_end));
      return out;
    }
    i = skip_space(t, value_end);
    if (i < t.size() && t[i] == ',') i = skip_space(t, i + 1);
  }
  return bundle_text{std::string(t), {}};
}

}  // namespace server::bundle
