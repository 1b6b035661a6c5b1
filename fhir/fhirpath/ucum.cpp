#include "fhir/fhirpath/ucum.hpp"

#include <cstring>
#include <unordered_map>

namespace fhir::fhirpath::ucum {
namespace {

enum dim_index { G, M, S, MOL, K, A, CD, ARB, CEL, DEGF, CAL_MONTH };

decimal d(std::string_view text) { return *decimal::parse(text); }

struct atom {
  decimal factor;
  dimensions dims;
  bool metric;  // takes prefixes
};

dimensions dim(std::initializer_list<std::pair<int, int>> exps) {
  dimensions out{};
  for (auto [i, e] : exps) out[static_cast<std::size_t>(i)] = static_cast<std::int8_t>(e);
  return out;
}

const std::unordered_map<std::string_view, atom>& atoms() {
  static const std::unordered_map<std::string_view, atom> table = {
      {"1", {d("1"), {}, false}},
      {"%", {d("0.01"), {}, false}},
      {"[ppm]", {d("0.000001"), {}, false}},
      {"m", {d("1"), dim({{M, 1}}), true}},
      {"s", {d("1"), dim({{S, 1}}), true}},
      {"g", {d("1"), dim({{G, 1}}), true}},
      {"mol", {d("1"), dim({{MOL, 1}}), true}},
      {"K", {d("1"), dim({{K, 1}}), true}},
      {"A", {d("1"), dim({{A, 1}}), true}},
      {"cd", {d("1"), dim({{CD, 1}}), true}},
      {"L", {d("0.001"), dim({{M, 3}}), true}},
      {"l", {d("0.001"), dim({{M, 3}}), true}},
      {"Hz", {d("1"), dim({{S, -1}}), true}},
      {"N", {d("1000"), dim({{G, 1}, {M, 1}, {S, -2}}), true}},
      {"Pa", {d("1000"), dim({{G, 1}, {M, -1}, {S, -2}}), true}},
      {"bar", {d("100000000"), dim({{G, 1}, {M, -1}, {S, -2}}), true}},
      {"J", {d("1000"), dim({{G, 1}, {M, 2}, {S, -2}}), true}},
      {"W", {d("1000"), dim({{G, 1}, {M, 2}, {S, -3}}), true}},
      {"cal", {d("4184"), dim({{G, 1}, {M, 2}, {S, -2}}), true}},
      {"eq", {d("1"), dim({{MOL, 1}}), true}},
      {"kat", {d("1"), dim({{MOL, 1}, {S, -1}}), true}},
      {"U", {d("0.000001"), dim({{MOL, 1}, {S, -1}}), true}},  // umol/min: the 1/60 is applied in simple()
      {"m[Hg]", {d("133322387.415"), dim({{G, 1}, {M, -1}, {S, -2}}), true}},
      {"[in_i]", {d("0.0254"), dim({{M, 1}}), false}},
      {"[ft_i]", {d("0.3048"), dim({{M, 1}}), false}},
      {"[yd_i]", {d("0.9144"), dim({{M, 1}}), false}},
      {"[mi_i]", {d("1609.344"), dim({{M, 1}}), false}},
      {"[lb_av]", {d("453.59237"), dim({{G, 1}}), false}},
      {"[oz_av]", {d("28.349523125"), dim({{G, 1}}), false}},
      {"[stone_av]", {d("6350.29318"), dim({{G, 1}}), false}},
      {"[gr]", {d("0.06479891"), dim({{G, 1}}), false}},
      {"min", {d("60"), dim({{S, 1}}), false}},
      {"h", {d("3600"), dim({{S, 1}}), false}},
      {"d", {d("86400"), dim({{S, 1}}), false}},
      {"wk", {d("604800"), dim({{S, 1}}), false}},
      {"mo", {d("2629800"), dim({{S, 1}}), false}},  // mean Julian month: 30.4375 d
      {"a", {d("31557600"), dim({{S, 1}}), false}},  // Julian year: 365.25 d
      {"[iU]", {d("1"), dim({{ARB, 1}}), true}},
      {"[IU]", {d("1"), dim({{ARB, 1}}), true}},
      {"Cel", {d("1"), dim({{CEL, 1}}), false}},
      {"[degF]", {d("1"), dim({{DEGF, 1}}), false}},
  };
  return table;
}

const std::unordered_map<std::string_view, decimal>& prefixes() {
  static const std::unordered_map<std::string_view, decimal> table = {
      {"Y", d("1000000000000000000000000")}, {"Z", d("1000000000000000000000")}, {"E", d("1000000000000000000")},
      {"P", d("1000000000000000")}, {"T", d("1000000000000")}, {"G", d("1000000000")}, {"M", d("1000000")},
      {"k", d("1000")}, {"h", d("100")}, {"da", d("10")}, {"d", d("0.1")}, {"c", d("0.01")}, {"m", d("0.001")},
      {"u", d("0.000001")}, {"n", d("0.000000001")}, {"p", d("0.000000000001")},
      {"f", d("0.000000000000001")}, {"a", d("0.000000000000000001")},
  };
  return table;
}

std::optional<unit> power(const unit& u, int exponent) {
  unit out;
  for (int i = 0; i < (exponent < 0 ? -exponent : exponent); ++i) {
    auto n = out.numerator.multiply(u.numerator), d = out.denominator.multiply(u.denominator);
    if (!n || !d) return std::nullopt;
    out.numerator = *n;
    out.denominator = *d;
  }
  if (exponent < 0) std::swap(out.numerator, out.denominator);
  for (std::size_t i = 0; i < out.dims.size(); ++i) out.dims[i] = static_cast<std::int8_t>(u.dims[i] * exponent);
  return out;
}

std::optional<unit> combine(const unit& a, const unit& b, bool divide) {
  unit out;
  auto n = a.numerator.multiply(divide ? b.denominator : b.numerator);
  auto d = a.denominator.multiply(divide ? b.numerator : b.denominator);
  if (!n || !d) return std::nullopt;
  out.numerator = *n;
  out.denominator = *d;
  for (std::size_t i = 0; i < out.dims.size(); ++i)
    out.dims[i] = static_cast<std::int8_t>(a.dims[i] + (divide ? -b.dims[i] : b.dims[i]));
  return out;
}

// An atom's unit; U (enzyme unit, umol/min) is the one atom whose size is not a terminating decimal.
unit atom_unit(std::string_view symbol, const atom& a) {
  unit u{a.factor, decimal::from_integer(1), a.dims};
  if (symbol == "U") u.denominator = decimal::from_integer(60);
  return u;
}

std::optional<unit> simple(std::string_view symbol) {
  const auto& table = atoms();
  if (auto it = table.find(symbol); it != table.end()) return atom_unit(symbol, it->second);
  // 10*3 and 10^3: powers of ten.
  if (symbol.starts_with("10*") || symbol.starts_with("10^")) {
    std::string_view e = symbol.substr(3);
    bool negative = !e.empty() && e[0] == '-';
    if (negative || (!e.empty() && e[0] == '+')) e.remove_prefix(1);
    if (e.empty() || e.size() > 2 || e.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    int n = std::stoi(std::string(e));
    unit ten{decimal::from_integer(10), decimal::from_integer(1), {}};
    return power(ten, negative ? -n : n);
  }
  for (std::size_t len : {2u, 1u}) {
    if (symbol.size() <= len) continue;
    auto p = prefixes().find(symbol.substr(0, len));
    if (p == prefixes().end()) continue;
    auto a = table.find(symbol.substr(len));
    if (a == table.end() || !a->second.metric) continue;
    unit u = atom_unit(symbol.substr(len), a->second);
    auto f = p->second.multiply(u.numerator);
    if (!f) return std::nullopt;
    u.numerator = *f;
    return u;
  }
  return std::nullopt;
}

// A recursive-descent parser for UCUM's term grammar.
class parser {
 public:
  explicit parser(std::string_view text) : s_(text) {}

  std::optional<unit> parse() {
    if (s_.empty()) return std::nullopt;
    auto u = term();
    if (!u || pos_ != s_.size()) return std::nullopt;
    return u;
  }

 private:
  std::optional<unit> term() {
    std::optional<unit> u;
    if (peek() == '/') {  // a leading division: "/min"
      ++pos_;
      auto c = component();
      if (!c) return std::nullopt;
      u = combine(unit{}, *c, true);
    } else {
      u = component();
    }
    while (u && (peek() == '.' || peek() == '/')) {
      bool divide = s_[pos_++] == '/';
      auto c = component();
      if (!c) return std::nullopt;
      u = combine(*u, *c, divide);
    }
    return u;
  }

  std::optional<unit> component() {
    if (peek() == '(') {
      ++pos_;
      auto u = term();
      if (!u || peek() != ')') return std::nullopt;
      ++pos_;
      return u;
    }
    if (peek() == '{') {
      return annotation() ? std::optional<unit>(unit{}) : std::nullopt;
    }
    std::size_t start = pos_;
    // A symbol runs until an operator, a parenthesis, an annotation or an exponent.
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '[') {
        auto close = s_.find(']', pos_);
        if (close == std::string_view::npos) return std::nullopt;
        pos_ = close + 1;
        continue;
      }
      if (c == '.' || c == '/' || c == '(' || c == ')' || c == '{') break;
      if ((c >= '0' && c <= '9') || c == '-' || c == '+') {
        // Digits start an exponent, unless the symbol so far is a number ("10", "1") or a power of ten
        // in the making ("10*", "10^").
        std::string_view so_far = s_.substr(start, pos_ - start);
        bool number = so_far.find_first_not_of("0123456789") == std::string_view::npos;
        if (!so_far.empty() && !number && so_far.back() != '*' && so_far.back() != '^') break;
        if (number && (c == '-' || c == '+')) break;
      }
      ++pos_;
    }
    std::string_view symbol = s_.substr(start, pos_ - start);
    if (symbol.empty()) return std::nullopt;
    int exponent = 1;
    if (pos_ < s_.size() && (s_[pos_] == '-' || s_[pos_] == '+' || (s_[pos_] >= '0' && s_[pos_] <= '9'))) {
      bool negative = s_[pos_] == '-';
      if (s_[pos_] == '-' || s_[pos_] == '+') ++pos_;
      std::size_t digits_start = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == digits_start || pos_ - digits_start > 2) return std::nullopt;
      exponent = std::stoi(std::string(s_.substr(digits_start, pos_ - digits_start)));
      if (negative) exponent = -exponent;
    }
    std::optional<unit> u;
    if (symbol.find_first_not_of("0123456789") == std::string_view::npos) {
      u = unit{*decimal::parse(symbol), decimal::from_integer(1), {}};  // a plain factor such as "1" or "100"
    } else {
      u = simple(symbol);
    }
    if (!u) return std::nullopt;
    if (peek() == '{' && !annotation()) return std::nullopt;
    return exponent == 1 ? u : power(*u, exponent);
  }

  bool annotation() {
    auto close = s_.find('}', pos_);
    if (close == std::string_view::npos) return false;
    pos_ = close + 1;
    return true;
  }

  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string_view calendar_keyword(std::string_view text) {
  static constexpr std::string_view keywords[] = {"year", "month", "week", "day", "hour", "minute", "second", "millisecond"};
  for (std::string_view k : keywords) {
    if (text == k) return k;
    if (text.size() == k.size() + 1 && text.starts_with(k) && text.back() == 's') return k;
  }
  return {};
}

std::optional<unit> resolve(std::string_view text) {
  if (std::string_view k = calendar_keyword(text); !k.empty()) {
    if (k == "year") return unit{decimal::from_integer(12), decimal::from_integer(1), dim({{CAL_MONTH, 1}})};
    if (k == "month") return unit{decimal::from_integer(1), decimal::from_integer(1), dim({{CAL_MONTH, 1}})};
    static const std::unordered_map<std::string_view, std::string_view> definite = {
        {"week", "wk"}, {"day", "d"}, {"hour", "h"}, {"minute", "min"}, {"second", "s"}, {"millisecond", "ms"}};
    return resolve(definite.at(k));
  }
  return parser(text).parse();
}

}  // namespace fhir::fhirpath::ucum
