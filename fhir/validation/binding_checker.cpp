#include "fhir/validation/binding_checker.hpp"

#include <fmt/format.h>

namespace fhir::validation {
namespace {

using terminology::membership;

std::string_view string_member(const json::value& v, std::string_view key) {
  const std::string* s = v.find_string(key);
  return s ? std::string_view(*s) : std::string_view();
}

std::string_view strength_name(definitions::binding_strength s) {
  switch (s) {
    case definitions::binding_strength::required: return "required";
    case definitions::binding_strength::extensible: return "extensible";
    case definitions::binding_strength::preferred: return "preferred";
    case definitions::binding_strength::example: return "example";
  }
  return "";
}

severity severity_for(definitions::binding_strength s) {
  switch (s) {
    case definitions::binding_strength::required: return severity::error;
    case definitions::binding_strength::extensible: return severity::warning;
    default: return severity::information;
  }
}

std::string describe_coding(std::string_view system, std::string_view code) {
  return system.empty() ? fmt::format("'{}'", code) : fmt::format("'{}' from '{}'", code, system);
}

}  // namespace

void binding_checker::check(const definitions::binding& binding, std::string_view type_code, const json::value& value,
                            const std::string& path, std::string_view where, std::vector<issue>& issues) const {
  if (binding.strength == definitions::binding_strength::example || binding.value_set.empty()) return;
  if (!terminology_.knows_value_set(binding.value_set)) return;
  const std::string_view vs = binding.value_set;
  std::string context = where.empty() ? std::string() : fmt::format(" ({})", where);

  // `what` completes "... in the value set": "The code 'x' is not", "None of the codes (...) is".
  auto report = [&](std::string what, std::string_view id) {
    issues.push_back(issue{severity_for(binding.strength), issue_type::code_invalid,
                           fmt::format("{} in the value set {} (binding strength: {}){}", what, vs, strength_name(binding.strength),
                                       context),
                           path, std::string(id)});
  };

  if (type_code == "code" || type_code == "string" || type_code == "uri") {
    if (!value.is_string()) return;
    if (terminology_.code_in_value_set(vs, value.as_string()) == membership::not_member)
      report(fmt::format("The code '{}' is not", value.as_string()), "binding-code");
    return;
  }
  if (!value.is_object()) return;
  if (type_code == "Coding" || type_code == "Quantity") {
    std::string_view code = string_member(value, "code");
    if (code.empty()) return;  // a Coding with only a display or a Quantity without a code says nothing coded
    std::string_view system = string_member(value, "system");
    if (terminology_.in_value_set(vs, system, code) == membership::not_member)
      report(fmt::format("The code {} is not", describe_coding(system, code)), "binding-code");
    return;
  }
  if (type_code != "CodeableConcept") return;
  const json::value* codings = value.find("coding");
  std::vector<std::string> outside;
  bool any_coded = false;
  if (codings && codings->is_array()) {
    for (const json::value& c : codings->as_array()) {
      std::string_view code = string_member(c, "code");
      if (code.empty()) continue;
      any_coded = true;
      std::string_view system = string_member(c, "system");
      membership m = terminology_.in_value_set(vs, system, code);
      if (m != membership::not_member) return;  // in the value set, or not decidable here
      outside.push_back(describe_coding(system, code));
    }
  }
  if (!any_coded) {
    // Text alone satisfies anything but a required binding.
    if (binding.strength == definitions::binding_strength::required)
      issues.push_back(issue{severity::error, issue_type::code_invalid,
                             fmt::format("No code is given, but a code from the value set {} is required{}", vs, context), path,
                             "binding-no-code"});
    return;
  }
  std::string list;
  for (const std::string& o : outside) list += (list.empty() ? "" : ", ") + o;
  report(outside.size() == 1 ? fmt::format("The code {} is not", list) : fmt::format("None of the codes ({}) is", list), "binding-code");
}

void binding_checker::check_code_system(const json::value& coding, const std::string& path, std::vector<issue>& issues) const {
  if (!coding.is_object()) return;
  std::string_view system = string_member(coding, "system");
  std::string_view code = string_member(coding, "code");
  if (system.empty() || code.empty()) return;
  if (terminology_.in_code_system(system, code) == membership::not_member)
    issues.push_back(issue{severity::error, issue_type::code_invalid,
                           fmt::format("The code '{}' is not defined by the code system {}", code, system), path + ".code",
                           "code-unknown"});
}

}  // namespace fhir::validation
