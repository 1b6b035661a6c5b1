#include "server/bundle/entries.hpp"

#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/text.hpp"

namespace server::bundle {
namespace {

fhir::error entry_error(std::size_t index, std::string_view element, std::string diagnostics, std::string id) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                     fmt::format("Bundle.entry[{}]: {}", index, diagnostics), std::move(id),
                     fmt::format("Bundle.entry[{}]{}", index, element));
}

std::string string_at(const fhir::json::value* object, std::string_view key) {
  if (!object) return {};
  const std::string* s = object->find_string(key);
  return s ? *s : std::string();
}

// request.url relative to the base: an absolute URL on this server's base is made relative.
std::string relative_url(const context& ctx, std::string url) {
  const std::string& base = ctx.settings.base_url;
  if (url.starts_with(base + "/")) url.erase(0, base.size() + 1);
  while (url.starts_with('/')) url.erase(0, 1);
  return url;
}

}  // namespace

fhir::result<entry_request> read_entry(const context& ctx, std::string_view text, std::size_t i) {
  auto parsed = fhir::json::parse(text);
  if (!parsed) {
    fhir::error e = std::move(parsed).error();
    for (fhir::issue& issue : e.issues()) {
      issue.diagnostics = fmt::format("Bundle.entry[{}]: {}", i, issue.diagnostics);
      issue.expression = fmt::format("Bundle.entry[{}]", i);
    }
    return e;
  }
  fhir::json::value& entry = *parsed;
  entry_request r;
  r.index = i;
  r.text = text;
  if (!entry.is_object()) return entry_error(i, "", "an entry must be an object", "bundle-entry-invalid");
  if (std::string_view twice = duplicate_member(entry); !twice.empty())
    return entry_error(i, "", fmt::format("the entry has '{}' twice", fhir::utf8_prefix(twice, 60)), "json-duplicate-key");
  const fhir::json::value* request = entry.find("request");
  if (!request || !request->is_object())
    return entry_error(i, ".request", "a batch or transaction entry needs a request (method and url)", "bundle-request-missing");
  r.method = string_at(request, "method");
  r.url = relative_url(ctx, string_at(request, "url"));
  if (r.method.empty() || r.url.empty())
    return entry_error(i, ".request", "request.method and request.url are required", "bundle-request-missing");
  static const std::vector<std::string> methods = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"};
  if (std::find(methods.begin(), methods.end(), r.method) == methods.end())
    return entry_error(i, ".request.method", fmt::format("'{}' is not an HTTP verb of FHIR", fhir::utf8_prefix(r.method, 40)),
                       "bundle-method-invalid");
  r.if_none_exist = string_at(request, "ifNoneExist");
  r.if_match = string_at(request, "ifMatch");
  r.if_none_match = string_at(request, "ifNoneMatch");
  r.if_modified_since = string_at(request, "ifModifiedSince");
  r.full_url = string_at(&entry, "fullUrl");

  auto target = http::parse_target("/" + r.url);
  if (!target || target->segments.empty())
    return entry_error(i, ".request.url", fmt::format("'{}' is not a valid request URL", fhir::utf8_prefix(r.url, 200)),
                       "bundle-url-invalid");
  r.params = std::move(target->params);
  r.type = target->segments[0];
  if (target->segments.size() > 1) r.id = target->segments[1];
  for (std::size_t s = 2; s < target->segments.size(); ++s) r.rest += (s > 2 ? "/" : "") + target->segments[s];
  bool known_type = ctx.definitions.is_resource_type(r.type);
  if (r.method != "GET" && r.method != "HEAD") {
    if (!known_type)
      return entry_error(i, ".request.url", fmt::format("'{}' is not a resource type this server knows", fhir::utf8_prefix(r.type, 100)),
                         "type-unknown");
    if (!r.rest.empty() || target->segments.size() > 2)
      return entry_error(i, ".request.url", fmt::format("{} {} is not a write this server supports in a Bundle", r.method, r.url),
                         "bundle-url-unsupported");
  }
  if (fhir::json::value* resource = entry.find("resource")) r.resource = std::move(*resource);
  bool needs_resource = r.method == "POST" || r.method == "PUT" || r.method == "PATCH";
  if (needs_resource && !r.resource)
    return entry_error(i, ".resource", fmt::format("a {} entry needs a resource", r.method), "bundle-resource-missing");
  return r;
}

fhir::error in_entry(fhir::error e, const entry_request& entry) {
  std::string where = entry.where();
  for (fhir::issue& issue : e.issues()) {
    if (!issue.diagnostics.starts_with("Bundle.entry["))
      issue.diagnostics = fmt::format("{} ({} {}): {}", where, entry.method, entry.url, issue.diagnostics);
    if (issue.expression.empty()) {
      issue.expression = where;
    } else if (!issue.expression.starts_with("Bundle.entry[")) {
      // "Patient.name[0]" -> "Bundle.entry[N].resource.name[0]"; "Patient" -> "Bundle.entry[N].resource"
      std::size_t dot = issue.expression.find('.');
      issue.expression = where + ".resource" + (dot == std::string::npos ? std::string() : issue.expression.substr(dot));
    }
  }
  return e;
}

void rewrite_references(fhir::json::value& value, const std::function<std::optional<std::string>(std::string_view)>& visit) {
  if (value.is_array()) {
    for (fhir::json::value& item : value.as_array()) rewrite_references(item, visit);
    return;
  }
  if (!value.is_object()) return;
  for (auto& m : value.as_object()) {
    if (m.key == "reference" && m.value.is_string()) {
      if (auto replaced = visit(m.value.as_string())) m.value = fhir::json::value(*replaced);
    } else {
      rewrite_references(m.value, visit);
    }
  }
}

std::string_view duplicate_member(const fhir::json::value& object) {
  if (!object.is_object()) return {};
  std::unordered_set<std::string_view> seen;
  for (const auto& m : object.as_object())
    if (!seen.insert(m.key).second) return m.key;
  return {};
}

bool is_conditional_reference(std::string_view reference) {
  std::size_t question = reference.find('?');
  return question != std::string_view::npos && question > 0 && reference.substr(0, question).find('/') == std::string_view::npos;
}

}  // namespace server::bundle
