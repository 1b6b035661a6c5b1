#include "fhir/validation/slice_matcher.hpp"

#include <algorithm>

#include "fhir/fhirpath/split.hpp"
#include "fhir/validation/json_match.hpp"

namespace fhir::validation {

using definitions::discriminator_type;
using definitions::element_definition;

namespace {

std::string_view argument_of(std::string_view call) {
  auto open = call.find('(');
  auto close = call.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close <= open + 1) return {};
  std::string_view arg = call.substr(open + 1, close - open - 1);
  if (arg.size() >= 2 && (arg.front() == '\'' || arg.front() == '"')) arg = arg.substr(1, arg.size() - 2);
  return arg;
}

bool names_profile(const element_definition& e, std::string_view url) {
  for (const auto& t : e.types)
    if (std::find(t.profiles.begin(), t.profiles.end(), url) != t.profiles.end()) return true;
  return false;
}

}  // namespace

const element_definition* slice_matcher::scope_of(const element_definition& e) const {
  if (!e.children.empty()) return &e;
  if (e.content_target) return e.content_target;
  if (e.types.size() == 1 && e.types.front().profiles.size() == 1)
    if (const auto* sd = defs_.find_structure(e.types.front().profiles.front()); sd && !sd->root().children.empty())
      return &sd->root();
  if (e.single_type && e.single_type->definition) return &e.single_type->definition->root();
  return nullptr;
}

const element_definition* slice_matcher::element_at(const element_definition& from, std::string_view path) const {
  const element_definition* current = &from;
  // "extension('http://a.b/c').value" -> extension('http://a.b/c'), value.
  for (std::string_view segment : fhirpath::split_top_level(path, '.')) {
    if (!current) return nullptr;
    if (segment == "$this" || segment.starts_with("ofType(")) continue;
    if (segment == "resolve()") return nullptr;
    const element_definition* scope = scope_of(*current);
    if (!scope) return nullptr;
    if (segment.starts_with("extension(")) {
      std::string_view url = argument_of(segment);
      const element_definition* extension = scope->child(std::string_view("extension"));
      current = nullptr;
      if (!extension) return nullptr;
      for (const element_definition* s : extension->slices) {
        const element_definition* fixed_url = nullptr;
        if (const element_definition* s_scope = scope_of(*s)) fixed_url = s_scope->child(std::string_view("url"));
        if (names_profile(*s, url) || (fixed_url && fixed_url->fixed.is_string() && fixed_url->fixed.as_string() == url)) {
          current = s;
          break;
        }
      }
      continue;
    }
    current = scope->child(segment);
  }
  return current;
}

bool slice_matcher::evaluate(std::string_view path, const instance_node& value, fhirpath::collection& out) {
  std::string text(path);
  const fhirpath::expression* expression = expressions_.compiled(text);
  if (!expression) return false;
  fhirpath::item node = fhirpath::item::of_node(fhirpath::node{value.value, value.extension, value.type, value.base});
  auto result = expression->evaluate(node, resource_, env_);
  if (!result) return false;
  for (const fhirpath::item& i : *result) out.push_back(i);
  return true;
}

bool slice_matcher::in_required_binding(const fhirpath::item& item, const definitions::binding& binding) const {
  if (item.kind() != fhirpath::item_kind::node || !item.as_node().value) return false;
  const json::value& v = *item.as_node().value;
  if (v.is_string()) return terminology_.code_in_value_set(binding.value_set, v.as_string()) == terminology::membership::member;
  std::vector<const json::value*> codings;
  if (const json::value* list = v.find("coding"); list && list->is_array())
    for (const json::value& c : list->as_array()) codings.push_back(&c);
  else codings.push_back(&v);
  for (const json::value* c : codings) {
    const std::string* system = c->find_string("system");
    const std::string* code = c->find_string("code");
    if (code && terminology_.in_value_set(binding.value_set, system ? std::string_view(*system) : std::string_view(), *code) ==
                    terminology::membership::member)
      return true;
  }
  return false;
}

bool slice_matcher::matches(const instance_node& value, const element_definition& slice, const element_definition& sliced) {
  if (!sliced.slicing || sliced.slicing->discriminators.empty()) {
    // No discriminator: a repetition belongs to the slice it fully conforms to, which would mean
    // validating it against every slice. Not done (yet): it matches no slice, so it is checked as an
    // open-slicing extra; the slices' minimums are still enforced.
    return false;
  }
  return std::all_of(sliced.slicing->discriminators.begin(), sliced.slicing->discriminators.end(),
                     [&](const definitions::discriminator& d) { return discriminator_matches(value, slice, d); });
}

bool slice_matcher::discriminator_matches(const instance_node& value, const element_definition& slice,
                                          const definitions::discriminator& d) {
  const element_definition* target = element_at(slice, d.path);
  switch (d.type) {
    case discriminator_type::value:
    case discriminator_type::pattern: {
      const json::value* expected = nullptr;
      bool exact = false;
      json::value synthetic;
      if (target && !target->fixed.is_null()) {
        expected = &target->fixed;
        exact = true;
      } else if (target && !target->pattern.is_null()) {
        expected = &target->pattern;
      } else if (d.path == "url" && slice.types.size() == 1 && slice.types.front().code == "Extension" &&
                 slice.types.front().profiles.size() == 1) {
        // An extension slice whose definition is not known: its url is the definition's URL.
        synthetic = json::value(slice.types.front().profiles.front());
        expected = &synthetic;
        exact = true;
      }
      fhirpath::collection items(&env_.memory());
      if (!evaluate(d.path, value, items)) return false;
      if (!expected) {
        if (!target || !target->binding || target->binding->strength != definitions::binding_strength::required) return false;
        return std::any_of(items.begin(), items.end(), [&](const fhirpath::item& i) { return in_required_binding(i, *target->binding); });
      }
      return std::any_of(items.begin(), items.end(), [&](const fhirpath::item& i) {
        if (i.kind() != fhirpath::item_kind::node || !i.as_node().value) return false;
        return exact ? matches_fixed(*i.as_node().value, *expected) : matches_pattern(*i.as_node().value, *expected);
      });
    }
    case discriminator_type::exists: {
      if (!target) return false;
      fhirpath::collection items(&env_.memory());
      if (!evaluate(d.path, value, items)) return false;
      if (target->min >= 1) return !items.empty();
      if (target->max == 0) return items.empty();
      return true;
    }
    case discriminator_type::type: {
      const element_definition* typed = target ? target : &slice;
      fhirpath::collection items(&env_.memory());
      if (!evaluate(d.path, value, items)) return false;
      return std::any_of(items.begin(), items.end(), [&](const fhirpath::item& i) {
        if (i.kind() != fhirpath::item_kind::node || !i.as_node().type) return false;
        return std::any_of(typed->types.begin(), typed->types.end(),
                           [&](const definitions::type_ref& t) { return i.as_node().type->derives_from(t.code); });
      });
    }
    case discriminator_type::profile: {
      const element_definition* typed = target ? target : &slice;
      if (!conforms_) return false;
      fhirpath::collection items(&env_.memory());
      if (!evaluate(d.path, value, items)) return false;
      for (const fhirpath::item& i : items) {
        if (i.kind() != fhirpath::item_kind::node) continue;
        instance_node n{i.as_node().value, i.as_node().extension, i.as_node().type, i.as_node().element};
        for (const definitions::type_ref& t : typed->types) {
          const auto& urls = d.path.ends_with("resolve()") ? t.target_profiles : t.profiles;
          for (const std::string& url : urls)
            if (const auto* sd = defs_.find_structure(url); sd && conforms_(n, *sd)) return true;
        }
      }
      return false;
    }
  }
  return false;
}

}  // namespace fhir::validation
