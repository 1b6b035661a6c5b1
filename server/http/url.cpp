#include "server/http/url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <fmt/format.h>

namespace server::http {

namespace {

// Characters RFC 3986 does not allow in a query but that FHIR clients send unencoded all the time
// (`code=http://loinc.org|8867-4`, curl without --data-urlencode): encoded before parsing, as HAPI
// and browsers accept them. Bytes >= 0x80 (raw UTF-8) likewise.
std::string encode_lenient(std::string_view text) {
  static constexpr std::string_view lenient = "|\"<>\\^`{}[] ";
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80 || lenient.find(ch) != std::string_view::npos) {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xF]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

}  // namespace

fhir::result<target> parse_target(std::string_view raw) {
  std::string text = encode_lenient(raw);
  auto parsed = boost::urls::parse_origin_form(text);
  if (!parsed)
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::structure,
                       fmt::format("The request target is not a valid URL path: {}", parsed.error().message()),
                       "url-invalid");
  const boost::urls::url_view& url = *parsed;
  target out;
  for (auto segment : url.segments()) out.segments.push_back(std::string(segment));
  if (!out.segments.empty() && out.segments.back().empty()) out.segments.pop_back();
  boost::urls::encoding_opts options;
  options.space_as_plus = false;  // FHIR clients often leave '+' of a time zone unencoded
  for (auto param : url.params(options)) out.params.emplace_back(std::string(param.key), std::string(param.value));
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xF]);
    }
  }
  return out;
}

std::string encode_query(const query_params& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += percent_encode(key);
    out.push_back('=');
    out += percent_encode(value);
  }
  return out;
}

std::optional<std::string> base_url_of(std::string_view text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return std::nullopt;
  boost::urls::url u(*parsed);
  if (!u.has_authority() || u.host().empty() || u.has_userinfo() || u.has_query() || u.has_fragment()) return std::nullopt;
  u.normalize_scheme();
  if (u.scheme() != "http" && u.scheme() != "https") return std::nullopt;
  std::string out(u.buffer());
  while (out.ends_with('/')) out.pop_back();
  return out;
}

}  // namespace server::http
