#pragma once
// Comparing instance JSON with fixed[x] and pattern[x] values (elementdefinition.html#ElementDefinition.fixed_x_):
//  - fixed: exactly equal, nothing missing and nothing extra (object member order does not matter);
//  - pattern: everything in the pattern is in the instance; an array item of the pattern matches some item
//    of the instance's array; the instance may have more.

#include "fhir/json/value.hpp"

namespace fhir::validation {

bool matches_fixed(const json::value& instance, const json::value& fixed);
bool matches_pattern(const json::value& instance, const json::value& pattern);

}  // namespace fhir::validation
