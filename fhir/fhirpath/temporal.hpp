#pragma once
// FHIRPath Date, DateTime and Time values with partial precision ("@2015", "@2015-02-04T14:34Z", "@T10").
//
// Comparison follows FHIRPath: values are compared field by field down to the coarser precision, after
// moving both to UTC when both have a time zone; if they agree that far but differ in precision the
// result is unknown (nullopt). Seconds and milliseconds count as one precision. When only one side has
// a time zone, the comparison is unknown once it reaches the hours.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fhir::fhirpath {

enum class temporal_kind : std::uint8_t { date, date_time, time };
enum class temporal_precision : std::uint8_t { year, month, day, hour, minute, second, millisecond };

struct temporal {
  temporal_kind kind = temporal_kind::date;
  temporal_precision precision = temporal_precision::year;
  std::int32_t year = 0;
  std::uint8_t month = 1, day = 1, hour = 0, minute = 0, second = 0;
  std::uint16_t millisecond = 0;
  bool has_zone = false;
  std::int16_t zone_minutes = 0;

  // The FHIR/ISO text of a date ("2015-02"), dateTime ("2015-02-04T14:34:28.123+10:00"; "2015T" is not
  // produced) or time ("14:34"). nullopt when the text is not one.
  static std::optional<temporal> parse_date(std::string_view text);
  static std::optional<temporal> parse_date_time(std::string_view text);  // also accepts a bare date
  static std::optional<temporal> parse_time(std::string_view text);

  // The text without FHIRPath's '@' (times without 'T'), at the value's own precision.
  std::string to_string() const;
};

// <0, 0, >0, or nullopt when unknown (different precision, or a zone on one side only).
std::optional<int> compare(const temporal& a, const temporal& b);
// Equivalence (~): equal at the same precision; different precisions are simply not equivalent.
bool equivalent(const temporal& a, const temporal& b);

// Calendar arithmetic: adds `amount` of `unit` (year, month, week, day, hour, minute, second,
// millisecond). Months and years keep the day where it exists and clamp it otherwise (Jan 31 + 1 month =
// Feb 28/29). A unit finer than the value's precision is converted to the value's precision, truncating.
// nullopt when the result is out of range or the unit cannot apply (an hour added to a Time wraps around).
std::optional<temporal> add(const temporal& value, std::int64_t amount, temporal_precision unit);

// The number of digits of precision FHIRPath's precision() reports (2014 -> 4, T10:30 -> 4,
// 2014-01-05T10:30:00.000 -> 17).
int precision_digits(const temporal& value);

// The current moment (DateTime, millisecond precision, local zone offset) and today's date.
temporal now();
temporal today();

}  // namespace fhir::fhirpath
