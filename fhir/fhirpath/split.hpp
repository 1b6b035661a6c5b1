#pragma once
// Splitting FHIRPath text without parsing it: at a separator that is outside quotes ('...', "...",
// `...`) and brackets ((), [], {}). For the places that read the shape of an expression written in the
// definitions (slicing discriminator paths on '.', SearchParameter unions on '|').

#include <string_view>
#include <vector>

namespace fhir::fhirpath {

inline std::vector<std::string_view> split_top_level(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  int depth = 0;
  char quote = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote) {
      if (c == '\\') ++i;
      else if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"' || c == '`') {
      quote = c;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      --depth;
    } else if (c == separator && depth == 0) {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(text.substr(start));
  return out;
}

}  // namespace fhir::fhirpath
