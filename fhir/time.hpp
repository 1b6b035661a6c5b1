#pragma once
// Time in FHIR: instants as milliseconds since the Unix epoch (UTC), their FHIR and HTTP text forms, and
// calendar checks for FHIR date/dateTime strings. Pure functions; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fhir {

// Milliseconds since 1970-01-01T00:00:00Z.
using epoch_ms = std::int64_t;

epoch_ms now_ms();

// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day);

// "2026-11-25T16:13:18.123Z": the form the server writes for meta.lastUpdated.
std::string format_instant(epoch_ms t);

// Parses a FHIR instant or dateTime ("2026-11-25T16:13:18.123+01:00", "2026-11-25T16:13:18Z") to the
// instant it denotes. Partial dates ("2026", "2026-11", "2026-11-25") denote their first moment in UTC.
// Returns nullopt when the text is not a valid FHIR dateTime.
std::optional<epoch_ms> parse_date_time(std::string_view text);

// RFC 7231 IMF-fixdate: "Wed, 25 Nov 2026 16:13:18 GMT" (second precision).
std::string format_http_date(epoch_ms t);
std::optional<epoch_ms> parse_http_date(std::string_view text);

// True when the year-month-day prefix of a FHIR date/dateTime names a real day (or has no day part):
// "2023-02-29" is false. Assumes the text already matched the type's regex.
bool has_valid_calendar_date(std::string_view text);

}  // namespace fhir
