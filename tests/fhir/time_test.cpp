#include <catch2/catch.hpp>

#include "fhir/time.hpp"

TEST_CASE("instants format with milliseconds in UTC", "[fhir][time]") {
  CHECK(fhir::format_instant(0) == "1970-01-01T00:00:00.000Z");
  CHECK(fhir::format_instant(1'700'000'000'123) == "2023-11-14T22:13:20.123Z");
  CHECK(fhir::format_instant(951'782'400'000) == "2000-02-29T00:00:00.000Z");
}

TEST_CASE("FHIR dateTimes parse to the instant they denote", "[fhir][time]") {
  CHECK(fhir::parse_date_time("2023-11-14T22:13:20.123Z") == 1'700'000'000'123);
  CHECK(fhir::parse_date_time("2023-11-14T23:13:20.123+01:00") == 1'700'000'000'123);
  CHECK(fhir::parse_date_time("2023-11-14T22:13:20Z") == 1'700'000'000'000);
  CHECK(fhir::parse_date_time("1970") == 0);
  CHECK(fhir::parse_date_time("1970-01-02") == 86'400'000);
  CHECK_FALSE(fhir::parse_date_time("2023-02-29").has_value());
  CHECK_FALSE(fhir::parse_date_time("2023-11-14T22:13:20").has_value());  // a time needs a zone
  CHECK_FALSE(fhir::parse_date_time("2023-13").has_value());
  CHECK_FALSE(fhir::parse_date_time("yesterday").has_value());
}

TEST_CASE("HTTP dates round-trip at second precision", "[fhir][time]") {
  CHECK(fhir::format_http_date(784'111'777'000) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(fhir::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784'111'777'000);
  CHECK_FALSE(fhir::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").has_value());
}

TEST_CASE("calendar validity of date prefixes", "[fhir][time]") {
  CHECK(fhir::has_valid_calendar_date("2024-02-29"));
  CHECK_FALSE(fhir::has_valid_calendar_date("2023-02-29"));
  CHECK_FALSE(fhir::has_valid_calendar_date("2023-04-31T10:00:00Z"));
  CHECK(fhir::has_valid_calendar_date("2023-04"));
  CHECK(fhir::has_valid_calendar_date("2023"));
}
