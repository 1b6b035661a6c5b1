#pragma once
// Runs a FHIR search (fhir::search::search_query) on one read connection, as SQL over the index
// tables (docs/store-schema.md, "Search"):
//  - each clause becomes the set of matching resource pks (chains and _has nest these sets);
//  - the most selective clause (probed with capped counts) drives the query, the others filter;
//  - pages are keyset pages over (sort keys..., pk), bounded by the highest pk when the first page
//    ran, so later creations never shift a page; page tokens carry the position and a hash of the query;
//  - _include/_revinclude (with :iterate) follow ix_reference from the page's resources.

#include <cstdint>
#include <string>
#include <unordered_map>

#include "fhir/result.hpp"
#include "store/sqlite/database.hpp"
#include "store/sqlite/search_index.hpp"
#include "store/store.hpp"

namespace store::sqlite {

struct type_table {
  const std::unordered_map<std::string, std::int64_t>& ids;
  const std::unordered_map<std::int64_t, std::string>& names;
};

fhir::result<search_page> run_search(database& db, const param_ids& params, const type_table& types,
                                     const search_request& request);

}  // namespace store::sqlite
