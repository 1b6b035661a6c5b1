#pragma once
// String search values: FHIR string search is case- and accent-insensitive (search.html#string).
// normalize() folds case and removes the accents of Latin letters (the Latin-1 Supplement and Latin
// Extended-A blocks cover the names and places of UK records: Zoë, Siân, Łukasz, Ødegård), collapses
// runs of white space and trims. Other characters are kept as they are.

#include <string>
#include <string_view>

namespace fhir::search {

std::string normalize(std::string_view text);

// The smallest string greater than every string starting with `prefix` (for prefix ranges in an
// ordered index): the prefix with its last byte incremented, carrying over 0xFF bytes. Empty when
// there is none (a prefix of only 0xFF bytes).
std::string prefix_upper_bound(std::string_view prefix);

}  // namespace fhir::search
