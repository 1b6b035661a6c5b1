#pragma once
// FHIRPath Decimal: exact decimal arithmetic (no binary floating-point error: 0.1 + 0.2 = 0.3).
//
// A value is coefficient * 10^-scale with a 128-bit coefficient, so up to 38 significant digits; the
// scale is kept as written (1.50 has scale 2), which FHIRPath needs for precision, equivalence and
// lowBoundary/highBoundary. Operations that would overflow return nullopt, which the evaluator reports.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fhir::fhirpath {

class decimal {
 public:
  using coefficient_type = __int128;
  static constexpr int max_scale = 38;
  // Scale of results whose exact value needs more digits (division, roots, logarithms).
  static constexpr int division_scale = 8;

  constexpr decimal() = default;
  static decimal from_integer(std::int64_t value) { return decimal(value, 0); }
  static decimal from_parts(coefficient_type coefficient, int scale) { return decimal(coefficient, scale); }
  // FHIR/JSON number syntax, exponents included: "-1.50", "1e3", "2.5E-2". nullopt when not a number or
  // beyond 38 digits.
  static std::optional<decimal> parse(std::string_view text);
  // The nearest decimal to `value` at `scale` digits, nullopt for NaN, infinities and overflow.
  static std::optional<decimal> from_double(long double value, int scale = division_scale);

  coefficient_type coefficient() const { return coefficient_(); }
  int scale() const { return scale_; }
  bool is_zero() const { return coefficient_() == 0; }
  bool is_negative() const { return coefficient_() < 0; }
  // True when the value has no fractional part (1.00 is integral).
  bool is_integral() const;
  std::optional<std::int64_t> to_int64() const;  // integral values in range only
  long double to_long_double() const;
  // Text with the value's own scale: 1.50 -> "1.50", 3 -> "3".
  std::string to_string() const;

  // Value comparison (1.0 == 1.00): negative, zero or positive.
  int compare(const decimal& other) const;
  bool operator==(const decimal& other) const { return compare(other) == 0; }

  std::optional<decimal> add(const decimal& other) const;
  std::optional<decimal> subtract(const decimal& other) const;
  std::optional<decimal> multiply(const decimal& other) const;
  // nullopt on division by zero or overflow; the result has at least division_scale digits.
  std::optional<decimal> divide(const decimal& other, int min_scale = division_scale) const;
  decimal negate() const { return decimal(-coefficient_(), scale_); }
  decimal abs() const { return coefficient_() < 0 ? negate() : *this; }

  // Rounds half away from zero to `digits` fractional digits (the result has exactly that scale).
  std::optional<decimal> round(int digits) const;
  // Changes the scale without changing the value where possible (extends with zeros, or rounds).
  std::optional<decimal> rescale(int digits) const { return round(digits); }
  decimal truncate() const;  // toward zero, scale 0
  decimal floor() const;
  decimal ceiling() const;

 private:
  constexpr decimal(coefficient_type c, int s)
      : low_(static_cast<std::uint64_t>(static_cast<unsigned __int128>(c))),
        high_(static_cast<std::uint64_t>(static_cast<unsigned __int128>(c) >> 64)),
        scale_(s) {}

  // The coefficient is kept as two 64-bit halves rather than an __int128 member, which would force
  // 16-byte alignment and make every FHIRPath item 64 bytes instead of 48.
  constexpr coefficient_type coefficient_() const {
    return static_cast<coefficient_type>((static_cast<unsigned __int128>(high_) << 64) | low_);
  }
  void set_coefficient(coefficient_type c) {
    low_ = static_cast<std::uint64_t>(static_cast<unsigned __int128>(c));
    high_ = static_cast<std::uint64_t>(static_cast<unsigned __int128>(c) >> 64);
  }

  std::uint64_t low_ = 0;
  std::uint64_t high_ = 0;
  int scale_ = 0;
};

// 10^n as a coefficient, for 0 <= n <= 38.
decimal::coefficient_type power_of_ten(int n);

}  // namespace fhir::fhirpath
