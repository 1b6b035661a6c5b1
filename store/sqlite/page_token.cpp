#include "store/sqlite/page_token.hpp"

#include <array>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"

namespace store::sqlite {

namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view data) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : data) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += alphabet[(buffer >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += alphabet[(buffer << (6 - bits)) & 0x3F];
  return out;
}

std::optional<std::string> from_base64url(std::string_view text) {
  std::array<int, 256> value{};
  value.fill(-1);
  for (std::size_t i = 0; i < alphabet.size(); ++i) value[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : text) {
    if (value[c] < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value[c]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

std::optional<std::int64_t> integer_of(const fhir::json::value* v) {
  if (!v || !v->is_number() || !v->as_number().is_integer()) return std::nullopt;
  try {
    return std::stoll(v->as_number().text);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

std::string encode_position(const page_position& position, const std::string& query_hash) {
  fhir::json::array keys;
  for (const sql_value& k : position.keys) {
    fhir::json::object key;
    if (const auto* n = std::get_if<std::int64_t>(&k)) key.push_back({"i", fhir::json::value::integer(*n)});
    else if (const auto* d = std::get_if<double>(&k)) key.push_back({"r", fhir::json::value(fhir::json::number{fmt::format("{}", *d)})});
    else key.push_back({"s", fhir::json::value(std::get<std::string>(k))});
    keys.emplace_back(std::move(key));
  }
  fhir::json::object o;
  o.push_back({"q", fhir::json::value(query_hash)});
  o.push_back({"m", fhir::json::value::integer(position.max_pk)});
  o.push_back({"p", fhir::json::value::integer(position.pk)});
  o.push_back({"b", fhir::json::value(position.backwards)});
  o.push_back({"k", fhir::json::value(std::move(keys))});
  return base64url(fhir::json::serialize(fhir::json::value(std::move(o))));
}

std::optional<page_position> decode_page_token(const std::string& token, const std::string& query_hash) {
  auto text = from_base64url(token);
  if (!text) return std::nullopt;
  auto parsed = fhir::json::parse(*text);
  if (!parsed || !parsed->is_object()) return std::nullopt;
  const std::string* hash = parsed->find_string("q");
  auto max_pk = integer_of(parsed->find("m"));
  auto pk = integer_of(parsed->find("p"));
  const fhir::json::value* backwards = parsed->find("b");
  const fhir::json::value* keys = parsed->find("k");
  if (!hash || *hash != query_hash || !max_pk || !pk || !backwards || !backwards->is_bool() || !keys || !keys->is_array())
    return std::nullopt;
  page_position out{*max_pk, {}, *pk, backwards->as_bool(), true};
  for (const auto& k : keys->as_array()) {
    if (auto i = integer_of(k.find("i"))) out.keys.emplace_back(*i);
    else if (const auto* r = k.find("r"); r && r->is_number()) {
      try {
        out.keys.emplace_back(std::stod(r->as_number().text));
      } catch (...) {
        return std::nullopt;
      }
    }
    else if (const std::string* s = k.find_string("s")) out.keys.emplace_back(*s);
    else return std::nullopt;
  }
  return out;
}

fhir::result<std::int64_t> history_position(const std::string& token) {
  std::int64_t before = std::numeric_limits<std::int64_t>::max();
  if (token.empty()) return before;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), before);
  if (ec != std::errc() || end != token.data() + token.size() || before <= 0)
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, fmt::format("'{}' is not a valid history page token", token),
                       "page-token-invalid");
  return before;
}

}  // namespace store::sqlite
