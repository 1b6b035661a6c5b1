#include "fhir/validation/resource_reader.hpp"

#include "fhir/json/parse.hpp"
#include "fhir/validation/structural_validator.hpp"

namespace fhir::validation {

result<read_resource_result> read_resource(const definitions::registry& definitions, std::string_view text) {
  auto parsed = json::parse(text);
  if (!parsed) return std::move(parsed).error();
  std::vector<issue> issues = validate_structure(definitions, *parsed);
  if (has_errors(issues)) return error(error_kind::invalid, std::move(issues));
  return read_resource_result{std::move(*parsed), std::move(issues)};
}

}  // namespace fhir::validation
