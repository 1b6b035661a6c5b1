#include "server/interactions/common.hpp"
#include "server/interactions/conditional.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "fhir/resource.hpp"
#include "fhir/text.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "server/metrics.hpp"
#include "server/quality/quality_recorder.hpp"
#include "server/negotiation.hpp"

namespace server::interactions {

fhir::result<fhir::done> check_id(const context& ctx, std::string_view id) {
  const auto* id_type = ctx.definitions.find_primitive("id");
  if (id_type && id_type->matches_regex(id)) return fhir::done{};
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::value,
                     fmt::format("'{}' is not a valid resource id (1-64 characters of A-Z, a-z, 0-9, '-' and '.')",
                                 fhir::utf8_prefix(id, 100)),
                     "id-invalid");
}

fhir::result<fhir::validation::read_resource_result> read_body(const context& ctx, const fhir_request& request, std::string_view expected_type) {
  if (auto format = check_body_format(request.http.header_value("Content-Type")); !format) return std::move(format).error();
  if (request.http.body.empty())
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::required, "The request has no body: send the resource",
                       "body-missing");
  auto read = ctx.validator.read(request.http.body);
  count_validation(ctx, request, expected_type, read ? read->issues : read.error().issues(), read ? &read->resource : nullptr);
  if (!read) return std::move(read).error();
  std::string_view type = fhir::resource_type_of(read->resource);
  if (type != expected_type)
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                       fmt::format("The body is a {}, but the URL is for {}", type, expected_type),
                       "resource-type-mismatch", "resourceType");
  return std::move(read).value();
}

fhir::result<std::optional<std::int64_t>> if_match_version(const fhir_request& request) {
  auto header = request.http.header_value("If-Match");
  if (!header) return std::optional<std::int64_t>();
  auto version = parse_version_etag(*header, "If-Match");
  if (!version) return std::move(version).error();
  return std::optional<std::int64_t>(*version);
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded: '+' is a space, %XX a byte.
fhir::result<std::string> form_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%') {
      int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, "The form body has a bad percent-escape",
                           "search-form-invalid");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool is_form_content_type(std::string_view type) {
  constexpr std::string_view form = "application/x-www-form-urlencoded";
  if (type.size() < form.size()) return false;
  for (std::size_t i = 0; i < form.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(type[i])) != form[i]) return false;
  return type.size() == form.size() || type[form.size()] == ';' || type[form.size()] == ' ';
}

}  // namespace

fhir::result<http::query_params> form_search_parameters(const fhir_request& request) {
  http::query_params params = request.params;
  if (request.http.method != "POST") return params;
  auto type = request.http.header_value("Content-Type");
  if (!type || !is_form_content_type(*type))
    return fhir::error(fhir::error_kind::unsupported_media_type, fhir::issue_type::not_supported,
                       "POST _search takes an application/x-www-form-urlencoded body", "search-form-content-type");
  std::string_view body = request.http.body;
  while (!body.empty()) {
    std::size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    auto name = form_decode(pair.substr(0, eq));
    auto value = form_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!name) return std::move(name).error();
    if (!value) return std::move(value).error();
    params.emplace_back(std::move(*name), std::move(*value));
  }
  return params;
}

std::string caller_controller(const fhir_request& request) { return request.caller ? request.caller->controller : std::string(); }

void count_validation(const context& ctx, const fhir_request& request, std::string_view type, const std::vector<fhir::issue>& issues,
                      const fhir::json::value* resource) {
  if (ctx.metrics) ctx.metrics->record_validation(caller_controller(request), type, issues);
  if (!ctx.quality) return;
  const std::string* body_id = resource && resource->is_object() ? resource->find_string("id") : nullptr;
  std::string_view id = body_id ? std::string_view(*body_id)
                        : request.path.size() >= 2 && request.path[0] == type ? std::string_view(request.path[1]) : std::string_view();
  ctx.quality->validated(caller_controller(request), type, id, issues);
}

fhir::result<fhir::done> record_controller(const fhir_request& request, fhir::json::value& resource) {
  std::string ods = caller_controller(request);
  if (ods.empty()) return fhir::done{};
  return record_controller(ods, resource);
}

bool is_ods_code(std::string_view ods) {
  return ods.size() >= 3 && ods.size() <= 10 &&
         std::all_of(ods.begin(), ods.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); });
}

fhir::result<fhir::done> record_controller(std::string_view ods, fhir::json::value& resource) {
  if (!is_ods_code(ods))
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::value,
                       fmt::format("The sender's organisation '{}' is not an ODS code (3-10 upper-case letters and digits)",
                                   fhir::utf8_prefix(ods, 40)),
                       "source-organization-invalid");
  std::string_view existing = fhir::data_controller_of(resource);
  if (!existing.empty() && existing != ods)
    return fhir::error(fhir::error_kind::unprocessable, fhir::issue_type::business_rule,
                       fmt::format("The resource names {} as its data controller, but it is sent by {}", existing, ods),
                       "data-controller-mismatch", std::string(fhir::resource_type_of(resource)) + ".meta.tag");
  fhir::set_data_controller(resource, ods);
  return fhir::done{};
}

}  // namespace server::interactions
