#include "store/sqlite/quality_log.hpp"

namespace store::sqlite {

void add_quality_counts(database& db, const std::vector<quality_count>& counts) {
  for (const quality_count& c : counts) {
    auto add = db.cached(
        "INSERT INTO quality_count(organization, day, type, metric, key, count, example, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT(organization, day, type, metric, key) DO UPDATE SET count = count + excluded.count, "
        "last_seen = max(last_seen, excluded.last_seen), example = CASE WHEN example = '' THEN excluded.example ELSE example END");
    add->bind(1, c.organization).bind(2, c.day).bind(3, c.type).bind(4, c.metric).bind(5, c.key).bind(6, c.count).bind(7, c.example)
        .bind(8, c.last_seen).run();
  }
}

std::vector<quality_count> read_quality_counts(database& db, const quality_query& query) {
  auto select = db.cached(
      "SELECT organization, day, type, metric, key, count, example, last_seen FROM quality_count "
      "WHERE (?1 IS NULL OR organization = ?1) AND day >= ?2 AND (?3 = '' OR type = ?3) ORDER BY organization, day, type, metric, key");
  if (query.organization) select->bind(1, *query.organization);
  else select->bind_null(1);
  select->bind(2, query.since_day).bind(3, query.type);
  std::vector<quality_count> out;
  while (select->step())
    out.push_back(quality_count{.day = select->column_int64(1),
                                .organization = std::string(select->column_text(0)),
                                .type = std::string(select->column_text(2)),
                                .metric = std::string(select->column_text(3)),
                                .key = std::string(select->column_text(4)),
                                .count = select->column_int64(5),
                                .example = std::string(select->column_text(6)),
                                .last_seen = select->column_int64(7)});
  return out;
}

std::vector<std::pair<std::string, fhir::epoch_ms>> read_last_feeds(database& db, const std::optional<std::string>& organization) {
  auto select = db.cached(
      "SELECT organization, max(last_seen) FROM quality_count WHERE metric IN ('accepted', 'rejected') AND (?1 IS NULL OR organization = ?1) "
      "GROUP BY organization");
  if (organization) select->bind(1, *organization);
  else select->bind_null(1);
  std::vector<std::pair<std::string, fhir::epoch_ms>> out;
  while (select->step()) out.emplace_back(std::string(select->column_text(0)), select->column_int64(1));
  return out;
}

}  // namespace store::sqlite
