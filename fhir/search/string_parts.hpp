#pragma once
// The parts of a complex datatype that a string parameter over it indexes (search.html#string: a
// HumanName matches on its family, given, prefix, suffix or text; an Address on any of its text
// parts). The indexer reads them, and search_parameters shares them with the parameters that index
// one part (`family` is `Patient.name.family`), so each value is stored once.

#include <span>
#include <string_view>

namespace fhir::search {

inline std::span<const std::string_view> string_parts(std::string_view datatype) {
  static constexpr std::string_view human_name[] = {"family", "given", "prefix", "suffix", "text"};
  static constexpr std::string_view address[] = {"line", "city", "district", "state", "postalCode", "country", "text"};
  if (datatype == "HumanName") return human_name;
  if (datatype == "Address") return address;
  return {};
}

}  // namespace fhir::search
