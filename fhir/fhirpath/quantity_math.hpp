#pragma once
// Quantity comparison and arithmetic with UCUM conversion, and durations added to dates and times.

#include <optional>

#include "fhir/fhirpath/arena.hpp"
#include "fhir/fhirpath/ast.hpp"
#include "fhir/fhirpath/value.hpp"

namespace fhir::fhirpath {

// <0, 0, >0; nullopt when the units are not comparable (different dimensions, unknown units, or a
// calendar year/month against a UCUM duration).
std::optional<int> compare_quantities(const quantity& a, const quantity& b);
// Equal after conversion, at the precision of the less precise value.
bool equivalent_quantities(const quantity& a, const quantity& b);
// True when both units are known and of the same dimension (comparable()).
bool comparable_units(std::string_view a, std::string_view b);

// value +/- a duration quantity (calendar keywords, or the UCUM wk, d, h, min, s, ms). The amount is
// truncated to an integer of its unit. nullopt when the unit is not a usable duration ('mo', 'a', 'cm').
std::optional<temporal> add_duration(const temporal& value, const quantity& amount, bool subtract);

// +, -, *, / with at least one Quantity operand. nullopt: incompatible (an error); an empty optional
// item: an empty result (division by zero).
std::optional<std::optional<item>> quantity_arithmetic(binary_op op, const item& x, const item& y, arena& memory);

}  // namespace fhir::fhirpath
