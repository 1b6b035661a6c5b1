#include "fhir/fhirpath/evaluator.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/fhirpath/quantity_math.hpp"
#include "fhir/json/serialize.hpp"

namespace fhir::fhirpath {
namespace {

constexpr std::string_view system_types[] = {"Boolean", "Integer", "Decimal", "String", "Date", "DateTime", "Time", "Quantity"};

bool is_system_type_name(std::string_view name) {
  return std::find(std::begin(system_types), std::end(system_types), name) != std::end(system_types);
}

std::string_view system_type_name(const item& i) {
  switch (i.kind()) {
    case item_kind::boolean: return "Boolean";
    case item_kind::integer: return "Integer";
    case item_kind::decimal: return "Decimal";
    case item_kind::string: return "String";
    case item_kind::quantity: return "Quantity";
    case item_kind::temporal:
      switch (i.as_temporal().kind) {
        case temporal_kind::date: return "Date";
        case temporal_kind::date_time: return "DateTime";
        case temporal_kind::time: return "Time";
      }
      return "DateTime";
    case item_kind::type_info: return "TypeInfo";
    case item_kind::node: return {};
  }
  return {};
}

// Strings are equivalent ignoring case and with whitespace runs normalised to one space.
std::string normalise(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

bool equivalent_decimals(const decimal& a, const decimal& b) {
  int scale = std::min(a.scale(), b.scale());
  auto x = a.round(scale), y = b.round(scale);
  return x && y && *x == *y;
}

// Deep comparison of two JSON values; object member order is irrelevant.
bool json_equal(const json::value* a, const json::value* b, bool equivalence) {
  if (!a || !b) return a == b;
  if (a->kind() != b->kind()) return false;
  switch (a->kind()) {
    case json::kind::object: {
      const auto &x = a->as_object(), &y = b->as_object();
      if (x.size() != y.size()) return false;
      for (const auto& m : x)
        if (!json_equal(&m.value, b->find(m.key), equivalence)) return false;
      return true;
    }
    case json::kind::array: {
      const auto &x = a->as_array(), &y = b->as_array();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i)
        if (!json_equal(&x[i], &y[i], equivalence)) return false;
      return true;
    }
    case json::kind::number: {
      auto x = decimal::parse(a->as_number().text), y = decimal::parse(b->as_number().text);
      if (!x || !y) return a->as_number().text == b->as_number().text;
      return equivalence ? equivalent_decimals(*x, *y) : *x == *y;
    }
    case json::kind::string:
      return equivalence ? normalise(a->as_string()) == normalise(b->as_string()) : a->as_string() == b->as_string();
    default: return *a == *b;
  }
}

}  // namespace

evaluator::evaluator(const ast& tree, const fhirpath::model& m, environment& env, item resource, item root_resource,
                     item context)
    : tree_(tree),
      model_(m),
      env_(env),
      resource_(resource),
      root_resource_(root_resource),
      context_(context),
      root_focus_(&env.memory()) {}

arena& evaluator::memory() { return env_.memory(); }

collection evaluator::run(const collection& focus) {
  root_focus_ = focus;
  return eval(tree_.root, focus);
}

collection evaluator::scope() {
  if (frame_.this_item) return single(*frame_.this_item);
  return copy(root_focus_);
}

collection evaluator::with_this(const item& i, std::int64_t index, const collection* total, std::int32_t expression) {
  frame saved = frame_;
  frame_ = frame{&i, index, total ? total : saved.total};
  collection focus = single(i);
  collection result = eval(expression, focus);
  frame_ = saved;
  return result;
}

collection evaluator::eval(std::int32_t index, const collection& focus) {
  const ast_node& n = tree_.nodes[static_cast<std::size_t>(index)];
  switch (n.kind) {
    case node_kind::literal: {
      collection out = make();
      if (!n.empty_literal) out.push_back(n.value);
      return out;
    }
    case node_kind::member: return eval_member(n, focus);
    case node_kind::function: return eval_function(n, focus);
    case node_kind::indexer: {
      collection input = n.input >= 0 ? eval(n.input, focus) : copy(focus);
      auto position = singleton(eval(n.args[0], focus), "an index");
      collection out = make();
      if (!position) return out;
      auto v = value_of(*position);
      if (!v || v->kind() != item_kind::integer) fail("an index must be an Integer");
      std::int64_t i = v->as_integer();
      if (i >= 0 && static_cast<std::size_t>(i) < input.size()) out.push_back(input[static_cast<std::size_t>(i)]);
      return out;
    }
    case node_kind::this_value: {
      collection out = make();
      if (frame_.this_item) out.push_back(*frame_.this_item);
      else out = focus;
      return out;
    }
    case node_kind::index_value: {
      collection out = make();
      out.push_back(item::of_integer(frame_.index));
      return out;
    }
    case node_kind::total_value: {
      collection out = make();
      if (frame_.total) out = *frame_.total;
      return out;
    }
    case node_kind::variable: return eval_variable(n);
    case node_kind::unary_plus:
    case node_kind::unary_minus: {
      collection operand = eval(n.args[0], focus);
      auto v = singleton(operand, "the operand of unary minus");
      collection out = make();
      if (!v) return out;
      auto value = value_of(*v);
      if (!value) fail("unary minus needs a number or a quantity");
      if (n.kind == node_kind::unary_plus) {
        if (value->kind() != item_kind::integer && value->kind() != item_kind::decimal && value->kind() != item_kind::quantity)
          fail("unary plus needs a number or a quantity");
        out.push_back(*value);
        return out;
      }
      switch (value->kind()) {
        case item_kind::integer: out.push_back(item::of_integer(-value->as_integer())); break;
        case item_kind::decimal: out.push_back(item::of_decimal(value->as_decimal().negate())); break;
        case item_kind::quantity:
          out.push_back(item::of_quantity(quantity{value->as_quantity().value.negate(), value->as_quantity().unit}));
          break;
        default: fail(fmt::format("unary minus cannot apply to a {}", system_type_name(*value)));
      }
      return out;
    }
    case node_kind::binary: return eval_binary(n, focus);
    case node_kind::type_is:
    case node_kind::type_as: {
      collection operand = eval(n.args[0], focus);
      collection out = make();
      if (n.kind == node_kind::type_as && env_.lenient_as) {
        for (const item& i : operand)
          if (is_type(i, n.type, true)) out.push_back(i);
        return out;
      }
      auto v = singleton(operand, n.kind == node_kind::type_is ? "the operand of 'is'" : "the operand of 'as'");
      if (!v) return out;
      bool matches = is_type(*v, n.type, n.kind == node_kind::type_as);
      if (n.kind == node_kind::type_is) out.push_back(item::of_boolean(matches));
      else if (matches) out.push_back(*v);
      return out;
    }
  }
  return make();
}

collection evaluator::eval_member(const ast_node& n, const collection& focus) {
  collection evaluated(&memory());
  if (n.input >= 0) evaluated = eval(n.input, focus);
  const collection& input = n.input >= 0 ? evaluated : focus;
  collection out = make();
  for (const item& i : input) {
    if (i.kind() == item_kind::type_info) {
      // TypeInfo has two properties: namespace and name.
      if (n.name == "namespace") out.push_back(item::of_string(i.as_type().namespace_name));
      else if (n.name == "name") out.push_back(item::of_string(i.as_type().name));
      continue;
    }
    model_.children(i, n.name, n.name_id, out);
  }
  return out;
}

collection evaluator::eval_function(const ast_node& n, const collection& focus) {
  collection evaluated(&memory());
  if (n.input >= 0) evaluated = eval(n.input, focus);
  const collection& input = n.input >= 0 ? evaluated : focus;
  collection out = make();
  n.function->impl(*this, n, input, out);
  return out;
}

collection evaluator::eval_variable(const ast_node& n) {
  collection out = make();
  std::string_view name = n.name;
  if (name == "resource") out.push_back(resource_);
  else if (name == "rootResource") out.push_back(root_resource_);
  else if (name == "context") out.push_back(context_);
  else if (name == "ucum") out.push_back(item::of_string("http://unitsofmeasure.org"));
  else if (name == "sct") out.push_back(item::of_string("http://snomed.info/sct"));
  else if (name == "loinc") out.push_back(item::of_string("http://loinc.org"));
  else if (name.starts_with("vs-")) out.push_back(item::of_string(store(fmt::format("http://hl7.org/fhir/ValueSet/{}", name.substr(3)))));
  else if (name.starts_with("ext-"))
    out.push_back(item::of_string(store(fmt::format("http://hl7.org/fhir/StructureDefinition/{}", name.substr(4)))));
  else if (const auto* items = env_.variable(name)) out.insert(out.end(), items->data(), items->data() + items->size());
  else fail(fmt::format("unknown variable %{}", name));
  return out;
}

collection evaluator::eval_binary(const ast_node& n, const collection& focus) {
  switch (n.op) {
    case binary_op::and_:
    case binary_op::or_:
    case binary_op::xor_:
    case binary_op::implies: {
      collection a = eval(n.args[0], focus);
      collection b = eval(n.args[1], focus);
      return boolean_logic(n.op, a, b);
    }
    default: break;
  }
  collection a = eval(n.args[0], focus);
  collection b = eval(n.args[1], focus);
  collection out = make();
  switch (n.op) {
    case binary_op::union_: {
      union_into(out, a);
      union_into(out, b);
      return out;
    }
    case binary_op::equal:
    case binary_op::not_equal: {
      auto e = equal(a, b);
      if (e) out.push_back(item::of_boolean(n.op == binary_op::equal ? *e : !*e));
      return out;
    }
    case binary_op::equivalent:
    case binary_op::not_equivalent: {
      bool e = equivalent(a, b);
      out.push_back(item::of_boolean(n.op == binary_op::equivalent ? e : !e));
      return out;
    }
    case binary_op::less:
    case binary_op::greater:
    case binary_op::less_equal:
    case binary_op::greater_equal: {
      auto x = singleton(a, "the left operand of a comparison");
      auto y = singleton(b, "the right operand of a comparison");
      if (!x || !y) return out;
      auto c = compare(*x, *y);
      if (!c) return out;
      bool r = n.op == binary_op::less ? *c < 0 : n.op == binary_op::greater ? *c > 0
               : n.op == binary_op::less_equal ? *c <= 0 : *c >= 0;
      out.push_back(item::of_boolean(r));
      return out;
    }
    case binary_op::in:
    case binary_op::contains: {
      const collection& element = n.op == binary_op::in ? a : b;
      const collection& container = n.op == binary_op::in ? b : a;
      auto e = singleton(element, "the element of 'in'/'contains'");
      if (!e) return out;
      out.push_back(item::of_boolean(contains_equal(container, *e)));
      return out;
    }
    case binary_op::concatenate: {
      auto x = singleton(a, "the left operand of '&'");
      auto y = singleton(b, "the right operand of '&'");
      auto text = [&](const std::optional<item>& i) -> std::string_view {
        if (!i) return {};
        auto v = value_of(*i);
        if (!v || v->kind() != item_kind::string) fail("'&' needs strings");
        return v->as_string();
      };
      std::string joined(text(x));
      joined += text(y);
      out.push_back(item::of_string(store(joined)));
      return out;
    }
    default: return arithmetic(n.op, a, b);
  }
}

collection evaluator::boolean_logic(binary_op op, const collection& a, const collection& b) {
  auto x = to_boolean(a, "the left operand of a boolean operator");
  auto y = to_boolean(b, "the right operand of a boolean operator");
  collection out = make();
  std::optional<bool> r;
  switch (op) {
    case binary_op::and_:
      if (x == false || y == false) r = false;
      else if (x && y) r = true;
      break;
    case binary_op::or_:
      if (x == true || y == true) r = true;
      else if (x && y) r = false;
      break;
    case binary_op::xor_:
      if (x && y) r = *x != *y;
      break;
    case binary_op::implies:
      if (x == false) r = true;
      else if (x == true) r = y;
      else if (y == true) r = true;
      break;
    default: break;
  }
  if (r) out.push_back(item::of_boolean(*r));
  return out;
}

collection evaluator::arithmetic(binary_op op, const collection& a, const collection& b) {
  collection out = make();
  auto xi = singleton(a, "the left operand of an arithmetic operator");
  auto yi = singleton(b, "the right operand of an arithmetic operator");
  if (!xi || !yi) return out;
  auto x = value_of(*xi), y = value_of(*yi);
  if (!x || !y) fail("arithmetic needs primitive values");
  auto kind_name = [](const item& i) { return std::string(system_type_name(i)); };

  // String + String.
  if (x->kind() == item_kind::string || y->kind() == item_kind::string) {
    if (op == binary_op::add && x->kind() == item_kind::string && y->kind() == item_kind::string) {
      std::string joined(x->as_string());
      joined += y->as_string();
      out.push_back(item::of_string(store(joined)));
      return out;
    }
    fail(fmt::format("cannot apply an arithmetic operator to {} and {}", kind_name(*x), kind_name(*y)));
  }
  // Date/time +/- quantity.
  if (x->kind() == item_kind::temporal) {
    if ((op != binary_op::add && op != binary_op::subtract) || y->kind() != item_kind::quantity)
      fail("a date or time can only be added to or subtracted from a duration quantity");
    auto r = add_duration(x->as_temporal(), y->as_quantity(), op == binary_op::subtract);
    if (!r) fail(fmt::format("cannot add '{}' to a date or time", y->as_quantity().unit));
    out.push_back(item::of_temporal(*r));
    return out;
  }
  if (x->kind() == item_kind::quantity || y->kind() == item_kind::quantity) {
    auto r = quantity_arithmetic(op, *x, *y, memory());
    if (!r) fail("incompatible quantities or units for arithmetic");
    if (r->has_value()) out.push_back(**r);
    return out;
  }
  bool numbers = (x->kind() == item_kind::integer || x->kind() == item_kind::decimal) &&
                 (y->kind() == item_kind::integer || y->kind() == item_kind::decimal);
  if (!numbers) fail(fmt::format("cannot apply an arithmetic operator to {} and {}", kind_name(*x), kind_name(*y)));

  if (x->kind() == item_kind::integer && y->kind() == item_kind::integer && op != binary_op::divide) {
    std::int64_t p = x->as_integer(), q = y->as_integer(), r = 0;
    switch (op) {
      case binary_op::add:
        if (__builtin_add_overflow(p, q, &r)) fail("integer overflow");
        break;
      case binary_op::subtract:
        if (__builtin_sub_overflow(p, q, &r)) fail("integer overflow");
        break;
      case binary_op::multiply:
        if (__builtin_mul_overflow(p, q, &r)) fail("integer overflow");
        break;
      case binary_op::div:
        if (q == 0) return out;
        r = p / q;
        break;
      case binary_op::mod:
        if (q == 0) return out;
        r = p % q;
        break;
      default: break;
    }
    out.push_back(item::of_integer(r));
    return out;
  }
  auto as_decimal = [](const item& i) {
    return i.kind() == item_kind::integer ? decimal::from_integer(i.as_integer()) : i.as_decimal();
  };
  decimal p = as_decimal(*x), q = as_decimal(*y);
  std::optional<decimal> r;
  switch (op) {
    case binary_op::add: r = p.add(q); break;
    case binary_op::subtract: r = p.subtract(q); break;
    case binary_op::multiply: r = p.multiply(q); break;
    case binary_op::divide:
      if (q.is_zero()) return out;
      r = p.divide(q);
      break;
    case binary_op::div: {
      if (q.is_zero()) return out;
      auto quotient = p.divide(q);
      if (!quotient) fail("decimal overflow");
      auto integral = quotient->truncate().to_int64();
      if (!integral) fail("decimal overflow");
      out.push_back(item::of_integer(*integral));
      return out;
    }
    case binary_op::mod: {
      if (q.is_zero()) return out;
      auto quotient = p.divide(q);
      if (!quotient) fail("decimal overflow");
      auto product = quotient->truncate().multiply(q);
      if (product) r = p.subtract(*product);
      break;
    }
    default: break;
  }
  if (!r) fail("decimal overflow");
  out.push_back(item::of_decimal(*r));
  return out;
}

std::optional<item> evaluator::value_of(const item& i) const {
  if (i.kind() != item_kind::node) return i;
  return model_.system_value(i, env_.memory());
}

std::optional<item> evaluator::singleton(const collection& c, std::string_view what) const {
  if (c.empty()) return std::nullopt;
  if (c.size() > 1) fail(fmt::format("{} must be a single item, but the collection has {}", what, c.size()));
  return c.front();
}

std::optional<item> evaluator::input_singleton(const collection& c, const ast_node& call) const {
  if (c.size() > 1) return singleton(c, fmt::format("the input of {}()", call.name));
  return c.empty() ? std::nullopt : std::optional<item>(c.front());
}

std::optional<item> evaluator::argument_singleton(const collection& c, const ast_node& call, std::size_t argument) const {
  if (c.size() > 1) return singleton(c, fmt::format("argument {} of {}()", argument + 1, call.name));
  return c.empty() ? std::nullopt : std::optional<item>(c.front());
}

std::optional<bool> evaluator::to_boolean(const collection& c, std::string_view what) const {
  auto i = singleton(c, what);
  if (!i) return std::nullopt;
  auto v = value_of(*i);
  if (v && v->kind() == item_kind::boolean) return v->as_boolean();
  return true;
}

std::optional<std::string_view> evaluator::string_argument(const ast_node& call, std::size_t argument) {
  collection c = eval_argument(call, argument);
  auto i = argument_singleton(c, call, argument);
  if (!i) return std::nullopt;
  auto v = value_of(*i);
  if (!v || v->kind() != item_kind::string) fail(fmt::format("argument {} of {}() must be a String", argument + 1, call.name));
  return v->as_string();
}

std::optional<std::int64_t> evaluator::integer_argument(const ast_node& call, std::size_t argument) {
  collection c = eval_argument(call, argument);
  auto i = argument_singleton(c, call, argument);
  if (!i) return std::nullopt;
  auto v = value_of(*i);
  if (!v || v->kind() != item_kind::integer) fail(fmt::format("argument {} of {}() must be an Integer", argument + 1, call.name));
  return v->as_integer();
}

bool evaluator::equal_items(const item& a, const item& b, std::optional<bool>& out) const {
  // Complex nodes compare by content.
  if (a.kind() == item_kind::node && b.kind() == item_kind::node) {
    const node &x = a.as_node(), &y = b.as_node();
    bool x_complex = x.value && x.value->is_object(), y_complex = y.value && y.value->is_object();
    if (x_complex || y_complex) {
      out = x_complex && y_complex && json_equal(x.value, y.value, false);
      return true;
    }
  }
  auto x = value_of(a), y = value_of(b);
  if (!x || !y) {
    out = false;
    return true;
  }
  switch (x->kind()) {
    case item_kind::boolean:
      out = y->kind() == item_kind::boolean && x->as_boolean() == y->as_boolean();
      return true;
    case item_kind::string:
      out = y->kind() == item_kind::string && x->as_string() == y->as_string();
      return true;
    case item_kind::integer:
    case item_kind::decimal: {
      if (y->kind() != item_kind::integer && y->kind() != item_kind::decimal) {
        out = false;
        return true;
      }
      if (x->kind() == item_kind::integer && y->kind() == item_kind::integer) {
        out = x->as_integer() == y->as_integer();
        return true;
      }
      auto dx = x->kind() == item_kind::integer ? decimal::from_integer(x->as_integer()) : x->as_decimal();
      auto dy = y->kind() == item_kind::integer ? decimal::from_integer(y->as_integer()) : y->as_decimal();
      out = dx == dy;
      return true;
    }
    case item_kind::temporal: {
      // A Time is never equal to a Date or DateTime; Date and DateTime compare at their common precision.
      if (y->kind() != item_kind::temporal ||
          (x->as_temporal().kind == temporal_kind::time) != (y->as_temporal().kind == temporal_kind::time)) {
        out = false;
        return true;
      }
      auto c = fhirpath::compare(x->as_temporal(), y->as_temporal());
      if (!c) out.reset();
      else out = *c == 0;
      return true;
    }
    case item_kind::quantity: {
      if (y->kind() != item_kind::quantity) {
        out = false;
        return true;
      }
      auto c = compare_quantities(x->as_quantity(), y->as_quantity());
      if (!c) out.reset();
      else out = *c == 0;
      return true;
    }
    case item_kind::type_info:
      out = y->kind() == item_kind::type_info && x->as_type().name == y->as_type().name &&
            x->as_type().namespace_name == y->as_type().namespace_name;
      return true;
    case item_kind::node: break;
  }
  out = false;
  return true;
}

bool evaluator::equivalent_items(const item& a, const item& b) const {
  if (a.kind() == item_kind::node && b.kind() == item_kind::node) {
    const node &x = a.as_node(), &y = b.as_node();
    bool x_complex = x.value && x.value->is_object(), y_complex = y.value && y.value->is_object();
    if (x_complex || y_complex) return x_complex && y_complex && json_equal(x.value, y.value, true);
  }
  auto x = value_of(a), y = value_of(b);
  if (!x || !y) return false;
  switch (x->kind()) {
    case item_kind::string: return y->kind() == item_kind::string && normalise(x->as_string()) == normalise(y->as_string());
    case item_kind::integer:
    case item_kind::decimal: {
      if (y->kind() != item_kind::integer && y->kind() != item_kind::decimal) return false;
      auto dx = x->kind() == item_kind::integer ? decimal::from_integer(x->as_integer()) : x->as_decimal();
      auto dy = y->kind() == item_kind::integer ? decimal::from_integer(y->as_integer()) : y->as_decimal();
      return equivalent_decimals(dx, dy);
    }
    case item_kind::temporal: return y->kind() == item_kind::temporal && fhirpath::equivalent(x->as_temporal(), y->as_temporal());
    case item_kind::quantity: return y->kind() == item_kind::quantity && equivalent_quantities(x->as_quantity(), y->as_quantity());
    default: {
      std::optional<bool> e;
      equal_items(*x, *y, e);
      return e.value_or(false);
    }
  }
}

std::optional<bool> evaluator::equal(const collection& a, const collection& b) const {
  if (a.empty() || b.empty()) return std::nullopt;
  if (a.size() != b.size()) return false;
  bool uncertain = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::optional<bool> e;
    equal_items(a[i], b[i], e);
    if (!e) uncertain = true;
    else if (!*e) return false;
  }
  if (uncertain) return std::nullopt;
  return true;
}

bool evaluator::equivalent(const collection& a, const collection& b) const {
  if (a.size() != b.size()) return false;
  std::vector<bool> used(b.size(), false);
  for (const item& x : a) {
    bool found = false;
    for (std::size_t j = 0; j < b.size() && !found; ++j) {
      if (!used[j] && equivalent_items(x, b[j])) used[j] = found = true;
    }
    if (!found) return false;
  }
  return true;
}

std::optional<int> evaluator::compare(const item& a, const item& b) const {
  auto x = value_of(a), y = value_of(b);
  if (!x || !y) fail("only primitive values can be compared");
  auto numeric = [](const item& i) { return i.kind() == item_kind::integer || i.kind() == item_kind::decimal; };
  if (x->kind() == item_kind::integer && y->kind() == item_kind::integer)
    return x->as_integer() < y->as_integer() ? -1 : x->as_integer() > y->as_integer() ? 1 : 0;
  if (numeric(*x) && numeric(*y)) {
    auto dx = x->kind() == item_kind::integer ? decimal::from_integer(x->as_integer()) : x->as_decimal();
    auto dy = y->kind() == item_kind::integer ? decimal::from_integer(y->as_integer()) : y->as_decimal();
    return dx.compare(dy);
  }
  if (x->kind() == item_kind::string && y->kind() == item_kind::string) {
    int c = x->as_string().compare(y->as_string());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (x->kind() == item_kind::temporal && y->kind() == item_kind::temporal) return fhirpath::compare(x->as_temporal(), y->as_temporal());
  if (x->kind() == item_kind::quantity && y->kind() == item_kind::quantity) {
    auto c = compare_quantities(x->as_quantity(), y->as_quantity());
    if (!c) fail(fmt::format("quantities in '{}' and '{}' cannot be compared", x->as_quantity().unit, y->as_quantity().unit));
    return c;
  }
  fail(fmt::format("cannot compare a {} with a {}", system_type_name(*x), system_type_name(*y)));
}

void evaluator::union_into(collection& into, const collection& from) const {
  for (const item& i : from)
    if (!contains_equal(into, i)) into.push_back(i);
}

bool evaluator::contains_equal(const collection& c, const item& i) const {
  for (const item& candidate : c) {
    std::optional<bool> e;
    equal_items(candidate, i, e);
    if (e == true) return true;
  }
  return false;
}

bool evaluator::is_type(const item& i, const type_specifier& type, bool exact) const {
  const std::string& ns = type.namespace_name;
  bool system_ok = ns.empty() || ns == "System";
  bool fhir_ok = ns.empty() || ns == "FHIR";
  bool known_fhir = type.fhir_type != nullptr;
  bool known_system = is_system_type_name(type.name);
  // System.Patient names no type any value can have: false. An unknown unqualified or FHIR name is a
  // mistake in the expression: an error.
  if ((ns == "FHIR" && !known_fhir) || (ns.empty() && !known_fhir && !known_system) || (!ns.empty() && ns != "FHIR" && ns != "System"))
    fail(fmt::format("unknown type '{}{}{}'", ns, ns.empty() ? "" : ".", type.name));
  if (i.kind() == item_kind::node) {
    if (!fhir_ok || !known_fhir) return false;
    const definitions::type_info* t = i.as_node().type;
    // as/ofType match the exact type, or any subtype of an abstract one (ofType(Resource)).
    bool abstract = type.fhir_type->definition && type.fhir_type->definition->is_abstract;
    if (exact && !abstract) return t == type.fhir_type;
    for (const definitions::type_info* a = t; a; a = a->base)
      if (a == type.fhir_type) return true;
    return false;
  }
  if (!system_ok || !known_system) return false;
  return system_type_name(i) == type.name;
}

type_description evaluator::type_of(const item& i) const {
  if (i.kind() == item_kind::node) return type_description{"FHIR", i.as_node().type->code};
  return type_description{"System", system_type_name(i)};
}

}  // namespace fhir::fhirpath
