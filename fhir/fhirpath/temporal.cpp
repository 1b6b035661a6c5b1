#include "fhir/fhirpath/temporal.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "fhir/time.hpp"

namespace fhir::fhirpath {
namespace {

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(std::int64_t y, int m) {
  static constexpr std::array<int, 12> days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[static_cast<std::size_t>(m - 1)];
}


void civil_from_days(std::int64_t z, std::int32_t& year, std::uint8_t& month, std::uint8_t& day) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = static_cast<std::uint8_t>(doy - (153 * mp + 2) / 5 + 1);
  month = static_cast<std::uint8_t>(mp < 10 ? mp + 3 : mp - 9);
  year = static_cast<std::int32_t>(y + (month <= 2));
}

std::optional<int> digits(std::string_view s, std::size_t pos, std::size_t width) {
  if (pos + width > s.size()) return std::nullopt;
  int out = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    out = out * 10 + (s[i] - '0');
  }
  return out;
}

// Parses "hh[:mm[:ss[.fff]]]" at pos into t; returns the position after it or npos.
std::size_t parse_clock(std::string_view s, std::size_t pos, temporal& t) {
  auto h = digits(s, pos, 2);
  if (!h || *h > 23) return std::string_view::npos;
  t.hour = static_cast<std::uint8_t>(*h);
  t.precision = temporal_precision::hour;
  pos += 2;
  if (pos < s.size() && s[pos] == ':') {
    auto m = digits(s, pos + 1, 2);
    if (!m || *m > 59) return std::string_view::npos;
    t.minute = static_cast<std::uint8_t>(*m);
    t.precision = temporal_precision::minute;
    pos += 3;
    if (pos < s.size() && s[pos] == ':') {
      auto sec = digits(s, pos + 1, 2);
      if (!sec || *sec > 60) return std::string_view::npos;
      t.second = static_cast<std::uint8_t>(*sec == 60 ? 59 : *sec);
      t.precision = temporal_precision::second;
      pos += 3;
      if (pos < s.size() && s[pos] == '.') {
        std::size_t start = ++pos;
        int ms = 0, n = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (n < 3) ms = ms * 10 + (s[pos] - '0');
          ++n;
          ++pos;
        }
        if (pos == start) return std::string_view::npos;
        for (; n < 3; ++n) ms *= 10;
        t.millisecond = static_cast<std::uint16_t>(ms);
        t.precision = temporal_precision::millisecond;
      }
    }
  }
  return pos;
}

// Parses "Z" or "+hh:mm"/"-hh:mm" at pos; returns the position after it, or npos.
std::size_t parse_zone(std::string_view s, std::size_t pos, temporal& t) {
  if (pos >= s.size()) return pos;
  if (s[pos] == 'Z') {
    t.has_zone = true;
    t.zone_minutes = 0;
    return pos + 1;
  }
  if (s[pos] != '+' && s[pos] != '-') return std::string_view::npos;
  auto h = digits(s, pos + 1, 2), m = digits(s, pos + 4, 2);
  if (!h || !m || pos + 3 >= s.size() || s[pos + 3] != ':' || *h > 14 || *m > 59) return std::string_view::npos;
  t.has_zone = true;
  t.zone_minutes = static_cast<std::int16_t>((*h * 60 + *m) * (s[pos] == '-' ? -1 : 1));
  return pos + 6;
}

std::size_t parse_calendar(std::string_view s, temporal& t) {
  auto y = digits(s, 0, 4);
  if (!y) return std::string_view::npos;
  t.year = *y;
  t.precision = temporal_precision::year;
  std::size_t pos = 4;
  if (pos < s.size() && s[pos] == '-') {
    auto m = digits(s, pos + 1, 2);
    if (!m || *m < 1 || *m > 12) return std::string_view::npos;
    t.month = static_cast<std::uint8_t>(*m);
    t.precision = temporal_precision::month;
    pos += 3;
    if (pos < s.size() && s[pos] == '-') {
      auto d = digits(s, pos + 1, 2);
      if (!d || *d < 1 || *d > days_in_month(t.year, t.month)) return std::string_view::npos;
      t.day = static_cast<std::uint8_t>(*d);
      t.precision = temporal_precision::day;
      pos += 3;
    }
  }
  return pos;
}

// Milliseconds since the epoch of the value's fields as if they were UTC, shifted by its zone.
std::int64_t utc_millis(const temporal& t) {
  std::int64_t days = t.kind == temporal_kind::time ? 0 : fhir::days_from_civil(t.year, t.month, t.day);
  std::int64_t ms = days * 86'400'000 + (t.hour * 3600 + t.minute * 60 + t.second) * 1000LL + t.millisecond;
  if (t.has_zone) ms -= t.zone_minutes * 60'000LL;
  return ms;
}

temporal from_utc_millis(std::int64_t ms, const temporal& shape) {
  temporal t = shape;
  if (t.has_zone) ms += t.zone_minutes * 60'000LL;
  std::int64_t days = ms >= 0 ? ms / 86'400'000 : -((-ms + 86'399'999) / 86'400'000);
  std::int64_t rest = ms - days * 86'400'000;
  if (t.kind != temporal_kind::time) civil_from_days(days, t.year, t.month, t.day);
  t.hour = static_cast<std::uint8_t>(rest / 3'600'000);
  t.minute = static_cast<std::uint8_t>(rest / 60'000 % 60);
  t.second = static_cast<std::uint8_t>(rest / 1000 % 60);
  t.millisecond = static_cast<std::uint16_t>(rest % 1000);
  return t;
}

// Seconds and milliseconds are one precision for comparison.
int comparison_level(temporal_precision p) {
  return p == temporal_precision::millisecond ? static_cast<int>(temporal_precision::second) : static_cast<int>(p);
}

}  // namespace

std::optional<temporal> temporal::parse_date(std::string_view text) {
  temporal t;
  t.kind = temporal_kind::date;
  std::size_t pos = parse_calendar(text, t);
  if (pos != text.size()) return std::nullopt;
  return t;
}

std::optional<temporal> temporal::parse_date_time(std::string_view text) {
  temporal t;
  t.kind = temporal_kind::date_time;
  std::size_t pos = parse_calendar(text, t);
  if (pos == std::string_view::npos) return std::nullopt;
  if (pos < text.size() && text[pos] == 'T') {
    ++pos;
    if (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (t.precision != temporal_precision::day) return std::nullopt;
      pos = parse_clock(text, pos, t);
      if (pos == std::string_view::npos) return std::nullopt;
      pos = parse_zone(text, pos, t);
    }
  }
  if (pos != text.size()) return std::nullopt;
  return t;
}

std::optional<temporal> temporal::parse_time(std::string_view text) {
  temporal t;
  t.kind = temporal_kind::time;
  t.year = 0;
  std::size_t pos = parse_clock(text, 0, t);
  if (pos != text.size()) return std::nullopt;
  return t;
}

std::string temporal::to_string() const {
  char buf[64];
  std::string out;
  if (kind != temporal_kind::time) {
    std::snprintf(buf, sizeof buf, "%04d", year);
    out = buf;
    if (precision >= temporal_precision::month) {
      std::snprintf(buf, sizeof buf, "-%02d", month);
      out += buf;
    }
    if (precision >= temporal_precision::day) {
      std::snprintf(buf, sizeof buf, "-%02d", day);
      out += buf;
    }
    if (kind == temporal_kind::date || precision < temporal_precision::hour) return out;
    out += 'T';
  }
  std::snprintf(buf, sizeof buf, "%02d", hour);
  out += buf;
  if (precision >= temporal_precision::minute) {
    std::snprintf(buf, sizeof buf, ":%02d", minute);
    out += buf;
  }
  if (precision >= temporal_precision::second) {
    std::snprintf(buf, sizeof buf, ":%02d", second);
    out += buf;
  }
  if (precision >= temporal_precision::millisecond) {
    std::snprintf(buf, sizeof buf, ".%03d", millisecond);
    out += buf;
  }
  if (kind == temporal_kind::date_time && has_zone) {
    if (zone_minutes == 0) {
      out += 'Z';
    } else {
      int z = zone_minutes < 0 ? -zone_minutes : zone_minutes;
      std::snprintf(buf, sizeof buf, "%c%02d:%02d", zone_minutes < 0 ? '-' : '+', z / 60, z % 60);
      out += buf;
    }
  }
  return out;
}

std::optional<int> compare(const temporal& a, const temporal& b) {
  if ((a.kind == temporal_kind::time) != (b.kind == temporal_kind::time)) return std::nullopt;
  int common = std::min(comparison_level(a.precision), comparison_level(b.precision));
  bool reaches_clock = common >= static_cast<int>(temporal_precision::hour);
  temporal x = a, y = b;
  if (reaches_clock) {
    if (a.has_zone != b.has_zone) return std::nullopt;
    if (a.has_zone) {
      x = from_utc_millis(utc_millis(a), temporal{a.kind, a.precision});
      y = from_utc_millis(utc_millis(b), temporal{b.kind, b.precision});
    }
  }
  auto field = [](const temporal& t, int level) -> std::int64_t {
    switch (level) {
      case 0: return t.year;
      case 1: return t.month;
      case 2: return t.day;
      case 3: return t.hour;
      case 4: return t.minute;
      default: return t.second * 1000 + t.millisecond;
    }
  };
  int first = x.kind == temporal_kind::time ? static_cast<int>(temporal_precision::hour) : 0;
  for (int level = first; level <= common; ++level) {
    std::int64_t fx = field(x, level), fy = field(y, level);
    if (fx != fy) return fx < fy ? -1 : 1;
  }
  if (comparison_level(a.precision) != comparison_level(b.precision)) return std::nullopt;
  return 0;
}

bool equivalent(const temporal& a, const temporal& b) {
  if (comparison_level(a.precision) != comparison_level(b.precision)) return false;
  auto c = compare(a, b);
  return c && *c == 0;
}

std::optional<temporal> add(const temporal& value, std::int64_t amount, temporal_precision unit) {
  temporal t = value;
  if (unit == temporal_precision::year || unit == temporal_precision::month) {
    if (t.kind == temporal_kind::time) return std::nullopt;
    if (unit == temporal_precision::month && t.precision == temporal_precision::year) amount /= 12, unit = temporal_precision::year;
    std::int64_t months = t.year * 12LL + (t.month - 1) + (unit == temporal_precision::year ? amount * 12 : amount);
    std::int64_t year = months >= 0 ? months / 12 : -((-months + 11) / 12);
    if (year < 1 || year > 9999) return std::nullopt;
    t.year = static_cast<std::int32_t>(year);
    t.month = static_cast<std::uint8_t>(months - year * 12 + 1);
    t.day = static_cast<std::uint8_t>(std::min<int>(t.day, days_in_month(t.year, t.month)));
    return t;
  }
  // Definite durations: convert to milliseconds, truncated to the value's precision.
  static constexpr std::int64_t unit_ms[] = {0, 0, 86'400'000, 3'600'000, 60'000, 1000, 1};
  std::int64_t ms = amount * unit_ms[static_cast<int>(unit)];
  static constexpr std::int64_t precision_ms[] = {0, 0, 86'400'000, 3'600'000, 60'000, 1000, 1};
  if (t.precision <= temporal_precision::month) {
    // A year or month value: days and finer are below its precision.
    return t;
  }
  std::int64_t granularity = precision_ms[static_cast<int>(t.precision)];
  ms = ms / granularity * granularity;
  if (t.kind == temporal_kind::time) {
    std::int64_t day_ms = 86'400'000;
    std::int64_t v = (utc_millis(t) + ms) % day_ms;
    if (v < 0) v += day_ms;
    return from_utc_millis(v, t);
  }
  temporal result = from_utc_millis(utc_millis(t) + ms, t);
  if (result.year < 1 || result.year > 9999) return std::nullopt;
  return result;
}

int precision_digits(const temporal& value) {
  static constexpr int date_digits[] = {4, 6, 8, 10, 12, 14, 17};
  static constexpr int time_digits[] = {0, 0, 0, 2, 4, 6, 9};
  int p = static_cast<int>(value.precision);
  return value.kind == temporal_kind::time ? time_digits[p] : date_digits[p];
}

temporal now() {
  using namespace std::chrono;
  auto now_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(now_ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  temporal shape{temporal_kind::date_time, temporal_precision::millisecond};
  shape.has_zone = true;
  shape.zone_minutes = static_cast<std::int16_t>(local.tm_gmtoff / 60);
  return from_utc_millis(now_ms, shape);
}

temporal today() {
  temporal t = now();
  t.kind = temporal_kind::date;
  t.precision = temporal_precision::day;
  t.has_zone = false;
  t.hour = t.minute = t.second = 0;
  t.millisecond = 0;
  return t;
}

}  // namespace fhir::fhirpath
