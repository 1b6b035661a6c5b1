// iif, the toX/convertsToX conversions, and the precision functions (precision, lowBoundary,
// highBoundary, comparable).

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/fhirpath/functions.hpp"
#include "fhir/fhirpath/quantity_math.hpp"
#include "fhir/fhirpath/ucum.hpp"

namespace fhir::fhirpath {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The single input item's System value; empty input gives nullopt; a complex node is an error.
std::optional<item> input_value(evaluator& ev, const ast_node& call, const collection& input) {
  auto i = ev.input_singleton(input, call);
  if (!i) return std::nullopt;
  auto v = ev.value_of(*i);
  if (!v) return std::nullopt;
  return v;
}

std::optional<bool> to_boolean_value(const item& v) {
  switch (v.kind()) {
    case item_kind::boolean: return v.as_boolean();
    case item_kind::integer:
      if (v.as_integer() == 1) return true;
      if (v.as_integer() == 0) return false;
      return std::nullopt;
    case item_kind::decimal:
      if (v.as_decimal() == decimal::from_integer(1)) return true;
      if (v.as_decimal().is_zero()) return false;
      return std::nullopt;
    case item_kind::string: {
      std::string s = lower(v.as_string());
      if (s == "true" || s == "t" || s == "yes" || s == "y" || s == "1" || s == "1.0") return true;
      if (s == "false" || s == "f" || s == "no" || s == "n" || s == "0" || s == "0.0") return false;
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

bool is_integer_text(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

bool is_decimal_text(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  auto point = s.find('.');
  std::string_view whole = s.substr(0, point);
  if (whole.empty() || whole.find_first_not_of("0123456789") != std::string_view::npos) return false;
  if (point == std::string_view::npos) return true;
  std::string_view fraction = s.substr(point + 1);
  return !fraction.empty() && fraction.find_first_not_of("0123456789") == std::string_view::npos;
}

std::optional<item> to_integer_value(const item& v) {
  switch (v.kind()) {
    case item_kind::integer: return v;
    case item_kind::boolean: return item::of_integer(v.as_boolean() ? 1 : 0);
    case item_kind::string: {
      if (!is_integer_text(v.as_string())) return std::nullopt;
      auto d = decimal::parse(v.as_string());
      if (!d || !d->to_int64() || *d->to_int64() > INT32_MAX || *d->to_int64() < INT32_MIN) return std::nullopt;
      return item::of_integer(*d->to_int64());
    }
    default: return std::nullopt;
  }
}

std::optional<item> to_decimal_value(const item& v) {
  switch (v.kind()) {
    case item_kind::decimal: return v;
    case item_kind::integer: return item::of_decimal(decimal::from_integer(v.as_integer()));
    case item_kind::boolean: return item::of_decimal(*decimal::parse(v.as_boolean() ? "1.0" : "0.0"));
    case item_kind::string: {
      if (!is_decimal_text(v.as_string())) return std::nullopt;
      auto d = decimal::parse(v.as_string());
      if (!d) return std::nullopt;
      return item::of_decimal(*d);
    }
    default: return std::nullopt;
  }
}

std::string quantity_text(const quantity& q) {
  if (!ucum::calendar_keyword(q.unit).empty()) return fmt::format("{} {}", q.value.to_string(), q.unit);
  return fmt::format("{} '{}'", q.value.to_string(), q.unit);
}

std::optional<std::string> to_string_value(const item& v) {
  switch (v.kind()) {
    case item_kind::string: return std::string(v.as_string());
    case item_kind::boolean: return std::string(v.as_boolean() ? "true" : "false");
    case item_kind::integer: return std::to_string(v.as_integer());
    case item_kind::decimal: return v.as_decimal().to_string();
    case item_kind::temporal: return v.as_temporal().to_string();
    case item_kind::quantity: return quantity_text(v.as_quantity());
    default: return std::nullopt;
  }
}

// "10 'mg'", "4 days", "1.5", "1 '1'". Unquoted units must be calendar keywords.
std::optional<quantity> parse_quantity(std::string_view s, evaluator& ev) {
  auto space = s.find(' ');
  std::string_view number = s.substr(0, space);
  if (!is_decimal_text(number)) return std::nullopt;
  auto value = decimal::parse(number);
  if (!value) return std::nullopt;
  if (space == std::string_view::npos) return quantity{*value, "1"};
  std::string_view unit = s.substr(space + 1);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  if (unit.size() >= 2 && unit.front() == '\'' && unit.back() == '\'') {
    unit = unit.substr(1, unit.size() - 2);
    if (unit.empty()) return std::nullopt;
    return quantity{*value, ev.store(unit)};
  }
  if (ucum::calendar_keyword(unit).empty()) return std::nullopt;
  return quantity{*value, ev.store(unit)};
}

std::optional<item> to_quantity_value(const item& v, evaluator& ev) {
  switch (v.kind()) {
    case item_kind::quantity: return v;
    case item_kind::integer: return item::of_quantity(quantity{decimal::from_integer(v.as_integer()), "1"});
    case item_kind::decimal: return item::of_quantity(quantity{v.as_decimal(), "1"});
    case item_kind::boolean: return item::of_quantity(quantity{*decimal::parse(v.as_boolean() ? "1.0" : "0.0"), "1"});
    case item_kind::string:
      if (auto q = parse_quantity(v.as_string(), ev)) return item::of_quantity(*q);
      return std::nullopt;
    default: return std::nullopt;
  }
}

std::optional<item> to_temporal_value(const item& v, temporal_kind kind) {
  if (v.kind() == item_kind::temporal) {
    temporal t = v.as_temporal();
    if (t.kind == kind) return v;
    if (kind == temporal_kind::date && t.kind == temporal_kind::date_time) {
      t.kind = temporal_kind::date;
      t.precision = std::min(t.precision, temporal_precision::day);
      t.has_zone = false;
      return item::of_temporal(t);
    }
    if (kind == temporal_kind::date_time && t.kind == temporal_kind::date) {
      t.kind = temporal_kind::date_time;
      return item::of_temporal(t);
    }
    return std::nullopt;
  }
  if (v.kind() != item_kind::string) return std::nullopt;
  std::optional<temporal> t;
  std::string_view s = v.as_string();
  if (kind == temporal_kind::date) t = temporal::parse_date(s);
  else if (kind == temporal_kind::date_time) t = temporal::parse_date_time(s);
  else t = temporal::parse_time(s);
  if (!t) return std::nullopt;
  return item::of_temporal(*t);
}

// to<X>() and convertsTo<X>() from one conversion.
template <std::optional<item> (*Convert)(const item&)>
void to(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  if (auto v = input_value(ev, call, input))
    if (auto r = Convert(*v)) out.push_back(*r);
}

template <std::optional<item> (*Convert)(const item&)>
void converts_to(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  if (auto v = input_value(ev, call, input)) out.push_back(item::of_boolean(Convert(*v).has_value()));
}

std::optional<item> boolean_conversion(const item& v) {
  auto b = to_boolean_value(v);
  return b ? std::optional<item>(item::of_boolean(*b)) : std::nullopt;
}
std::optional<item> date_conversion(const item& v) { return to_temporal_value(v, temporal_kind::date); }
std::optional<item> date_time_conversion(const item& v) { return to_temporal_value(v, temporal_kind::date_time); }
std::optional<item> time_conversion(const item& v) { return to_temporal_value(v, temporal_kind::time); }

void to_string(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  if (auto v = input_value(ev, call, input))
    if (auto s = to_string_value(*v)) out.push_back(item::of_string(ev.store(*s)));
}

void converts_to_string(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  if (auto v = input_value(ev, call, input)) out.push_back(item::of_boolean(to_string_value(*v).has_value()));
}

// toQuantity(unit?): with a unit, the quantity converted to it when the units are comparable.
std::optional<item> quantity_conversion(evaluator& ev, const ast_node& call, const item& v) {
  auto q = to_quantity_value(v, ev);
  if (!q || call.args.empty()) return q;
  auto unit = ev.string_argument(call, 0);
  if (!unit) return std::nullopt;
  const quantity& from = q->as_quantity();
  if (from.unit == *unit) return q;
  auto source = ucum::resolve(from.unit), target = ucum::resolve(*unit);
  if (!source || !target || source->dims != target->dims) return std::nullopt;
  auto numerator = from.value.multiply(source->numerator);
  if (numerator) numerator = numerator->multiply(target->denominator);
  auto denominator = source->denominator.multiply(target->numerator);
  if (!numerator || !denominator) return std::nullopt;
  auto converted = numerator->divide(*denominator);
  if (!converted) return std::nullopt;
  return item::of_quantity(quantity{*converted, ev.store(*unit)});
}

void to_quantity(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  if (auto v = input_value(ev, call, input))
    if (auto r = quantity_conversion(ev, call, *v)) out.push_back(*r);
}

void converts_to_quantity(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  if (auto v = input_value(ev, call, input)) out.push_back(item::of_boolean(quantity_conversion(ev, call, *v).has_value()));
}

// iif(criterion, true-result [, otherwise-result]): lazy in its results; $this is the input item.
void iif(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto self = ev.singleton(input, "the input of iif()");
  collection focus = self ? ev.single(*self) : ev.scope();
  auto frame = ev.current_frame();
  if (self) ev.current_frame().this_item = &*self;
  auto criterion = ev.to_boolean(ev.eval_argument(call, 0, focus), "the criterion of iif()");
  collection result = ev.make();
  if (criterion == true) result = ev.eval_argument(call, 1, focus);
  else if (call.args.size() > 2) result = ev.eval_argument(call, 2, focus);
  ev.current_frame() = frame;
  out.insert(out.end(), result.begin(), result.end());
}

// --- precision, lowBoundary, highBoundary, comparable ------------------------------------------------

constexpr int default_decimal_precision = 8;
constexpr int max_decimal_precision = 31;

// The boundary of a non-negative decimal at `precision` digits: the value -/+ half a unit of its last
// digit, then truncated (low) or rounded (high) to the precision.
std::optional<decimal> positive_boundary(const decimal& v, int precision, bool high) {
  decimal half = decimal::from_parts(5, v.scale() + 1);
  auto edge = high ? v.add(half) : v.subtract(half);
  if (!edge) return std::nullopt;
  if (high) return edge->round(precision);
  if (precision >= edge->scale()) return edge->rescale(precision);
  decimal::coefficient_type p = power_of_ten(edge->scale() - precision);
  return decimal::from_parts(edge->coefficient() / p, precision);
}

// A negative value's low boundary is the negated high boundary of its magnitude, and vice versa.
std::optional<decimal> decimal_boundary(const decimal& v, int precision, bool high) {
  if (!v.is_negative()) return positive_boundary(v, precision, high);
  auto magnitude = positive_boundary(v.negate(), precision, !high);
  if (!magnitude) return std::nullopt;
  return magnitude->negate();
}

std::optional<temporal> temporal_boundary(temporal t, int digits, bool high) {
  // digits: 4 year, 6 month, 8 day, 10 hour, 12 minute, 14 second, 17 millisecond (times: 2, 4, 6, 9).
  temporal_precision target;
  if (t.kind == temporal_kind::time) {
    switch (digits) {
      case 2: target = temporal_precision::hour; break;
      case 4: target = temporal_precision::minute; break;
      case 6: target = temporal_precision::second; break;
      case 9: target = temporal_precision::millisecond; break;
      default: return std::nullopt;
    }
  } else {
    switch (digits) {
      case 4: target = temporal_precision::year; break;
      case 6: target = temporal_precision::month; break;
      case 8: target = temporal_precision::day; break;
      case 10: target = temporal_precision::hour; break;
      case 12: target = temporal_precision::minute; break;
      case 14: target = temporal_precision::second; break;
      case 17: target = temporal_precision::millisecond; break;
      default: return std::nullopt;
    }
    if (t.kind == temporal_kind::date && target > temporal_precision::day) return std::nullopt;
  }
  // Fill the fields below the value's own precision with their least or greatest possible value.
  auto at_least = [&](temporal_precision p) { return t.precision >= p; };
  if (!at_least(temporal_precision::month)) t.month = high ? 12 : 1;
  if (!at_least(temporal_precision::day)) {
    static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (t.year % 4 == 0 && t.year % 100 != 0) || t.year % 400 == 0;
    t.day = static_cast<std::uint8_t>(high ? (t.month == 2 && leap ? 29 : days[t.month - 1]) : 1);
  }
  if (!at_least(temporal_precision::hour)) t.hour = high ? 23 : 0;
  if (!at_least(temporal_precision::minute)) t.minute = high ? 59 : 0;
  if (!at_least(temporal_precision::second)) t.second = high ? 59 : 0;
  if (!at_least(temporal_precision::millisecond)) t.millisecond = high ? 999 : 0;
  // A DateTime without a zone could be in any zone: the low boundary is the earliest (+14:00), the
  // high boundary the latest (-12:00).
  if (t.kind == temporal_kind::date_time && !t.has_zone && target >= temporal_precision::hour) {
    t.has_zone = true;
    t.zone_minutes = static_cast<std::int16_t>(high ? -12 * 60 : 14 * 60);
  }
  t.precision = target;
  return t;
}

template <bool High>
void boundary(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto v = input_value(ev, call, input);
  if (!v) return;
  std::optional<std::int64_t> precision;
  if (!call.args.empty()) {
    precision = ev.integer_argument(call, 0);
    if (!precision) return;
  }
  switch (v->kind()) {
    case item_kind::integer:
    case item_kind::decimal:
    case item_kind::quantity: {
      int p = static_cast<int>(precision.value_or(default_decimal_precision));
      if (p < 0 || p > max_decimal_precision) return;
      decimal d = v->kind() == item_kind::integer ? decimal::from_integer(v->as_integer())
                  : v->kind() == item_kind::decimal ? v->as_decimal()
                                                    : v->as_quantity().value;
      auto b = decimal_boundary(d, p, High);
      if (!b) return;
      if (v->kind() == item_kind::quantity) out.push_back(item::of_quantity(quantity{*b, v->as_quantity().unit}));
      else out.push_back(item::of_decimal(*b));
      return;
    }
    case item_kind::temporal: {
      const temporal& t = v->as_temporal();
      int p = static_cast<int>(precision.value_or(t.kind == temporal_kind::time ? 9 : t.kind == temporal_kind::date ? 8 : 17));
      if (auto b = temporal_boundary(t, p, High)) out.push_back(item::of_temporal(*b));
      return;
    }
    default: ev.fail(fmt::format("{}() needs a number, a quantity or a date/time", call.name));
  }
}

void precision(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto v = input_value(ev, call, input);
  if (!v) return;
  switch (v->kind()) {
    case item_kind::decimal: out.push_back(item::of_integer(v->as_decimal().scale())); return;
    case item_kind::integer: out.push_back(item::of_integer(0)); return;
    case item_kind::temporal: out.push_back(item::of_integer(precision_digits(v->as_temporal()))); return;
    default: ev.fail("precision() needs a decimal or a date/time");
  }
}

void comparable(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto v = input_value(ev, call, input);
  auto other = ev.singleton(ev.eval_argument(call, 0), "the argument of comparable()");
  if (!v || !other) return;
  auto o = ev.value_of(*other);
  if (v->kind() != item_kind::quantity || !o || o->kind() != item_kind::quantity) ev.fail("comparable() needs quantities");
  out.push_back(item::of_boolean(comparable_units(v->as_quantity().unit, o->as_quantity().unit)));
}

const function_definition table[] = {
    {"iif", 2, 3, iif},
    {"toBoolean", 0, 0, to<boolean_conversion>},
    {"convertsToBoolean", 0, 0, converts_to<boolean_conversion>},
    {"toInteger", 0, 0, to<to_integer_value>},
    {"convertsToInteger", 0, 0, converts_to<to_integer_value>},
    {"toDecimal", 0, 0, to<to_decimal_value>},
    {"convertsToDecimal", 0, 0, converts_to<to_decimal_value>},
    {"toString", 0, 0, to_string},
    {"convertsToString", 0, 0, converts_to_string},
    {"toDate", 0, 0, to<date_conversion>},
    {"convertsToDate", 0, 0, converts_to<date_conversion>},
    {"toDateTime", 0, 0, to<date_time_conversion>},
    {"convertsToDateTime", 0, 0, converts_to<date_time_conversion>},
    {"toTime", 0, 0, to<time_conversion>},
    {"convertsToTime", 0, 0, converts_to<time_conversion>},
    {"toQuantity", 0, 1, to_quantity},
    {"convertsToQuantity", 0, 1, converts_to_quantity},
    {"lowBoundary", 0, 1, boundary<false>},
    {"highBoundary", 0, 1, boundary<true>},
    {"precision", 0, 0, precision},
    {"comparable", 1, 1, comparable},
};

}  // namespace

std::span<const function_definition> conversion_functions() { return table; }

}  // namespace fhir::fhirpath
