#include "fhir/search/date_range.hpp"

#include "fhir/fhirpath/temporal.hpp"
#include "fhir/time.hpp"

namespace fhir::search {

namespace {

using fhirpath::temporal_precision;

constexpr std::int64_t ms_per_second = 1000, ms_per_minute = 60 * ms_per_second, ms_per_hour = 60 * ms_per_minute,
                       ms_per_day = 24 * ms_per_hour;

}  // namespace

std::optional<date_range> parse_date_range(std::string_view text) {
  auto t = fhirpath::temporal::parse_date_time(text);
  if (!t) return std::nullopt;
  const std::int64_t zone = t->has_zone ? static_cast<std::int64_t>(t->zone_minutes) * ms_per_minute : 0;
  auto at = [](std::int64_t year, unsigned month, unsigned day) { return fhir::days_from_civil(year, month, day) * ms_per_day; };
  std::int64_t start = at(t->year, t->month, t->day) + t->hour * ms_per_hour + t->minute * ms_per_minute +
                       t->second * ms_per_second + t->millisecond - zone;
  date_range r;
  r.low = start;
  switch (t->precision) {
    case temporal_precision::year: r.high = at(t->year + 1, 1, 1) - zone; break;
    case temporal_precision::month:
      r.high = (t->month == 12 ? at(t->year + 1, 1, 1) : at(t->year, t->month + 1u, 1)) - zone;
      break;
    case temporal_precision::day: r.high = start + ms_per_day; break;
    case temporal_precision::hour: r.high = start + ms_per_hour; break;
    case temporal_precision::minute: r.high = start + ms_per_minute; break;
    case temporal_precision::second: r.high = start + ms_per_second; break;
    case temporal_precision::millisecond: r.high = start + 1; break;
  }
  return r;
}

}  // namespace fhir::search
