// String and math functions.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include <fmt/format.h>
#include <re2/re2.h>

#include "fhir/base64.hpp"
#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/fhirpath/functions.hpp"

namespace fhir::fhirpath {
namespace {

// The input as a single String: empty input gives nullopt; a non-String is an error.
std::optional<std::string_view> input_string(evaluator& ev, const ast_node& call, const collection& input) {
  auto i = ev.input_singleton(input, call);
  if (!i) return std::nullopt;
  auto v = ev.value_of(*i);
  if (!v || v->kind() != item_kind::string) ev.fail(fmt::format("{}() needs a String input", call.name));
  return v->as_string();
}

// FHIRPath counts characters, not bytes: these helpers work in UTF-8 code points.
std::size_t code_point_count(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::size_t byte_offset(std::string_view s, std::size_t code_points) {
  std::size_t i = 0;
  for (std::size_t seen = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == code_points) return i;
      ++seen;
    }
  }
  return s.size();
}

void index_of(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  auto needle = ev.string_argument(call, 0);
  if (!s || !needle) return;
  auto pos = s->find(*needle);
  out.push_back(item::of_integer(pos == std::string_view::npos ? -1 : static_cast<std::int64_t>(code_point_count(s->substr(0, pos)))));
}

void substring(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  auto start = ev.integer_argument(call, 0);
  if (!s || !start) return;
  std::int64_t length_cp = static_cast<std::int64_t>(code_point_count(*s));
  if (*start < 0 || *start >= length_cp) return;
  std::optional<std::int64_t> length;
  if (call.args.size() > 1) {
    length = ev.integer_argument(call, 1);
    if (!length) return;  // an empty length means "to the end"? FHIRPath: empty -> treated as absent
  }
  std::size_t from = byte_offset(*s, static_cast<std::size_t>(*start));
  std::size_t to = length ? byte_offset(*s, static_cast<std::size_t>(std::max<std::int64_t>(0, *start + *length))) : s->size();
  out.push_back(item::of_string(s->substr(from, to > from ? to - from : 0)));
}

template <int Mode>  // 0 startsWith, 1 endsWith, 2 contains
void text_test(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  auto t = ev.string_argument(call, 0);
  if (!s || !t) return;
  bool r = Mode == 0 ? s->starts_with(*t) : Mode == 1 ? s->ends_with(*t) : s->find(*t) != std::string_view::npos;
  out.push_back(item::of_boolean(r));
}

template <bool Upper>
void change_case(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  if (!s) return;
  std::string r(*s);
  for (char& c : r) c = static_cast<char>(Upper ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
  out.push_back(item::of_string(ev.store(r)));
}

void replace(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  auto pattern = ev.string_argument(call, 0);
  auto substitution = ev.string_argument(call, 1);
  if (!s || !pattern || !substitution) return;
  std::string r;
  if (pattern->empty()) {
    // '' matches between every character: 'abc'.replace('', 'x') = 'xaxbxcx'.
    r += *substitution;
    for (std::size_t i = 0; i < s->size(); ++i) {
      r.push_back((*s)[i]);
      if (i + 1 == s->size() || (static_cast<unsigned char>((*s)[i + 1]) & 0xC0) != 0x80) r += *substitution;
    }
  } else {
    std::size_t from = 0;
    for (auto pos = s->find(*pattern); pos != std::string_view::npos; pos = s->find(*pattern, from)) {
      r.append(s->substr(from, pos - from));
      r += *substitution;
      from = pos + pattern->size();
    }
    r.append(s->substr(from));
  }
  out.push_back(item::of_string(ev.store(r)));
}

// FHIRPath regexes follow the usual syntax; RE2 runs them in linear time. A pattern RE2 cannot compile
// is an evaluation error. DOTALL: '.' matches newlines, as the suite's 'A\n\t\t\tB'.matches('A.*B') needs.
std::unique_ptr<re2::RE2> compile_regex(evaluator& ev, std::string_view pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_dot_nl(true);
  auto re = std::make_unique<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) ev.fail(fmt::format("invalid regular expression '{}': {}", pattern, re->error()));
  return re;
}

template <bool Full>
void matches(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  auto pattern = ev.string_argument(call, 0);
  if (!s || !pattern) return;
  auto re = compile_regex(ev, *pattern);
  re2::StringPiece text(s->data(), s->size());
  out.push_back(item::of_boolean(Full ? RE2::FullMatch(text, *re) : RE2::PartialMatch(text, *re)));
}

void replace_matches(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  auto pattern = ev.string_argument(call, 0);
  auto substitution = ev.string_argument(call, 1);
  if (!s || !pattern || !substitution) return;
  if (pattern->empty()) {
    out.push_back(item::of_string(*s));
    return;
  }
  auto re = compile_regex(ev, *pattern);
  // FHIRPath writes group references as $1; RE2 as \1.
  std::string rewrite;
  for (std::size_t i = 0; i < substitution->size(); ++i) {
    char c = (*substitution)[i];
    if (c == '$' && i + 1 < substitution->size() && std::isdigit(static_cast<unsigned char>((*substitution)[i + 1]))) rewrite += '\\';
    else if (c == '\\') rewrite += '\\';
    rewrite += c;
  }
  std::string r(*s);
  RE2::GlobalReplace(&r, *re, rewrite);
  out.push_back(item::of_string(ev.store(r)));
}

void length(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  if (auto s = input_string(ev, call, input)) out.push_back(item::of_integer(static_cast<std::int64_t>(code_point_count(*s))));
}

void to_chars(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  if (!s) return;
  for (std::size_t i = 0; i < s->size();) {
    std::size_t j = i + 1;
    while (j < s->size() && (static_cast<unsigned char>((*s)[j]) & 0xC0) == 0x80) ++j;
    out.push_back(item::of_string(s->substr(i, j - i)));
    i = j;
  }
}

void trim(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  if (!s) return;
  auto first = s->find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    out.push_back(item::of_string({}));
    return;
  }
  auto last = s->find_last_not_of(" \t\r\n");
  out.push_back(item::of_string(s->substr(first, last - first + 1)));
}

void split(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  auto separator = ev.string_argument(call, 0);
  if (!s || !separator) return;
  if (separator->empty()) {
    to_chars(ev, call, input, out);
    return;
  }
  std::size_t from = 0;
  for (auto pos = s->find(*separator); pos != std::string_view::npos; pos = s->find(*separator, from)) {
    out.push_back(item::of_string(s->substr(from, pos - from)));
    from = pos + separator->size();
  }
  out.push_back(item::of_string(s->substr(from)));
}

void join(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  std::string_view separator;
  if (!call.args.empty()) separator = ev.string_argument(call, 0).value_or("");
  std::string r;
  for (std::size_t i = 0; i < input.size(); ++i) {
    auto v = ev.value_of(input[i]);
    if (!v || v->kind() != item_kind::string) ev.fail("join() needs a collection of Strings");
    if (i) r += separator;
    r += v->as_string();
  }
  out.push_back(item::of_string(ev.store(r)));
}

void encode(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  auto format = ev.string_argument(call, 0);
  if (!s || !format) return;
  std::string r;
  if (*format == "base64" || *format == "urlbase64") {
    r = base64_encode(*s, *format == "urlbase64");
  } else if (*format == "hex") {
    for (char c : *s) r += fmt::format("{:02x}", static_cast<unsigned char>(c));
  } else {
    ev.fail(fmt::format("encode(): unknown format '{}'", *format));
  }
  out.push_back(item::of_string(ev.store(r)));
}

void decode(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  auto format = ev.string_argument(call, 0);
  if (!s || !format) return;
  std::optional<std::string> r;
  if (*format == "base64" || *format == "urlbase64") {
    r = base64_decode(*s, *format == "urlbase64");
  } else if (*format == "hex") {
    if (s->size() % 2 == 0) {
      r.emplace();
      for (std::size_t i = 0; i < s->size(); i += 2) {
        int hi = std::isxdigit(static_cast<unsigned char>((*s)[i])) ? std::stoi(std::string(s->substr(i, 2)), nullptr, 16) : -1;
        if (hi < 0) {
          r.reset();
          break;
        }
        r->push_back(static_cast<char>(hi));
      }
    }
  } else {
    ev.fail(fmt::format("decode(): unknown format '{}'", *format));
  }
  if (r) out.push_back(item::of_string(ev.store(*r)));
}

void escape(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  auto format = ev.string_argument(call, 0);
  if (!s || !format) return;
  std::string r;
  if (*format == "html") {
    for (char c : *s) {
      switch (c) {
        case '"': r += "&quot;"; break;
        case '&': r += "&amp;"; break;
        case '<': r += "&lt;"; break;
        case '>': r += "&gt;"; break;
        case '\'': r += "&#39;"; break;
        default: r.push_back(c);
      }
    }
  } else if (*format == "json") {
    for (char c : *s) {
      switch (c) {
        case '"': r += "\\\""; break;
        case '\\': r += "\\\\"; break;
        case '\n': r += "\\n"; break;
        case '\r': r += "\\r"; break;
        case '\t': r += "\\t"; break;
        default: r.push_back(c);
      }
    }
  } else {
    ev.fail(fmt::format("escape(): unknown format '{}'", *format));
  }
  out.push_back(item::of_string(ev.store(r)));
}

void unescape(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto s = input_string(ev, call, input);
  auto format = ev.string_argument(call, 0);
  if (!s || !format) return;
  std::string r;
  if (*format == "html") {
    static constexpr std::pair<std::string_view, char> entities[] = {
        {"&quot;", '"'}, {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&#39;", '\''}, {"&apos;", '\''}};
    for (std::size_t i = 0; i < s->size();) {
      bool replaced = false;
      for (auto [entity, c] : entities) {
        if (s->substr(i).starts_with(entity)) {
          r.push_back(c);
          i += entity.size();
          replaced = true;
          break;
        }
      }
      if (!replaced) r.push_back((*s)[i++]);
    }
  } else if (*format == "json") {
    for (std::size_t i = 0; i < s->size(); ++i) {
      char c = (*s)[i];
      if (c == '\\' && i + 1 < s->size()) {
        char e = (*s)[++i];
        switch (e) {
          case 'n': r.push_back('\n'); break;
          case 'r': r.push_back('\r'); break;
          case 't': r.push_back('\t'); break;
          default: r.push_back(e);
        }
      } else {
        r.push_back(c);
      }
    }
  } else {
    ev.fail(fmt::format("unescape(): unknown format '{}'", *format));
  }
  out.push_back(item::of_string(ev.store(r)));
}

// --- maths -----------------------------------------------------------------------------------------

// The single input as a number (Integer or Decimal) or Quantity; nullopt for empty input.
std::optional<item> input_number(evaluator& ev, const ast_node& call, const collection& input, bool allow_quantity = false) {
  auto i = ev.input_singleton(input, call);
  if (!i) return std::nullopt;
  auto v = ev.value_of(*i);
  bool ok = v && (v->kind() == item_kind::integer || v->kind() == item_kind::decimal || (allow_quantity && v->kind() == item_kind::quantity));
  if (!ok) ev.fail(fmt::format("{}() needs a number", call.name));
  return v;
}

decimal as_decimal(const item& v) {
  return v.kind() == item_kind::integer ? decimal::from_integer(v.as_integer()) : v.as_decimal();
}

void push_decimal(evaluator& ev, collection& out, std::optional<decimal> d) {
  if (!d) ev.fail("numeric overflow");
  out.push_back(item::of_decimal(*d));
}

// Results of transcendental functions: computed in long double, kept to the decimal scale.
void push_real(evaluator& ev, collection& out, long double value) {
  if (std::isnan(value) || std::isinf(value)) return;  // outside the function's domain: empty
  auto d = decimal::from_double(value);
  if (!d) ev.fail("numeric overflow");
  out.push_back(item::of_decimal(*d));
}

void abs(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto v = input_number(ev, call, input, true);
  if (!v) return;
  if (v->kind() == item_kind::integer) out.push_back(item::of_integer(v->as_integer() < 0 ? -v->as_integer() : v->as_integer()));
  else if (v->kind() == item_kind::decimal) out.push_back(item::of_decimal(v->as_decimal().abs()));
  else out.push_back(item::of_quantity(quantity{v->as_quantity().value.abs(), v->as_quantity().unit}));
}

template <int Mode>  // 0 ceiling, 1 floor, 2 truncate
void integral(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto v = input_number(ev, call, input);
  if (!v) return;
  if (v->kind() == item_kind::integer) {
    out.push_back(*v);
    return;
  }
  decimal d = Mode == 0 ? v->as_decimal().ceiling() : Mode == 1 ? v->as_decimal().floor() : v->as_decimal().truncate();
  auto i = d.to_int64();
  if (!i) ev.fail("numeric overflow");
  out.push_back(item::of_integer(*i));
}

void exp(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  if (auto v = input_number(ev, call, input)) push_real(ev, out, std::exp(as_decimal(*v).to_long_double()));
}

void ln(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  if (auto v = input_number(ev, call, input)) push_real(ev, out, std::log(as_decimal(*v).to_long_double()));
}

void log(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto v = input_number(ev, call, input);
  auto base_item = ev.singleton(ev.eval_argument(call, 0), "the base of log()");
  if (!v || !base_item) return;
  auto base = ev.value_of(*base_item);
  if (!base || (base->kind() != item_kind::integer && base->kind() != item_kind::decimal)) ev.fail("log() needs a numeric base");
  push_real(ev, out, std::log(as_decimal(*v).to_long_double()) / std::log(as_decimal(*base).to_long_double()));
}

void power(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto v = input_number(ev, call, input);
  auto exponent_item = ev.singleton(ev.eval_argument(call, 0), "the exponent of power()");
  if (!v || !exponent_item) return;
  auto e = ev.value_of(*exponent_item);
  if (!e || (e->kind() != item_kind::integer && e->kind() != item_kind::decimal)) ev.fail("power() needs a numeric exponent");
  if (v->kind() == item_kind::integer && e->kind() == item_kind::integer && e->as_integer() >= 0) {
    std::int64_t r = 1;
    for (std::int64_t i = 0; i < e->as_integer(); ++i)
      if (__builtin_mul_overflow(r, v->as_integer(), &r)) ev.fail("integer overflow");
    out.push_back(item::of_integer(r));
    return;
  }
  long double r = std::pow(as_decimal(*v).to_long_double(), as_decimal(*e).to_long_double());
  if (v->kind() == item_kind::decimal || e->kind() == item_kind::decimal) {
    // Exact powers keep an exact, short decimal: 2.5.power(2) = 6.25.
    if (auto d = decimal::from_double(r, 8)) {
      auto trimmed = *d;
      while (trimmed.scale() > 0 && trimmed.coefficient() % 10 == 0) trimmed = decimal::from_parts(trimmed.coefficient() / 10, trimmed.scale() - 1);
      out.push_back(item::of_decimal(trimmed));
      return;
    }
  }
  push_real(ev, out, r);
}

void round(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto v = input_number(ev, call, input);
  if (!v) return;
  std::int64_t digits = 0;
  if (!call.args.empty()) {
    auto d = ev.integer_argument(call, 0);
    if (!d) return;
    if (*d < 0) ev.fail("round() needs a non-negative precision");
    digits = *d;
  }
  push_decimal(ev, out, as_decimal(*v).round(static_cast<int>(digits)));
}

void sqrt(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto v = input_number(ev, call, input);
  if (!v) return;
  long double x = as_decimal(*v).to_long_double();
  if (x < 0) return;
  push_real(ev, out, std::sqrt(x));
}

const function_definition table[] = {
    {"indexOf", 1, 1, index_of},
    {"substring", 1, 2, substring},
    {"startsWith", 1, 1, text_test<0>},
    {"endsWith", 1, 1, text_test<1>},
    {"contains", 1, 1, text_test<2>},
    {"upper", 0, 0, change_case<true>},
    {"lower", 0, 0, change_case<false>},
    {"replace", 2, 2, replace},
    {"matches", 1, 1, matches<false>},
    {"matchesFull", 1, 1, matches<true>},
    {"replaceMatches", 2, 2, replace_matches},
    {"length", 0, 0, length},
    {"toChars", 0, 0, to_chars},
    {"trim", 0, 0, trim},
    {"split", 1, 1, split},
    {"join", 0, 1, join},
    {"encode", 1, 1, encode},
    {"decode", 1, 1, decode},
    {"escape", 1, 1, escape},
    {"unescape", 1, 1, unescape},
    {"abs", 0, 0, abs},
    {"ceiling", 0, 0, integral<0>},
    {"floor", 0, 0, integral<1>},
    {"truncate", 0, 0, integral<2>},
    {"exp", 0, 0, exp},
    {"ln", 0, 0, ln},
    {"log", 1, 1, log},
    {"power", 1, 1, power},
    {"round", 0, 1, round},
    {"sqrt", 0, 0, sqrt},
};

}  // namespace

std::span<const function_definition> string_functions() { return table; }

}  // namespace fhir::fhirpath
