// Fuzz target: a resource as a write receives it (JSON text), parsed and validated in full.

#include "fhir/validation/resource_reader.hpp"
#include "fuzz/targets.hpp"
#include "profiles/definition_set.hpp"

namespace fhir::fuzz {

void resource_target(std::string_view input) {
  static const validation::resource_validator validator(
      profiles::r4_uk_core(), validation::validation_options{.default_profiles = profiles::server_default_profiles()});
  auto outcome = validator.read(input);
  // Whatever the input, the answer is a resource or a failure with at least one issue.
  if (!outcome && outcome.error().issues().empty()) __builtin_trap();
}

}  // namespace fhir::fuzz
