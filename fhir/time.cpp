#include "fhir/time.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>

namespace fhir {
namespace {

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(std::int64_t y, int m) {
  static constexpr std::array<int, 12> days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[static_cast<std::size_t>(m - 1)];
}


struct civil {
  std::int64_t year;
  unsigned month, day;
};

civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

// Reads exactly `width` digits at `pos`.
std::optional<int> digits(std::string_view s, std::size_t pos, std::size_t width) {
  if (pos + width > s.size()) return std::nullopt;
  int out = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    out = out * 10 + (s[i] - '0');
  }
  return out;
}

constexpr std::array<const char*, 7> weekday_names = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
constexpr std::array<const char*, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

epoch_ms now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_instant(epoch_ms t) {
  std::int64_t days = floor_div(t, 86'400'000);
  std::int64_t ms_of_day = t - days * 86'400'000;
  civil c = civil_from_days(days);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(c.year),
                c.month, c.day, static_cast<long long>(ms_of_day / 3'600'000),
                static_cast<long long>(ms_of_day / 60'000 % 60), static_cast<long long>(ms_of_day / 1000 % 60),
                static_cast<long long>(ms_of_day % 1000));
  return buf;
}

std::optional<epoch_ms> parse_date_time(std::string_view s) {
  auto year = digits(s, 0, 4);
  if (!year) return std::nullopt;
  int month = 1, day = 1, hour = 0, minute = 0, second = 0;
  std::int64_t millis = 0, offset_minutes = 0;
  std::size_t pos = 4;
  if (pos < s.size()) {
    if (s[pos] != '-') return std::nullopt;
    auto m = digits(s, pos + 1, 2);
    if (!m || *m < 1 || *m > 12) return std::nullopt;
    month = *m;
    pos += 3;
  }
  if (pos < s.size()) {
    if (s[pos] != '-') return std::nullopt;
    auto d = digits(s, pos + 1, 2);
    if (!d || *d < 1 || *d > days_in_month(*year, month)) return std::nullopt;
    day = *d;
    pos += 3;
  }
  if (pos < s.size()) {
    if (s[pos] != 'T') return std::nullopt;
    auto h = digits(s, pos + 1, 2), mi = digits(s, pos + 4, 2), se = digits(s, pos + 7, 2);
    if (!h || !mi || !se || s[pos + 3] != ':' || s[pos + 6] != ':' || *h > 23 || *mi > 59 || *se > 60)
      return std::nullopt;
    hour = *h, minute = *mi, second = std::min(*se, 59);
    pos += 9;
    if (pos < s.size() && s[pos] == '.') {
      std::size_t start = ++pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      if (pos == start) return std::nullopt;
      std::string_view fraction = s.substr(start, std::min<std::size_t>(pos - start, 3));
      for (std::size_t i = 0; i < 3; ++i) millis = millis * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
    }
    if (pos >= s.size()) return std::nullopt;  // a time needs a zone
    if (s[pos] == 'Z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      auto oh = digits(s, pos + 1, 2), om = digits(s, pos + 4, 2);
      if (!oh || !om || s[pos + 3] != ':' || *oh > 14 || *om > 59) return std::nullopt;
      offset_minutes = (*oh * 60 + *om) * (s[pos] == '-' ? -1 : 1);
      pos += 6;
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;
  std::int64_t days = days_from_civil(*year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  std::int64_t seconds = days * 86'400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1000 + millis;
}

std::string format_http_date(epoch_ms t) {
  std::int64_t days = floor_div(t, 86'400'000);
  std::int64_t s_of_day = (t - days * 86'400'000) / 1000;
  civil c = civil_from_days(days);
  auto weekday = static_cast<std::size_t>(((days % 7) + 7) % 7);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04lld %02lld:%02lld:%02lld GMT", weekday_names[weekday], c.day,
                month_names[c.month - 1], static_cast<long long>(c.year), static_cast<long long>(s_of_day / 3600),
                static_cast<long long>(s_of_day / 60 % 60), static_cast<long long>(s_of_day % 60));
  return buf;
}

std::optional<epoch_ms> parse_http_date(std::string_view s) {
  // IMF-fixdate only: "Sun, 06 Nov 1994 08:49:37 GMT" (the obsolete forms are not sent by current clients).
  if (s.size() != 29 || s[3] != ',' || s.substr(26) != "GMT") return std::nullopt;
  auto day = digits(s, 5, 2), year = digits(s, 12, 4), h = digits(s, 17, 2), mi = digits(s, 20, 2),
       se = digits(s, 23, 2);
  if (!day || !year || !h || !mi || !se) return std::nullopt;
  std::string_view month_text = s.substr(8, 3);
  int month = 0;
  for (std::size_t i = 0; i < month_names.size(); ++i)
    if (month_text == month_names[i]) month = static_cast<int>(i) + 1;
  if (month == 0 || *day < 1 || *day > days_in_month(*year, month) || *h > 23 || *mi > 59 || *se > 60)
    return std::nullopt;
  std::int64_t days = days_from_civil(*year, static_cast<unsigned>(month), static_cast<unsigned>(*day));
  return (days * 86'400 + *h * 3600 + *mi * 60 + std::min(*se, 59)) * 1000;
}

bool has_valid_calendar_date(std::string_view text) {
  auto year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  if (!year || !month || !day) return true;  // no day part
  return *month >= 1 && *month <= 12 && *day >= 1 && *day <= days_in_month(*year, *month);
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace fhir
