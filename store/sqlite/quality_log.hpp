#pragma once
// Data-quality counts in SQLite (schema version 5, table quality_count): added up by key, read back by
// organisation, type and day.

#include <vector>

#include "store/sqlite/database.hpp"
#include "store/store.hpp"

namespace store::sqlite {

// Adds `counts` to the stored ones (inside the writer's open transaction).
void add_quality_counts(database& db, const std::vector<quality_count>& counts);

std::vector<quality_count> read_quality_counts(database& db, const quality_query& query);

// The latest accepted or rejected write of each organisation (or of one).
std::vector<std::pair<std::string, fhir::epoch_ms>> read_last_feeds(database& db, const std::optional<std::string>& organization);

}  // namespace store::sqlite
