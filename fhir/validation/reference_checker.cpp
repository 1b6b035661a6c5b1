#include "fhir/validation/reference_checker.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "fhir/resource.hpp"

namespace fhir::validation {
namespace {

std::string_view string_member(const json::value& v, std::string_view key) {
  const std::string* s = v.find_string(key);
  return s ? std::string_view(*s) : std::string_view();
}

// id: [A-Za-z0-9\-\.]{1,64} (datatypes.html#id)
bool is_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

bool has_scheme(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  return std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
  });
}

// "Type/id" or "Type/id/_history/vid" at the end of `s`: the type, or "".
std::string_view trailing_type(std::string_view s) {
  auto history = s.find("/_history/");
  if (history != std::string_view::npos) s = s.substr(0, history);
  auto slash = s.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return {};
  std::string_view head = s.substr(0, slash);
  auto previous = head.rfind('/');
  return previous == std::string_view::npos ? head : head.substr(previous + 1);
}

}  // namespace

std::string reference_checker::target_type(const json::value& reference, const json::value& container) const {
  std::string_view ref = string_member(reference, "reference");
  if (ref.starts_with('#')) {
    if (ref.size() == 1) return std::string(string_member(container, "resourceType"));
    const json::value* r = find_contained(container, ref.substr(1));
    return r ? std::string(string_member(*r, "resourceType")) : std::string();
  }
  if (!ref.empty() && !ref.starts_with("urn:")) {
    std::string_view type = trailing_type(ref);
    if (defs_.is_resource_type(type)) return std::string(type);
  }
  // Reference.type: a resource type, or the URL of its definition.
  std::string_view type = string_member(reference, "type");
  if (type.starts_with("http://hl7.org/fhir/StructureDefinition/")) type = type.substr(40);
  return defs_.is_resource_type(type) ? std::string(type) : std::string();
}

void reference_checker::check(const json::value& reference, const std::vector<std::string>& target_profiles,
                              const json::value& container, const std::string& path, std::string_view where,
                              std::vector<issue>& issues) const {
  if (!reference.is_object()) return;
  std::string_view ref = string_member(reference, "reference");
  auto report = [&](issue_type type, std::string diagnostics, std::string_view id, std::string expression) {
    issues.push_back(issue{severity::error, type, std::move(diagnostics), std::move(expression), std::string(id)});
  };
  const std::string ref_path = path + ".reference";
  if (!ref.empty()) {
    if (ref.starts_with('#')) {
      if (ref.size() > 1 && !find_contained(container, ref.substr(1))) {
        report(issue_type::not_found, fmt::format("The reference '{}' names no contained resource", ref), "reference-contained-missing",
               ref_path);
        return;
      }
    } else if (!has_scheme(ref)) {
      // Relative: Type/id[/_history/vid].
      auto first = ref.find('/');
      std::string_view type = ref.substr(0, first);
      std::string_view rest = first == std::string_view::npos ? std::string_view() : ref.substr(first + 1);
      auto history = rest.find("/_history/");
      std::string_view id = rest.substr(0, history);
      std::string_view version = history == std::string_view::npos ? std::string_view() : rest.substr(history + 10);
      bool well_formed = defs_.is_resource_type(type) && is_id(id) && (history == std::string_view::npos || is_id(version));
      if (!well_formed) {
        report(issue_type::value,
               fmt::format("The reference '{}' is not a valid relative reference (Type/id, with Type a resource type), "
                           "an absolute URL or a contained reference (#id)",
                           ref),
               "reference-format", ref_path);
        return;
      }
    }
  }
  if (target_profiles.empty()) return;
  std::string type = target_type(reference, container);
  if (type.empty()) return;  // a logical reference or an opaque URL: nothing to check the type against
  std::vector<std::string_view> allowed;
  for (const std::string& url : target_profiles) {
    const definitions::structure_definition* sd = defs_.find_structure(url);
    if (!sd) return;  // an unknown target profile: the type cannot be judged
    if (sd->type == "Resource" || sd->type == type) return;
    allowed.push_back(sd->type);
  }
  std::string list;
  for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  report(issue_type::structure,
         fmt::format("The reference points to a {}, but only {} {} allowed here{}", type, list, allowed.size() == 1 ? "is" : "are",
                     where.empty() ? std::string() : fmt::format(" ({})", where)),
         "reference-target-type", path);
}

}  // namespace fhir::validation
