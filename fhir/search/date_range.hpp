#pragma once
// Dates as search sees them (search.html#date): every value is a range of instants at its precision.
// "2024" is [2024-01-01T00:00Z, 2025-01-01T00:00Z); "2024-03-05T10:00:00+01:00" is the second from
// 09:00:00Z. Values without a time zone are taken as UTC (a documented server rule: R4 leaves it to
// the server). Ranges are half-open, in milliseconds since the epoch.

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace fhir::search {

struct date_range {
  static constexpr std::int64_t open_low = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t open_high = std::numeric_limits<std::int64_t>::max();
  std::int64_t low = open_low;    // inclusive
  std::int64_t high = open_high;  // exclusive
};

// The range a FHIR date, dateTime or instant denotes; nullopt when `text` is not one.
std::optional<date_range> parse_date_range(std::string_view text);

}  // namespace fhir::search
