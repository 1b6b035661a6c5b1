// Existence, filtering and projection, subsetting, combining, tree navigation, type functions, trace,
// aggregate and sort.

#include <algorithm>

#include <fmt/format.h>

#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/fhirpath/functions.hpp"

namespace fhir::fhirpath {
namespace {

using fn = const function_definition;

void empty(evaluator&, const ast_node&, const collection& input, collection& out) {
  out.push_back(item::of_boolean(input.empty()));
}

void exists(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  if (call.args.empty()) {
    out.push_back(item::of_boolean(!input.empty()));
    return;
  }
  bool any = false;
  for (std::size_t i = 0; i < input.size() && !any; ++i)
    any = ev.to_boolean(ev.with_this(input[i], static_cast<std::int64_t>(i), nullptr, call.args[0]), "the criteria of exists()") == true;
  out.push_back(item::of_boolean(any));
}

void all(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  bool result = true;
  for (std::size_t i = 0; i < input.size() && result; ++i)
    result = ev.to_boolean(ev.with_this(input[i], static_cast<std::int64_t>(i), nullptr, call.args[0]), "the criteria of all()") == true;
  out.push_back(item::of_boolean(result));
}

// allTrue/anyTrue/allFalse/anyFalse: every item must be a Boolean.
template <bool Want, bool All>
void boolean_aggregate(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  bool result = All;
  for (const item& i : input) {
    auto v = ev.value_of(i);
    if (!v || v->kind() != item_kind::boolean) ev.fail(fmt::format("{}() needs a collection of Booleans", call.name));
    bool matches = v->as_boolean() == Want;
    if (All && !matches) result = false;
    if (!All && matches) result = true;
  }
  out.push_back(item::of_boolean(result));
}

void subset_of(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  collection other = ev.eval_argument(call, 0);
  bool result = true;
  for (const item& i : input) result = result && ev.contains_equal(other, i);
  out.push_back(item::of_boolean(result));
}

void superset_of(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  collection other = ev.eval_argument(call, 0);
  bool result = true;
  for (const item& i : other) result = result && ev.contains_equal(input, i);
  out.push_back(item::of_boolean(result));
}

void count(evaluator&, const ast_node&, const collection& input, collection& out) {
  out.push_back(item::of_integer(static_cast<std::int64_t>(input.size())));
}

void distinct(evaluator& ev, const ast_node&, const collection& input, collection& out) { ev.union_into(out, input); }

void is_distinct(evaluator& ev, const ast_node&, const collection& input, collection& out) {
  collection unique = ev.make();
  ev.union_into(unique, input);
  out.push_back(item::of_boolean(unique.size() == input.size()));
}

void where(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  for (std::size_t i = 0; i < input.size(); ++i)
    if (ev.to_boolean(ev.with_this(input[i], static_cast<std::int64_t>(i), nullptr, call.args[0]), "the criteria of where()") == true)
      out.push_back(input[i]);
}

void select(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  for (std::size_t i = 0; i < input.size(); ++i) {
    collection r = ev.with_this(input[i], static_cast<std::int64_t>(i), nullptr, call.args[0]);
    out.insert(out.end(), r.begin(), r.end());
  }
}

void repeat(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  collection frontier = ev.copy(input);
  while (!frontier.empty()) {
    collection next = ev.make();
    for (std::size_t i = 0; i < frontier.size(); ++i) {
      collection r = ev.with_this(frontier[i], static_cast<std::int64_t>(i), nullptr, call.args[0]);
      for (const item& x : r) {
        if (ev.contains_equal(out, x)) continue;  // stops cycles and repeated values
        out.push_back(x);
        next.push_back(x);
      }
    }
    frontier = std::move(next);
  }
}

void of_type(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  for (const item& i : input)
    if (ev.is_type(i, call.type, true)) out.push_back(i);
}

void is(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto i = ev.singleton(input, "the input of is()");
  if (i) out.push_back(item::of_boolean(ev.is_type(*i, call.type, false)));
}

void as(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  if (ev.env().lenient_as) return of_type(ev, call, input, out);
  auto i = ev.singleton(input, "the input of as()");
  if (i && ev.is_type(*i, call.type, true)) out.push_back(*i);
}

void type(evaluator& ev, const ast_node&, const collection& input, collection& out) {
  for (const item& i : input) out.push_back(item::of_type(ev.type_of(i)));
}

void single(evaluator& ev, const ast_node&, const collection& input, collection& out) {
  if (auto i = ev.singleton(input, "the input of single()")) out.push_back(*i);
}

void first(evaluator&, const ast_node&, const collection& input, collection& out) {
  if (!input.empty()) out.push_back(input.front());
}

void last(evaluator&, const ast_node&, const collection& input, collection& out) {
  if (!input.empty()) out.push_back(input.back());
}

void tail(evaluator&, const ast_node&, const collection& input, collection& out) {
  if (input.size() > 1) out.insert(out.end(), input.begin() + 1, input.end());
}

void skip(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto n = ev.integer_argument(call, 0);
  if (!n) return;
  std::size_t start = *n <= 0 ? 0 : static_cast<std::size_t>(*n);
  if (start < input.size()) out.insert(out.end(), input.begin() + static_cast<std::ptrdiff_t>(start), input.end());
}

void take(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto n = ev.integer_argument(call, 0);
  if (!n || *n <= 0) return;
  std::size_t end = std::min(input.size(), static_cast<std::size_t>(*n));
  out.insert(out.end(), input.begin(), input.begin() + static_cast<std::ptrdiff_t>(end));
}

collection other_collection(evaluator& ev, const ast_node& call) { return ev.eval_argument(call, 0); }

void union_(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  collection other = other_collection(ev, call);
  ev.union_into(out, input);
  ev.union_into(out, other);
}

void combine(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  collection other = other_collection(ev, call);
  out.insert(out.end(), input.begin(), input.end());
  out.insert(out.end(), other.begin(), other.end());
}

void intersect(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  collection other = other_collection(ev, call);
  for (const item& i : input)
    if (ev.contains_equal(other, i) && !ev.contains_equal(out, i)) out.push_back(i);
}

void exclude(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  collection other = other_collection(ev, call);
  for (const item& i : input)
    if (!ev.contains_equal(other, i)) out.push_back(i);
}

void children(evaluator& ev, const ast_node&, const collection& input, collection& out) {
  for (const item& i : input) ev.model().all_children(i, out);
}

void descendants(evaluator& ev, const ast_node&, const collection& input, collection& out) {
  collection frontier = ev.copy(input);
  while (!frontier.empty()) {
    collection next = ev.make();
    for (const item& i : frontier) ev.model().all_children(i, next);
    out.insert(out.end(), next.begin(), next.end());
    frontier = std::move(next);
  }
}

void not_(evaluator& ev, const ast_node&, const collection& input, collection& out) {
  auto b = ev.to_boolean(input, "the input of not()");
  if (b) out.push_back(item::of_boolean(!*b));
}

void trace(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  // Without a trace hook (the validators, R4's ref-1), trace() is only its input: nothing is evaluated.
  if (ev.env().trace) {
    auto name = ev.string_argument(call, 0);
    if (call.args.size() > 1) {
      collection projected = ev.make();
      for (std::size_t i = 0; i < input.size(); ++i) {
        collection r = ev.with_this(input[i], static_cast<std::int64_t>(i), nullptr, call.args[1]);
        projected.insert(projected.end(), r.begin(), r.end());
      }
      ev.env().trace(name.value_or(""), projected);
    } else {
      ev.env().trace(name.value_or(""), input);
    }
  }
  out.insert(out.end(), input.begin(), input.end());
}

void aggregate(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  collection total = call.args.size() > 1 ? ev.eval_argument(call, 1) : ev.make();
  for (std::size_t i = 0; i < input.size(); ++i) total = ev.with_this(input[i], static_cast<std::int64_t>(i), &total, call.args[0]);
  out.insert(out.end(), total.begin(), total.end());
}

// sort(key, -key, ...): keys evaluated per item; a key written with a leading minus sorts descending
// (for any comparable type: -$this on strings means "descending", not negation).
void sort(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  struct keyed {
    item value;
    std::vector<std::optional<item>> keys;
  };
  std::vector<std::int32_t> key_expressions;
  std::vector<bool> descending;
  for (std::int32_t arg : call.args) {
    const ast_node& n = ev.node_at(arg);
    bool minus = n.kind == node_kind::unary_minus;
    key_expressions.push_back(minus ? n.args[0] : arg);
    descending.push_back(minus);
  }
  std::vector<keyed> items;
  for (std::size_t i = 0; i < input.size(); ++i) {
    keyed k{input[i], {}};
    if (key_expressions.empty()) {
      k.keys.push_back(input[i]);
      descending.assign(1, false);
    }
    for (std::int32_t key : key_expressions) {
      collection r = ev.with_this(input[i], static_cast<std::int64_t>(i), nullptr, key);
      k.keys.push_back(ev.singleton(r, "a sort key"));
    }
    items.push_back(std::move(k));
  }
  std::stable_sort(items.begin(), items.end(), [&](const keyed& a, const keyed& b) {
    for (std::size_t k = 0; k < a.keys.size(); ++k) {
      const auto &x = a.keys[k], &y = b.keys[k];
      if (!x || !y) {
        if (x.has_value() != y.has_value()) return !x.has_value();  // empty keys first
        continue;
      }
      auto c = ev.compare(*x, *y);
      if (c && *c != 0) return descending[k] ? *c > 0 : *c < 0;
    }
    return false;
  });
  for (auto& k : items) out.push_back(k.value);
}

void now(evaluator&, const ast_node&, const collection&, collection& out) { out.push_back(item::of_temporal(fhirpath::now())); }
void today(evaluator&, const ast_node&, const collection&, collection& out) { out.push_back(item::of_temporal(fhirpath::today())); }
void time_of_day(evaluator&, const ast_node&, const collection&, collection& out) {
  temporal t = fhirpath::now();
  t.kind = temporal_kind::time;
  t.has_zone = false;
  out.push_back(item::of_temporal(t));
}

const function_definition table[] = {
    {"empty", 0, 0, empty},
    {"exists", 0, 1, exists},
    {"all", 1, 1, all},
    {"allTrue", 0, 0, boolean_aggregate<true, true>},
    {"anyTrue", 0, 0, boolean_aggregate<true, false>},
    {"allFalse", 0, 0, boolean_aggregate<false, true>},
    {"anyFalse", 0, 0, boolean_aggregate<false, false>},
    {"subsetOf", 1, 1, subset_of},
    {"supersetOf", 1, 1, superset_of},
    {"count", 0, 0, count},
    {"distinct", 0, 0, distinct},
    {"isDistinct", 0, 0, is_distinct},
    {"where", 1, 1, where},
    {"select", 1, 1, select},
    {"repeat", 1, 1, repeat},
    {"ofType", 1, 1, of_type, true},
    {"is", 1, 1, is, true},
    {"as", 1, 1, as, true},
    {"type", 0, 0, type},
    {"single", 0, 0, single},
    {"first", 0, 0, first},
    {"last", 0, 0, last},
    {"tail", 0, 0, tail},
    {"skip", 1, 1, skip},
    {"take", 1, 1, take},
    {"union", 1, 1, union_},
    {"combine", 1, 1, combine},
    {"intersect", 1, 1, intersect},
    {"exclude", 1, 1, exclude},
    {"children", 0, 0, children},
    {"descendants", 0, 0, descendants},
    {"not", 0, 0, not_},
    {"trace", 1, 2, trace},
    {"aggregate", 1, 2, aggregate},
    {"sort", 0, 16, sort},
    {"now", 0, 0, now},
    {"today", 0, 0, today},
    {"timeOfDay", 0, 0, time_of_day},
};

}  // namespace

std::span<const function_definition> collection_functions() { return table; }

}  // namespace fhir::fhirpath
