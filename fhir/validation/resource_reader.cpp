#include "fhir/validation/resource_reader.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "fhir/consent/consent_rule.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/resource.hpp"
#include "fhir/validation/structural_validator.hpp"

namespace fhir::validation {
namespace {
constexpr std::size_t max_issues = 200;
}

resource_validator::resource_validator(const definitions::registry& definitions, validation_options options)
    : defs_(definitions),
      options_(std::move(options)),
      terminology_(definitions),
      constraints_(definitions),
      bindings_(terminology_),
      references_(definitions),
      profiles_(definitions, terminology_, constraints_),
      rules_(definitions, profiles_, bindings_, references_, options_) {}

namespace {

// "Consent.category[0].coding[1]" -> "Consent.category.coding": the element path of an issue location.
std::string element_path(std::string_view expression) {
  std::string out;
  for (std::size_t i = 0; i < expression.size(); ++i) {
    if (expression[i] == '[') {
      i = expression.find(']', i);
      if (i == std::string_view::npos) break;
      continue;
    }
    out += expression[i];
  }
  return out;
}

// A profile the resource was validated against that binds an element to another value set replaces the
// base definition's binding there (profiling.html#binding): the base's extensible or preferred binding
// warnings at that element are dropped (the profile's own binding was checked instead). Required base
// bindings are errors and stay: a profile cannot relax them.
void drop_rebound_base_warnings(const definitions::registry& defs, std::string_view type,
                                const std::vector<const definitions::structure_definition*>& applied, std::vector<issue>& issues) {
  const definitions::structure_definition* base = defs.find_type(type);
  if (!base || applied.empty()) return;
  std::vector<std::pair<std::string, std::string>> rebound;  // element path, the base binding's value set
  for (const definitions::structure_definition* profile : applied)
    for (const definitions::element_definition& e : profile->elements) {
      if (!e.binding || e.id != e.path) continue;  // slices keep the base element's binding too
      const definitions::element_definition* b = base->find_by_id(e.path);
      if (!b || !b->binding) continue;
      auto bare = [](std::string_view url) { return url.substr(0, url.find('|')); };
      if (bare(b->binding->value_set) != bare(e.binding->value_set))
        rebound.emplace_back(e.path, std::string(bare(b->binding->value_set)));
    }
  if (rebound.empty()) return;
  std::erase_if(issues, [&](const issue& i) {
    if (i.message_id != "binding-code" || i.severity != severity::warning) return false;
    std::string path = element_path(i.expression);
    return std::any_of(rebound.begin(), rebound.end(), [&](const auto& r) {
      return r.first == path && i.diagnostics.find("value set " + r.second + " ") != std::string::npos &&
             i.diagnostics.find("StructureDefinition/") == std::string::npos;  // not a profile's own finding
    });
  });
}

}  // namespace

validation_outcome resource_validator::check(const json::value& resource, const std::vector<std::string>& requested) const {
  validation_outcome out;
  rule_output rules;
  out.issues = validate_structure(defs_, resource, &rules_, rules);
  out.malformed = has_errors(out.issues);
  out.issues.insert(out.issues.end(), std::make_move_iterator(rules.issues.begin()), std::make_move_iterator(rules.issues.end()));
  // Invariants and profiles navigate the structure they assume: only on a well-formed resource.
  if (!out.malformed) {
    auto env = profiles_.environments().acquire();
    evaluate_invariants(rules.invariants, constraints_, *env, out.issues);
    drop_rebound_base_warnings(defs_, resource_type_of(resource), profiles(resource, requested, out.issues), out.issues);
    // This record's rule for Consents (consent.md section 2): one it could not fully enforce is refused.
    if (resource_type_of(resource) == "Consent")
      if (auto rule = consent::read_consent(resource); !rule)
        for (const issue& i : rule.error().issues()) out.issues.push_back(i);
  }
  deduplicate(out.issues);
  return out;
}

std::vector<const definitions::structure_definition*> resource_validator::profiles(const json::value& resource,
                                                                                   const std::vector<std::string>& requested,
                                                                                   std::vector<issue>& issues) const {
  std::string_view type = resource_type_of(resource);
  std::vector<std::string> done;
  std::vector<const definitions::structure_definition*> applied;
  auto validate_against = [&](std::string_view url, const std::string& where, severity if_unknown) {
    std::string_view bare = url.substr(0, url.find('|'));
    if (std::find(done.begin(), done.end(), bare) != done.end()) return;
    done.emplace_back(bare);
    const definitions::structure_definition* profile = defs_.find_structure(url);
    if (!profile) {
      issues.push_back(issue{if_unknown, issue_type::not_supported,
                             fmt::format("The profile {} is not known to this server, so the resource was not checked against it", url),
                             where, "profile-unknown"});
      return;
    }
    if (profile->type != type) {
      issues.push_back(issue{severity::error, issue_type::structure,
                             fmt::format("The profile {} is for {} resources, not {}", url, profile->type, type), where,
                             "profile-type-mismatch"});
      return;
    }
    profiles_.validate(resource, *profile, issues);
    applied.push_back(profile);
  };
  if (const json::value* meta = resource.find("meta"))
    if (const json::value* claimed = meta->find("profile"); claimed && claimed->is_array())
      for (std::size_t i = 0; i < claimed->as_array().size(); ++i)
        if (const json::value& url = claimed->as_array()[i]; url.is_string())
          validate_against(url.as_string(), fmt::format("{}.meta.profile[{}]", type, i), severity::warning);
  if (auto it = options_.default_profiles.find(type); it != options_.default_profiles.end())
    validate_against(it->second, std::string(type), severity::warning);
  for (const std::string& url : requested) validate_against(url, std::string(type), severity::error);
  return applied;
}

result<read_resource_result> resource_validator::read(std::string_view text) const {
  auto parsed = json::parse(text);
  if (!parsed) return std::move(parsed).error();
  validation_outcome outcome = check(*parsed);
  if (has_errors(outcome.issues))
    return error(outcome.malformed ? error_kind::invalid : error_kind::unprocessable, std::move(outcome.issues));
  return read_resource_result{std::move(*parsed), std::move(outcome.issues)};
}

void deduplicate(std::vector<issue>& issues) {
  // Two findings at one place differ by more than their kind when they name different value sets
  // (a base and a profile binding): those keep their text in the key.
  std::set<std::tuple<severity, std::string, std::string, std::string>> seen;
  std::vector<issue> kept;
  kept.reserve(issues.size());
  bool truncated = false, dropped_errors = false;
  for (issue& i : issues) {
    std::string detail = i.message_id.starts_with("binding-") ? i.diagnostics : std::string();
    if (!seen.emplace(i.severity, i.message_id, i.expression, std::move(detail)).second) continue;
    if (kept.size() == max_issues) {
      truncated = true;
      dropped_errors |= i.severity == severity::error || i.severity == severity::fatal;
      continue;
    }
    kept.push_back(std::move(i));
  }
  if (truncated)
    kept.push_back(issue{dropped_errors ? severity::error : severity::warning, issue_type::too_costly,
                         fmt::format("Only the first {} issues are listed", max_issues), {}, "issues-truncated"});
  issues = std::move(kept);
}

}  // namespace fhir::validation
