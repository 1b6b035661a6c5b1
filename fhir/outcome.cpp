#include "fhir/outcome.hpp"

#include <algorithm>

#include "fhir/json/value.hpp"

namespace fhir {

std::string_view to_code(severity s) {
  switch (s) {
    case severity::fatal: return "fatal";
    case severity::error: return "error";
    case severity::warning: return "warning";
    case severity::information: return "information";
  }
  return "error";
}

std::string_view to_code(issue_type t) {
  switch (t) {
    case issue_type::invalid: return "invalid";
    case issue_type::structure: return "structure";
    case issue_type::required: return "required";
    case issue_type::value: return "value";
    case issue_type::invariant: return "invariant";
    case issue_type::security: return "security";
    case issue_type::login: return "login";
    case issue_type::forbidden: return "forbidden";
    case issue_type::suppressed: return "suppressed";
    case issue_type::not_supported: return "not-supported";
    case issue_type::duplicate: return "duplicate";
    case issue_type::not_found: return "not-found";
    case issue_type::deleted: return "deleted";
    case issue_type::too_long: return "too-long";
    case issue_type::code_invalid: return "code-invalid";
    case issue_type::extension: return "extension";
    case issue_type::too_costly: return "too-costly";
    case issue_type::business_rule: return "business-rule";
    case issue_type::conflict: return "conflict";
    case issue_type::multiple_matches: return "multiple-matches";
    case issue_type::transient: return "transient";
    case issue_type::exception: return "exception";
    case issue_type::timeout: return "timeout";
    case issue_type::processing: return "processing";
    case issue_type::informational: return "informational";
  }
  return "processing";
}

error::error(error_kind kind, issue_type type, std::string diagnostics, std::string message_id,
             std::string expression)
    : kind_(kind),
      issues_{issue{severity::error, type, std::move(diagnostics), std::move(expression), std::move(message_id)}} {}

std::string error::summary() const { return issues_.empty() ? std::string() : issues_.front().diagnostics; }

bool has_errors(const std::vector<issue>& issues) {
  return std::any_of(issues.begin(), issues.end(), [](const issue& i) {
    return i.severity == severity::error || i.severity == severity::fatal;
  });
}

// The message id travels as issue.details.coding so that clients and tests can match on a stable code
// rather than on the wording of diagnostics.
static constexpr std::string_view message_code_system = "https://shared-care-record.github.io/fhir/CodeSystem/message-id";

json::value to_operation_outcome(const std::vector<issue>& issues) {
  json::array items;
  items.reserve(issues.size());
  for (const issue& i : issues) {
    json::value item = json::object{};
    item.set("severity", to_code(i.severity));
    item.set("code", to_code(i.type));
    if (!i.message_id.empty()) {
      json::value coding = json::object{};
      coding.set("system", message_code_system);
      coding.set("code", i.message_id);
      json::value details = json::object{};
      details.set("coding", json::array{std::move(coding)});
      item.set("details", std::move(details));
    }
    if (!i.diagnostics.empty()) item.set("diagnostics", i.diagnostics);
    if (!i.expression.empty()) item.set("expression", json::array{json::value(i.expression)});
    items.push_back(std::move(item));
  }
  if (items.empty()) {
    // OperationOutcome.issue is 1..*: an outcome with nothing to say still says so.
    json::value item = json::object{};
    item.set("severity", "information");
    item.set("code", "informational");
    item.set("diagnostics", "All OK");
    items.push_back(std::move(item));
  }
  json::value oo = json::object{};
  oo.set("resourceType", "OperationOutcome");
  oo.set("issue", std::move(items));
  return oo;
}

}  // namespace fhir
