#pragma once
// A UCUM unit resolver for the units clinical data uses, enough to compare and convert quantities.
//
// Supported: the prefixes Y Z E P T G M k h da d c m u n p f a; base units m, s, g, mol, K, A, cd;
// derived and customary units L l Hz N Pa J W cal bar eq U kat %, 10*N and 10^N factors, mm[Hg] (m[Hg]),
// [in_i] [ft_i] [yd_i] [mi_i] [lb_av] [oz_av] [stone_av] [gr], min h d wk mo a, arbitrary units [iU] [IU],
// Cel and [degF] (only comparable with themselves: no offset conversion), annotations {...} (ignored),
// and expressions with '.', '/', exponents and parentheses ("mg/dL", "kg.m-2", "10*3/uL", "/min").
// FHIRPath calendar durations (year, month, week, day, hour, minute, second, millisecond, and plurals)
// resolve too: week..millisecond to their UCUM equivalents; year and month only to each other.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fhir/fhirpath/decimal.hpp"

namespace fhir::fhirpath::ucum {

// Exponents of: g, m, s, mol, K, A, cd, arbitrary unit, Celsius, Fahrenheit, calendar month.
using dimensions = std::array<std::int8_t, 11>;

// The size of a unit in base units as an exact ratio, so that '/min' (1/60 s-1) compares exactly.
struct unit {
  decimal numerator = decimal::from_integer(1);
  decimal denominator = decimal::from_integer(1);
  dimensions dims{};
};

// Resolves a UCUM expression or a calendar duration keyword; nullopt when not understood.
std::optional<unit> resolve(std::string_view text);

// The calendar duration a FHIRPath keyword names ("days" -> "day"), or empty when it is none.
std::string_view calendar_keyword(std::string_view text);

}  // namespace fhir::fhirpath::ucum
