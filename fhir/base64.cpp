#include "fhir/base64.hpp"

#include <cstdint>
#include <cstring>

namespace fhir {
namespace {

constexpr char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string base64_encode(std::string_view data, bool url) {
  auto symbol = [url](std::uint32_t index) {
    char c = base64_alphabet[index & 0x3F];
    if (url && c == '+') return '-';
    if (url && c == '/') return '_';
    return c;
  };
  auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])); };
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int k = 0; k < 4; ++k) out.push_back(symbol(n >> (18 - 6 * k)));
  }
  std::size_t rest = data.size() - i;
  if (rest == 1) {
    std::uint32_t n = byte(i) << 16;
    out.push_back(symbol(n >> 18));
    out.push_back(symbol(n >> 12));
    out += "==";
  } else if (rest == 2) {
    std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8;
    out.push_back(symbol(n >> 18));
    out.push_back(symbol(n >> 12));
    out.push_back(symbol(n >> 6));
    out.push_back('=');
  }
  return out;
}

std::string base64url_encode(std::string_view data) {
  std::string out = base64_encode(data, true);
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::optional<std::string> base64_decode(std::string_view text, bool url) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    if (url && c == '-') c = '+';
    if (url && c == '_') c = '/';
    const char* p = std::strchr(base64_alphabet, c);
    if (!p || c == '\0') return std::nullopt;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(p - base64_alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}


}  // namespace fhir
