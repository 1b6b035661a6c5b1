#include "fhir/fhirpath/quantity_math.hpp"

#include <algorithm>
#include <string>

#include "fhir/fhirpath/ucum.hpp"

namespace fhir::fhirpath {
namespace {

// value_a * unit_a compared with value_b * unit_b, exactly: cross-multiplied by the denominators.
std::optional<std::pair<decimal, decimal>> comparable_values(const quantity& a, const ucum::unit& ua, const quantity& b,
                                                             const ucum::unit& ub) {
  auto x = a.value.multiply(ua.numerator), y = b.value.multiply(ub.numerator);
  if (!x || !y) return std::nullopt;
  x = x->multiply(ub.denominator);
  y = y->multiply(ua.denominator);
  if (!x || !y) return std::nullopt;
  return std::pair{*x, *y};
}

// `value` of unit `from` expressed in unit `to`, at the precision of the input (or 8 digits).
std::optional<decimal> convert(const decimal& value, const ucum::unit& from, const ucum::unit& to, int scale) {
  auto n = value.multiply(from.numerator);
  if (!n) return std::nullopt;
  n = n->multiply(to.denominator);
  auto d = from.denominator.multiply(to.numerator);
  if (!n || !d) return std::nullopt;
  return n->divide(*d, scale);
}

// A unit expression that can be used as an operand of '.' or '/'.
std::string operand(std::string_view unit) {
  if (unit.find_first_of("./") == std::string_view::npos) return std::string(unit);
  return "(" + std::string(unit) + ")";
}

}  // namespace

std::optional<int> compare_quantities(const quantity& a, const quantity& b) {
  if (a.unit == b.unit && ucum::calendar_keyword(a.unit).empty()) return a.value.compare(b.value);
  auto ua = ucum::resolve(a.unit), ub = ucum::resolve(b.unit);
  if (!ua || !ub || ua->dims != ub->dims) return std::nullopt;
  auto values = comparable_values(a, *ua, b, *ub);
  if (!values) return std::nullopt;
  return values->first.compare(values->second);
}

bool equivalent_quantities(const quantity& a, const quantity& b) {
  // Compared in the unit of `a`, rounded to the precision of the less precise of the two values:
  // 4 'g' ~ 4040 'mg' (4.040 g at the precision of 4).
  decimal vb = b.value;
  if (a.unit != b.unit) {
    auto ua = ucum::resolve(a.unit), ub = ucum::resolve(b.unit);
    if (!ua || !ub || ua->dims != ub->dims) return false;
    auto converted = convert(b.value, *ub, *ua, 20);
    if (!converted) return false;
    vb = *converted;
  }
  int scale = std::min(a.value.scale(), b.value.scale());
  auto x = a.value.round(scale), y = vb.round(scale);
  return x && y && *x == *y;
}

bool comparable_units(std::string_view a, std::string_view b) {
  auto ua = ucum::resolve(a), ub = ucum::resolve(b);
  return ua && ub && ua->dims == ub->dims;
}

std::optional<temporal> add_duration(const temporal& value, const quantity& amount, bool subtract) {
  std::string_view unit = amount.unit;
  temporal_precision precision;
  std::int64_t multiplier = 1;
  std::string_view keyword = ucum::calendar_keyword(unit);
  if (keyword == "year") precision = temporal_precision::year;
  else if (keyword == "month") precision = temporal_precision::month;
  else if (keyword == "week" || unit == "wk") precision = temporal_precision::day, multiplier = 7;
  else if (keyword == "day" || unit == "d") precision = temporal_precision::day;
  else if (keyword == "hour" || unit == "h") precision = temporal_precision::hour;
  else if (keyword == "minute" || unit == "min") precision = temporal_precision::minute;
  else if (keyword == "second" || unit == "s") precision = temporal_precision::second;
  else if (keyword == "millisecond" || unit == "ms") precision = temporal_precision::millisecond;
  else return std::nullopt;
  auto whole = amount.value.truncate().to_int64();
  if (!whole) return std::nullopt;
  std::int64_t n = *whole * multiplier;
  return add(value, subtract ? -n : n, precision);
}

std::optional<std::optional<item>> quantity_arithmetic(binary_op op, const item& x, const item& y, arena& memory) {
  auto as_number = [](const item& i) -> std::optional<decimal> {
    if (i.kind() == item_kind::integer) return decimal::from_integer(i.as_integer());
    if (i.kind() == item_kind::decimal) return i.as_decimal();
    return std::nullopt;
  };
  bool xq = x.kind() == item_kind::quantity, yq = y.kind() == item_kind::quantity;
  if (xq && yq) {
    const quantity &a = x.as_quantity(), &b = y.as_quantity();
    if (op == binary_op::add || op == binary_op::subtract) {
      decimal vb = b.value;
      if (a.unit != b.unit) {
        auto ua = ucum::resolve(a.unit), ub = ucum::resolve(b.unit);
        if (!ua || !ub || ua->dims != ub->dims) return std::nullopt;
        auto converted = convert(b.value, *ub, *ua, std::max(b.value.scale(), a.value.scale()));
        if (!converted) return std::nullopt;
        vb = *converted;
      }
      auto r = op == binary_op::add ? a.value.add(vb) : a.value.subtract(vb);
      if (!r) return std::nullopt;
      return std::optional<item>(item::of_quantity(quantity{*r, a.unit}));
    }
    if (op == binary_op::multiply || op == binary_op::divide) {
      if (!ucum::resolve(a.unit) || !ucum::resolve(b.unit)) return std::nullopt;
      std::optional<decimal> r;
      std::string unit;
      if (op == binary_op::multiply) {
        r = a.value.multiply(b.value);
        unit = a.unit == "1" ? std::string(b.unit) : b.unit == "1" ? std::string(a.unit) : operand(a.unit) + "." + operand(b.unit);
      } else {
        if (b.value.is_zero()) return std::optional<item>();
        r = a.value.divide(b.value);
        unit = a.unit == b.unit ? "1" : b.unit == "1" ? std::string(a.unit) : operand(a.unit) + "/" + operand(b.unit);
      }
      if (!r) return std::nullopt;
      return std::optional<item>(item::of_quantity(quantity{*r, memory.copy(unit)}));
    }
    return std::nullopt;
  }
  // A quantity scaled by a number.
  if (op == binary_op::multiply || (op == binary_op::divide && xq)) {
    const quantity& q = xq ? x.as_quantity() : y.as_quantity();
    auto n = as_number(xq ? y : x);
    if (!n) return std::nullopt;
    std::optional<decimal> r;
    if (op == binary_op::multiply) {
      r = q.value.multiply(*n);
    } else {
      if (n->is_zero()) return std::optional<item>();
      r = q.value.divide(*n);
    }
    if (!r) return std::nullopt;
    return std::optional<item>(item::of_quantity(quantity{*r, q.unit}));
  }
  return std::nullopt;
}

}  // namespace fhir::fhirpath
