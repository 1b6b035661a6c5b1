#pragma once
// Subsets of resources for _summary and _elements (search.html#summary, #elements). Decided by the
// definitions: _summary=true keeps the top-level elements marked isSummary; text keeps the narrative
// and mandatory elements; data drops the narrative; _elements keeps the listed top-level elements.
// id, meta and modifier elements are always kept (a reader must not miss a modifier), and the result
// is tagged SUBSETTED as the specification requires.

#include <string>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/json/value.hpp"
#include "fhir/search/search_query.hpp"

namespace fhir::search {

// True when `mode`/`elements` ask for a subset at all.
bool wants_subset(summary_mode mode, const std::vector<std::string>& elements);

// The subset of `resource` (whose top-level members are checked against its type's definition).
json::value subset(const json::value& resource, summary_mode mode, const std::vector<std::string>& elements,
                   const definitions::registry& definitions);

}  // namespace fhir::search
