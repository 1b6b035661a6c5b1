#include "server/negotiation.hpp"

#include <array>
#include <charconv>

#include <fmt/format.h>

#include "server/http/message.hpp"

namespace server {
namespace {

std::string_view trim(std::string_view s) {
  auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

// Media types (and _format shorthands) that mean FHIR JSON. application/json+fhir is the DSTU2 name, still
// sent by older clients.
constexpr std::array<std::string_view, 5> json_names = {"application/fhir+json", "application/json",
                                                        "application/json+fhir", "json", "text/json"};

bool is_fhir_json(std::string_view media_type) {
  for (std::string_view name : json_names)
    if (http::iequals(media_type, name)) return true;
  return false;
}

// The media type of one Accept element, and whether its q parameter is above zero.
std::pair<std::string_view, bool> media_range(std::string_view element) {
  auto semicolon = element.find(';');
  std::string_view type = trim(element.substr(0, semicolon));
  bool accepted = true;
  while (semicolon != std::string_view::npos) {
    std::string_view rest = element.substr(semicolon + 1);
    auto next = rest.find(';');
    std::string_view parameter = trim(rest.substr(0, next));
    if (parameter.size() > 2 && (parameter[0] == 'q' || parameter[0] == 'Q') && parameter[1] == '=') {
      std::string_view q = parameter.substr(2);
      accepted = q.find_first_not_of("0.") != std::string_view::npos;  // "0", "0.0", "0.000" mean never
    }
    semicolon = next == std::string_view::npos ? next : semicolon + 1 + next;
  }
  return {type, accepted};
}

fhir::error not_acceptable(std::string_view what) {
  return fhir::error(fhir::error_kind::not_acceptable, fhir::issue_type::not_supported,
                     fmt::format("This server only produces FHIR JSON (application/fhir+json); {} asks for something else", what),
                     "format-not-acceptable");
}

}  // namespace

fhir::result<fhir::done> check_response_format(std::optional<std::string_view> format,
                                               std::optional<std::string_view> accept) {
  if (format) {
    std::string_view type = trim(format->substr(0, format->find(';')));
    if (is_fhir_json(type)) return fhir::done{};
    return not_acceptable(fmt::format("_format={}", *format));
  }
  if (!accept || trim(*accept).empty()) return fhir::done{};
  std::string_view rest = *accept;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto [type, accepted] = media_range(rest.substr(0, comma));
    if (accepted && (is_fhir_json(type) || type == "*/*" || http::iequals(type, "application/*"))) return fhir::done{};
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return not_acceptable(fmt::format("Accept: {}", *accept));
}

fhir::result<fhir::done> check_body_format(std::optional<std::string_view> content_type) {
  if (!content_type)
    return fhir::error(fhir::error_kind::unsupported_media_type, fhir::issue_type::not_supported,
                       "A request body needs a Content-Type: application/fhir+json", "content-type-missing");
  std::string_view value = *content_type;
  auto semicolon = value.find(';');
  std::string_view type = trim(value.substr(0, semicolon));
  if (!is_fhir_json(type) || http::iequals(type, "json"))
    return fhir::error(fhir::error_kind::unsupported_media_type, fhir::issue_type::not_supported,
                       fmt::format("Content-Type '{}' is not supported: send application/fhir+json", value),
                       "content-type-unsupported");
  while (semicolon != std::string_view::npos) {
    std::string_view rest = value.substr(semicolon + 1);
    auto next = rest.find(';');
    std::string_view parameter = trim(rest.substr(0, next));
    auto equals = parameter.find('=');
    if (equals != std::string_view::npos && http::iequals(trim(parameter.substr(0, equals)), "charset")) {
      std::string_view charset = trim(parameter.substr(equals + 1));
      if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') charset = charset.substr(1, charset.size() - 2);
      if (!http::iequals(charset, "utf-8") && !http::iequals(charset, "utf8"))
        return fhir::error(fhir::error_kind::unsupported_media_type, fhir::issue_type::not_supported,
                           fmt::format("charset '{}' is not supported: FHIR JSON is UTF-8", charset),
                           "content-type-charset");
    }
    semicolon = next == std::string_view::npos ? next : semicolon + 1 + next;
  }
  return fhir::done{};
}

prefer_return parse_prefer_return(std::optional<std::string_view> prefer) {
  if (!prefer) return prefer_return::representation;
  std::string_view rest = *prefer;
  while (!rest.empty()) {
    auto separator = rest.find_first_of(",;");
    std::string_view token = trim(rest.substr(0, separator));
    if (token.size() > 7 && http::iequals(token.substr(0, 7), "return=")) {
      std::string_view value = token.substr(7);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      if (http::iequals(value, "minimal")) return prefer_return::minimal;
      if (http::iequals(value, "OperationOutcome")) return prefer_return::operation_outcome;
      if (http::iequals(value, "representation")) return prefer_return::representation;
    }
    rest = separator == std::string_view::npos ? std::string_view() : rest.substr(separator + 1);
  }
  return prefer_return::representation;
}

bool prefers(std::optional<std::string_view> prefer, std::string_view preference) {
  std::string_view rest = prefer.value_or("");
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    if (http::iequals(trim(rest.substr(0, comma)), preference)) return true;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return false;
}

}  // namespace server
