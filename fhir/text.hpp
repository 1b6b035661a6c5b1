#pragma once
// UTF-8 helpers for text the server writes: diagnostics that quote client input must stay valid UTF-8
// even when the input was cut short or was not UTF-8 to begin with.

#include <cstddef>
#include <string>
#include <string_view>

namespace fhir {

// The longest prefix of `s` of at most `max_bytes` bytes that does not split a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes);

// The length of the valid UTF-8 sequence starting at s[0] (1-4), or 0 when it is not valid UTF-8
// (bad lead byte, bad continuation, overlong form, surrogate, or beyond U+10FFFF).
std::size_t utf8_sequence_length(std::string_view s);

// The number of characters (code points) of UTF-8 text: maxLength counts characters, not bytes.
inline std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Appends `part` as `<length>:<part>`: a sequence of parts encoded so no choice of values makes two
// different sequences equal (cache keys, MAC inputs).
inline void append_length_prefixed(std::string& out, std::string_view part) {
  out.append(std::to_string(part.size())).append(1, ':').append(part);
}

}  // namespace fhir
