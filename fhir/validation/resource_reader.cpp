#include "fhir/validation/resource_reader.hpp"

#include "fhir/json/parse.hpp"
#include "fhir/validation/structural_validator.hpp"

namespace fhir::validation {

std::vector<issue> resource_validator::validate(const json::value& resource) const {
  std::vector<issue> issues = validate_structure(defs_, resource);
  // Invariants assume the structure they navigate: run them only on a structurally valid resource.
  if (has_errors(issues)) return issues;
  std::vector<issue> invariant_issues = invariants_.validate(resource);
  issues.insert(issues.end(), std::make_move_iterator(invariant_issues.begin()), std::make_move_iterator(invariant_issues.end()));
  return issues;
}

result<read_resource_result> resource_validator::read(std::string_view text) const {
  auto parsed = json::parse(text);
  if (!parsed) return std::move(parsed).error();
  std::vector<issue> issues = validate(*parsed);
  if (has_errors(issues)) return error(error_kind::invalid, std::move(issues));
  return read_resource_result{std::move(*parsed), std::move(issues)};
}

}  // namespace fhir::validation
