#pragma once
// Positions on the Earth for `near` searches (R4 Location.near: `[latitude]|[longitude]|[distance]|[units]`,
// WGS84 degrees). A point is stored with its unit vector, so "within d of q" is a test on the straight
// line between the two vectors, |p - q|^2 <= (2 sin(d / 2R))^2: arithmetic the store evaluates on every
// candidate row after seeking on latitude, exact near 0 (where an angle from a dot product is not).

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>
#include <string>
#include <string_view>

namespace fhir::search {

// The mean radius of the Earth (IUGG), in km: distances are great-circle distances on this sphere.
constexpr double earth_radius_km = 6371.0088;
// What `near` means when the search gives no distance (the specification leaves it to the server).
constexpr double default_near_km = 10;

struct unit_vector {
  double x, y, z;
};

inline double radians(double degrees) { return degrees * std::numbers::pi / 180; }

inline unit_vector on_unit_sphere(double latitude, double longitude) {
  double phi = radians(latitude), lambda = radians(longitude);
  return {std::cos(phi) * std::cos(lambda), std::cos(phi) * std::sin(lambda), std::sin(phi)};
}

// A `near` search: the point, the distance and what the store tests.
struct near_value {
  double latitude = 0, longitude = 0;
  double distance_km = default_near_km;

  // At least half the circumference: every point on the sphere is that near.
  bool whole_sphere() const { return distance_km >= std::numbers::pi * earth_radius_km; }
  // The squared chord of the largest angle between the point and a match: 4 (the whole sphere) from
  // half the circumference on. Loosened by 1e-15 (0.2 m at the Earth's radius) against rounding.
  double max_chord_squared() const {
    double chord = 2 * std::sin(std::min(distance_km / earth_radius_km, std::numbers::pi) / 2);
    return chord * chord + 1e-15;
  }
  // The latitudes a match can have, in degrees: the seek's bounds.
  double min_latitude() const { return std::max(-90.0, latitude - distance_km / earth_radius_km * 180 / std::numbers::pi); }
  double max_latitude() const { return std::min(90.0, latitude + distance_km / earth_radius_km * 180 / std::numbers::pi); }
};

// Kilometres per unit of the units `near` accepts (UCUM codes), or nullopt for another unit.
inline std::optional<double> km_per_unit(std::string_view unit) {
  if (unit.empty() || unit == "km") return 1.0;
  if (unit == "m") return 0.001;
  if (unit == "[mi_i]") return 1.609344;
  if (unit == "[nmi_i]") return 1.852;
  return std::nullopt;
}

}  // namespace fhir::search
