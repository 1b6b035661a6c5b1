#include "fhir/fhirpath/decimal.hpp"

#include <algorithm>
#include <cmath>

namespace fhir::fhirpath {
namespace {

using int128 = decimal::coefficient_type;

constexpr int128 max_coefficient() {
  int128 v = 1;
  for (int i = 0; i < 38; ++i) v *= 10;
  return v - 1;  // 38 nines: keeps every operation's intermediate within int128
}

bool fits(int128 v) { return v <= max_coefficient() && v >= -max_coefficient(); }

// Multiplies by 10^n, nullopt on overflow.
std::optional<int128> scale_up(int128 v, int n) {
  if (n < 0 || n > 38) return std::nullopt;
  int128 result;
  if (__builtin_mul_overflow(v, power_of_ten(n), &result) || !fits(result)) return std::nullopt;
  return result;
}

// Divides by 10^n rounding half away from zero.
int128 scale_down_rounded(int128 v, int n) {
  if (n <= 0) return v;
  if (n > 38) return 0;
  int128 p = power_of_ten(n);
  int128 q = v / p, r = v % p;
  if (r < 0) r = -r;
  if (2 * r >= p) q += v < 0 ? -1 : 1;
  return q;
}

}  // namespace

namespace {
struct powers_of_ten {
  int128 values[39];
  constexpr powers_of_ten() : values() {
    values[0] = 1;
    for (int i = 1; i < 39; ++i) values[i] = values[i - 1] * 10;
  }
};
constexpr powers_of_ten powers;
}  // namespace

int128 power_of_ten(int n) { return powers.values[n]; }

std::optional<decimal> decimal::parse(std::string_view text) {
  // Fast path: up to 18 digits with an optional point and sign, no exponent (nearly every FHIR value).
  if (!text.empty() && text.size() <= 19) {
    std::size_t i = text[0] == '-' ? 1 : 0;
    std::uint64_t v = 0;
    int scale = -1, digits = 0;
    bool simple = i < text.size();
    for (; i < text.size() && simple; ++i) {
      char c = text[i];
      if (c >= '0' && c <= '9') {
        v = v * 10 + static_cast<unsigned>(c - '0');
        ++digits;
        if (scale >= 0) ++scale;
      } else if (c == '.' && scale < 0 && digits > 0) {
        scale = 0;
      } else {
        simple = false;
      }
    }
    if (simple && digits > 0 && scale != 0) {
      int128 c = static_cast<int128>(v);
      return decimal(text[0] == '-' ? -c : c, scale < 0 ? 0 : scale);
    }
  }
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  int128 coefficient = 0;
  int scale = 0, digits = 0;
  bool any = false, point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (point) return std::nullopt;
      point = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    any = true;
    if (digits > 0 || c != '0') ++digits;
    if (digits > 38) return std::nullopt;
    coefficient = coefficient * 10 + (c - '0');
    if (point) ++scale;
  }
  if (!any) return std::nullopt;
  int exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) exp_negative = text[i++] == '-';
    if (i == text.size()) return std::nullopt;
    for (; i < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9' || exponent > 1000) return std::nullopt;
      exponent = exponent * 10 + (text[i] - '0');
    }
    if (exp_negative) exponent = -exponent;
  }
  if (i != text.size()) return std::nullopt;
  scale -= exponent;
  if (scale < 0) {
    auto up = scale_up(coefficient, -scale);
    if (!up) return std::nullopt;
    coefficient = *up;
    scale = 0;
  }
  if (scale > max_scale) return std::nullopt;
  return decimal(negative ? -coefficient : coefficient, scale);
}

std::optional<decimal> decimal::from_double(long double value, int scale) {
  if (!std::isfinite(value) || scale < 0 || scale > 18) return std::nullopt;
  long double scaled = std::round(value * static_cast<long double>(power_of_ten(scale)));
  if (std::fabs(scaled) > 1e36L) return std::nullopt;
  return decimal(static_cast<int128>(scaled), scale);
}

bool decimal::is_integral() const { return scale_ == 0 || coefficient_() % power_of_ten(scale_) == 0; }

std::optional<std::int64_t> decimal::to_int64() const {
  if (!is_integral()) return std::nullopt;
  int128 v = coefficient_() / power_of_ten(scale_);
  if (v > INT64_MAX || v < INT64_MIN) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

long double decimal::to_long_double() const {
  return static_cast<long double>(coefficient_()) / static_cast<long double>(power_of_ten(scale_));
}

std::string decimal::to_string() const {
  int128 v = coefficient_() < 0 ? -coefficient_() : coefficient_();
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v > 0);
  while (static_cast<int>(digits.size()) <= scale_) digits.push_back('0');
  std::reverse(digits.begin(), digits.end());
  if (scale_ > 0) digits.insert(digits.end() - scale_, '.');
  if (coefficient_() < 0) digits.insert(digits.begin(), '-');
  return digits;
}

int decimal::compare(const decimal& other) const {
  // Fast path: coefficients below 2^33 and at most 9 digits of scale apart, so that scaling one by up to
  // 10^9 stays inside 64 bits (2^33 * 10^9 < 2^63).
  constexpr int128 small = int128{1} << 33;
  int diff = scale_ - other.scale_;
  if (coefficient_() < small && coefficient_() > -small && other.coefficient_() < small && other.coefficient_() > -small &&
      diff >= -9 && diff <= 9) {
    auto a = static_cast<std::int64_t>(coefficient_()), b = static_cast<std::int64_t>(other.coefficient_());
    auto p = static_cast<std::int64_t>(power_of_ten(diff < 0 ? -diff : diff));
    if (diff < 0) a *= p;
    else b *= p;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  int s = std::max(scale_, other.scale_);
  auto a = scale_up(coefficient_(), s - scale_);
  auto b = scale_up(other.coefficient_(), s - other.scale_);
  if (a && b) return *a < *b ? -1 : *a > *b ? 1 : 0;
  long double x = to_long_double(), y = other.to_long_double();
  return x < y ? -1 : x > y ? 1 : 0;
}

std::optional<decimal> decimal::add(const decimal& other) const {
  int s = std::max(scale_, other.scale_);
  auto a = scale_up(coefficient_(), s - scale_);
  auto b = scale_up(other.coefficient_(), s - other.scale_);
  if (!a || !b) return std::nullopt;
  int128 sum = *a + *b;
  if (!fits(sum)) return std::nullopt;
  return decimal(sum, s);
}

std::optional<decimal> decimal::subtract(const decimal& other) const { return add(other.negate()); }

std::optional<decimal> decimal::multiply(const decimal& other) const {
  int128 product;
  int scale = scale_ + other.scale_;
  int128 a = coefficient_(), b = other.coefficient_();
  // Drop digits of the operands' scale until the product fits, as long as there is scale to give.
  while (__builtin_mul_overflow(a, b, &product) || !fits(product)) {
    if (scale <= 0) return std::nullopt;
    if (a % 10 == 0 && a != 0) a /= 10;
    else if (b % 10 == 0 && b != 0) b /= 10;
    else if ((a < 0 ? -a : a) > (b < 0 ? -b : b)) a = scale_down_rounded(a, 1);
    else b = scale_down_rounded(b, 1);
    --scale;
  }
  if (scale > max_scale) return decimal(scale_down_rounded(product, scale - max_scale), max_scale);
  return decimal(product, scale);
}

std::optional<decimal> decimal::divide(const decimal& other, int min_scale) const {
  if (other.coefficient_() == 0) return std::nullopt;
  int target = std::max({min_scale, scale_, other.scale_});
  // value = (a / 10^sa) / (b / 10^sb) = (a * 10^(target + sb - sa) / b) / 10^target
  int shift = target + other.scale_ - scale_;
  int128 numerator = coefficient_(), denominator = other.coefficient_();
  if (shift >= 0) {
    // One extra digit for rounding.
    auto n = scale_up(numerator, shift + 1);
    if (!n) return std::nullopt;
    numerator = *n;
  } else {
    auto d = scale_up(denominator, -shift);
    if (!d) return std::nullopt;
    denominator = *d;
    auto n = scale_up(numerator, 1);
    if (!n) return std::nullopt;
    numerator = *n;
  }
  int128 q = numerator / denominator;
  return decimal(scale_down_rounded(q, 1), target);
}

std::optional<decimal> decimal::round(int digits) const {
  if (digits < 0 || digits > max_scale) return std::nullopt;
  if (digits >= scale_) {
    auto up = scale_up(coefficient_(), digits - scale_);
    if (!up) return std::nullopt;
    return decimal(*up, digits);
  }
  return decimal(scale_down_rounded(coefficient_(), scale_ - digits), digits);
}

decimal decimal::truncate() const { return decimal(coefficient_() / power_of_ten(scale_), 0); }

decimal decimal::floor() const {
  decimal t = truncate();
  if (coefficient_() < 0 && !is_integral()) t.set_coefficient(t.coefficient_() - 1);
  return t;
}

decimal decimal::ceiling() const {
  decimal t = truncate();
  if (coefficient_() > 0 && !is_integral()) t.set_coefficient(t.coefficient_() + 1);
  return t;
}

}  // namespace fhir::fhirpath
