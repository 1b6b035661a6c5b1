#pragma once
// The one error value of the project: it already is an OperationOutcome.
//
// Expected failures (bad input, a missing resource, a version conflict) travel as `fhir::error` values,
// never as exceptions. Each error has a closed `error_kind`, which server/http_status.cpp maps to an HTTP
// status in one place, and a list of issues as FHIR defines them (severity, code, diagnostics, and a
// FHIRPath expression saying where). Programmer errors remain exceptions and become 500 at the edge.

#include <string>
#include <string_view>
#include <vector>

namespace fhir {

namespace json {
class value;
}

enum class severity { fatal, error, warning, information };

// The IssueType codes of http://hl7.org/fhir/issue-type that the server reports.
enum class issue_type {
  invalid,
  structure,
  required,
  value,
  invariant,
  security,
  login,
  forbidden,
  suppressed,  // information withheld (consent)
  not_supported,
  duplicate,
  multiple_matches,
  not_found,
  deleted,
  too_long,
  code_invalid,
  extension,
  too_costly,
  business_rule,
  conflict,
  transient,
  exception,
  timeout,
  processing,
  informational,
};

std::string_view to_code(severity s);
std::string_view to_code(issue_type t);

struct issue {
  fhir::severity severity = severity::error;
  issue_type type = issue_type::invalid;
  std::string diagnostics;  // human-readable: what and why
  std::string expression;   // FHIRPath of the offending element, empty when not about an element
  std::string message_id;   // stable identifier for logs and tests, e.g. "json-duplicate-key"
};

// What went wrong, in terms a client can act on. The HTTP layer maps each kind to one status code.
enum class error_kind {
  invalid,                 // malformed request or resource (400)
  unprocessable,           // well-formed but breaks a profile or business rule (422)
  not_found,               // no such type, resource or version (404)
  gone,                    // the resource was deleted (410)
  conflict,                // version conflict or id clash (409)
  precondition_failed,     // If-Match and friends (412)
  method_not_allowed,      // the route exists, the method does not (405)
  not_acceptable,          // no representation the client accepts (406)
  unsupported_media_type,  // request body in a format we do not read (415)
  too_large,               // request body over the limit (413)
  not_supported,           // a FHIR feature this server does not implement (501)
  unauthenticated,         // no valid credentials: missing, malformed or rejected token (401)
  forbidden,               // the caller may not do this (403)
  busy,                    // temporarily unable; retry later (503)
  fault,                   // an internal failure; details logged, not returned (500)
};

class error {
 public:
  error(error_kind kind, std::vector<issue> issues) : kind_(kind), issues_(std::move(issues)) {}
  // An error with a single issue of severity error.
  error(error_kind kind, issue_type type, std::string diagnostics, std::string message_id,
        std::string expression = {});

  error_kind kind() const { return kind_; }
  const std::vector<issue>& issues() const { return issues_; }
  std::vector<issue>& issues() { return issues_; }

  // The first issue's diagnostics, for logs.
  std::string summary() const;

 private:
  error_kind kind_;
  std::vector<issue> issues_;
};

// Renders issues as an OperationOutcome resource.
json::value to_operation_outcome(const std::vector<issue>& issues);

// True when any issue has severity error or fatal.
bool has_errors(const std::vector<issue>& issues);

}  // namespace fhir
