#include "fhir/search/normalize.hpp"

#include <cstdint>

namespace fhir::search {

namespace {

using namespace std::literals;

// Base letters for U+00C0..U+017F (lower case; '\0' where the character is not a letter to fold).
// Ligatures (ß, æ, œ, ĳ, þ) are spelled out in append_folded(). The `sv` literals keep the '\0's.
constexpr std::string_view latin_1_supplement =  // U+00C0..U+00FF
    "aaaaaa\0ceeeeiiii"  // U+00C0: À Á Â Ã Ä Å Æ Ç È É Ê Ë Ì Í Î Ï
    "dnooooo\0ouuuuy\0\0"  // U+00D0: Ð Ñ Ò Ó Ô Õ Ö × Ø Ù Ú Û Ü Ý Þ ß
    "aaaaaa\0ceeeeiiii"  // U+00E0: à á â ã ä å æ ç è é ê ë ì í î ï
    "dnooooo\0ouuuuy\0y"sv;  // U+00F0: ð ñ ò ó ô õ ö ÷ ø ù ú û ü ý þ ÿ
constexpr std::string_view latin_extended_a =  // U+0100..U+017F
    "aaaaaaccccccccdd"  // U+0100: Ā ā Ă ă Ą ą Ć ć Ĉ ĉ Ċ ċ Č č Ď ď
    "ddeeeeeeeeeegggg"  // U+0110: Đ đ Ē ē Ĕ ĕ Ė ė Ę ę Ě ě Ĝ ĝ Ğ ğ
    "gggghhhhiiiiiiii"  // U+0120: Ġ ġ Ģ ģ Ĥ ĥ Ħ ħ Ĩ ĩ Ī ī Ĭ ĭ Į į
    "ii\0\0jjkkklllllll"  // U+0130: İ ı Ĳ ĳ Ĵ ĵ Ķ ķ ĸ Ĺ ĺ Ļ ļ Ľ ľ Ŀ
    "lllnnnnnnnnnoooo"  // U+0140: ŀ Ł ł Ń ń Ņ ņ Ň ň ŉ Ŋ ŋ Ō ō Ŏ ŏ
    "oo\0\0rrrrrrssssss"  // U+0150: Ő ő Œ œ Ŕ ŕ Ŗ ŗ Ř ř Ś ś Ŝ ŝ Ş ş
    "ssttttttuuuuuuuu"  // U+0160: Š š Ţ ţ Ť ť Ŧ ŧ Ũ ũ Ū ū Ŭ ŭ Ů ů
    "uuuuwwyyyzzzzzzs"sv;  // U+0170: Ű ű Ų ų Ŵ ŵ Ŷ ŷ Ÿ Ź ź Ż ż Ž ž ſ

// Decodes the UTF-8 sequence at `i`: its code point and length. Bytes that do not start a valid
// sequence come back as one-byte "code points" >= 0x80 that no table folds, so they are kept as they are.
std::uint32_t next_code_point(std::string_view s, std::size_t i, std::size_t& length) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto continuation = [&](std::size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
  unsigned char c = byte(i);
  length = 1;
  if (c < 0x80) return c;
  std::size_t n = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (n == 0) return 0xFFFFFFFF;
  for (std::size_t k = 1; k < n; ++k)
    if (!continuation(i + k)) return 0xFFFFFFFF;
  length = n;
  std::uint32_t cp = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (byte(i + k) & 0x3Fu);
  return cp;
}

void append_folded(std::string& out, std::uint32_t cp, std::string_view original) {
  if (cp < 0x80) {
    out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp);
    return;
  }
  if (cp == 0xDF) { out += "ss"; return; }                  // ß
  if (cp == 0xC6 || cp == 0xE6) { out += "ae"; return; }    // Æ æ
  if (cp == 0x152 || cp == 0x153) { out += "oe"; return; }  // Œ œ
  if (cp == 0xDE || cp == 0xFE) { out += "th"; return; }    // Þ þ
  if (cp == 0x132 || cp == 0x133) { out += "ij"; return; }  // Ĳ ĳ
  char base = 0;
  if (cp >= 0xC0 && cp <= 0xFF) base = latin_1_supplement[cp - 0xC0];
  else if (cp >= 0x100 && cp <= 0x17F) base = latin_extended_a[cp - 0x100];
  if (base) out += base;
  else out += original;
}

}  // namespace

std::string normalize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t length = 1;
    std::uint32_t cp = next_code_point(text, i, length);  // 0xFFFFFFFF: not UTF-8, kept as is
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') {
      pending_space = !out.empty();
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      append_folded(out, cp, text.substr(i, length));
    }
    i += length;
  }
  return out;
}

std::string prefix_upper_bound(std::string_view prefix) {
  std::string out(prefix);
  while (!out.empty()) {
    auto last = static_cast<unsigned char>(out.back());
    if (last < 0xFF) {
      out.back() = static_cast<char>(last + 1);
      return out;
    }
    out.pop_back();
  }
  return out;
}

}  // namespace fhir::search
