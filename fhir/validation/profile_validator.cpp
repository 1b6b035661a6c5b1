#include "fhir/validation/profile_validator.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/resource.hpp"
#include "fhir/text.hpp"
#include "fhir/validation/json_match.hpp"
#include "fhir/validation/slice_matcher.hpp"

namespace fhir::validation {

using definitions::element_definition;
using definitions::structure_definition;
using definitions::type_ref;

namespace {

std::string_view profile_name(const structure_definition& sd) { return sd.url; }

bool has_constraint(const element_definition& e, std::string_view key) {
  return std::any_of(e.constraints.begin(), e.constraints.end(), [&](const auto& c) { return c.key == key; });
}

std::string display_name(const element_definition& e) {
  return e.id;  // "Patient.identifier:nhsNumber.value": the slice is part of the name
}

const type_ref* type_of(const element_definition& e, const definitions::type_info* type) {
  if (!type) return nullptr;
  for (const type_ref& t : e.types)
    if (t.code == type->code) return &t;
  return e.types.size() == 1 ? &e.types.front() : nullptr;
}

// The definition whose children describe the inside of a node: the element's own children when the
// snapshot lists them, else nothing (the profile adds nothing below).
bool lists_children(const element_definition& e) { return !e.children.empty(); }

}  // namespace

class profile_walker {
 public:
  profile_walker(const profile_validator& owner, const json::value& resource, std::vector<issue>& issues, std::string path)
      : owner_(owner),
        defs_(owner.defs_),
        resource_(resource),
        issues_(issues),
        env_(owner.environments_.acquire()),
        slices_(owner.defs_, owner.terminology_, owner.constraints_, *env_, resource),
        path_(std::move(path)) {
    slices_.set_conformance([this](const instance_node& n, const structure_definition& sd) { return conforms(n, sd); });
  }

  void resource(const structure_definition& profile) {
    std::string_view type = resource_type_of(resource_);
    if (profile.type != type) {
      report(severity::error, issue_type::structure, "profile-type-mismatch",
             fmt::format("The profile {} is for {} resources, not {}", profile.url, profile.type, type));
      return;
    }
    profile_ = &profile;
    const auto* info = defs_.find_type_info(type);
    element(instance_node{&resource_, nullptr, info, nullptr}, profile.root());
  }

  void element_against(const instance_node& n, const structure_definition& profile) {
    const structure_definition* saved = profile_;
    profile_ = &profile;
    element(n, profile.root());
    profile_ = saved;
  }

  int depth_ = 0;

 private:
  // One instance node (named by path_) against one element definition of the profile.
  void element(const instance_node& n, const element_definition& e) {
    if (++depth_ > 64) {  // type profiles that refer to each other: stop rather than recurse forever
      --depth_;
      return;
    }
    values(n, e);
    if (lists_children(e)) children(n, e);
    --depth_;
  }

  // The checks on the node's own value.
  void values(const instance_node& n, const element_definition& e) {
    const element_definition* base = e.base_element;
    if (!e.fixed.is_null()) {
      if (!n.value || !matches_fixed(*n.value, e.fixed))
        report(severity::error, issue_type::value, "profile-fixed",
               fmt::format("The value must be exactly {} ({})", abbreviate(json::serialize(e.fixed)), where(e)));
    }
    if (!e.pattern.is_null()) {
      if (!n.value || !matches_pattern(*n.value, e.pattern))
        report(severity::error, issue_type::value, "profile-pattern",
               fmt::format("The value must match the pattern {} ({})", abbreviate(json::serialize(e.pattern)), where(e)));
    }
    if (e.max_length && (!base || base->max_length != e.max_length) && n.value && n.value->is_string() &&
        utf8_length(n.value->as_string()) > *e.max_length)
      report(severity::error, issue_type::too_long, "profile-max-length",
             fmt::format("The value is longer than the {} characters allowed ({})", *e.max_length, where(e)));

    const type_ref* t = type_of(e, n.type);
    if (e.binding && n.value && n.type && binding_differs(e, base))
      owner_.bindings_.check(*e.binding, n.type->code, *n.value, path_, where(e), issues_);
    for (const auto& c : e.constraints)
      if (!base || !has_constraint(*base, c.key)) evaluate(c, n);
    if (!t) return;
    if (!t->target_profiles.empty() && n.value && t->code == "Reference" && targets_differ(*t, base))
      owner_.references_.check(*n.value, t->target_profiles, resource_, path_, where(e), issues_);
    if (!t->profiles.empty() && !lists_children(e)) type_profiles(n, *t);
  }

  // The node must conform to one of the type's profiles (a datatype profile, an extension definition).
  void type_profiles(const instance_node& n, const type_ref& t) {
    if (t.code == "Extension" && n.value) {
      // Every extension is checked against the definition its url names (element_rules): checking it
      // again here would repeat each issue.
      const std::string* url = n.value->find_string("url");
      if (url && std::find(t.profiles.begin(), t.profiles.end(), *url) != t.profiles.end()) return;
    }
    std::vector<std::vector<issue>> attempts;
    for (const std::string& url : t.profiles) {
      const structure_definition* sd = defs_.find_structure(url);
      if (!sd) {
        report(severity::warning, issue_type::not_supported, "profile-unknown",
               fmt::format("The profile {} is not known, so the element was not checked against it", url));
        return;
      }
      std::vector<issue> found;
      profile_walker nested(owner_, resource_, found, path_);
      nested.depth_ = depth_;
      nested.element_against(n, *sd);
      if (!has_errors(found)) {
        issues_.insert(issues_.end(), found.begin(), found.end());
        return;
      }
      attempts.push_back(std::move(found));
    }
    if (attempts.size() == 1) {
      issues_.insert(issues_.end(), attempts.front().begin(), attempts.front().end());
    } else if (!attempts.empty()) {
      std::string list;
      for (const std::string& url : t.profiles) list += (list.empty() ? "" : ", ") + url;
      report(severity::error, issue_type::structure, "profile-none-matched",
             fmt::format("The element conforms to none of the profiles {}", list));
    }
  }

  void children(const instance_node& n, const element_definition& e) {
    // A primitive's children (id, extension) live in its `_name` object.
    const json::value* object = n.value && n.value->is_object() ? n.value : n.extension;
    if (!object || !object->is_object()) {
      // Nothing inside: only the minimum cardinalities can fail.
      for (const element_definition* c : e.children) {
        if (c->min == 0 || (c->name == "value" && n.value)) continue;
        cardinality_check(*c, 0, false);
        for (const element_definition* s : c->slices) cardinality_check(*s, 0, true);
      }
      return;
    }
    // The values of each child, in definition order: one buffer for all, sorted by child.
    const std::size_t base = gathered_.size();
    std::vector<std::size_t> disallowed(e.children.size(), 0);
    gather(*object, e, disallowed);
    std::stable_sort(gathered_.begin() + static_cast<std::ptrdiff_t>(base), gathered_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    const std::size_t end = gathered_.size();
    std::size_t cursor = base;
    for (std::size_t i = 0; i < e.children.size(); ++i) {
      const element_definition& c = *e.children[i];
      std::size_t first = cursor;
      while (cursor < end && gathered_[cursor].first == i) ++cursor;
      const std::size_t count = cursor - first;
      if (c.name == "value" && n.value && !n.value->is_object()) continue;  // a primitive's own value
      if (!c.slices.empty()) {
        sliced(c, first, count);
      } else {
        for (std::size_t v = first; v < first + count; ++v) {
          const instance_node node = gathered_[v].second;
          const std::size_t length = enter(node);
          element(node, c);
          path_.resize(length);
        }
      }
      // A value of a type the profile does not allow was reported as such; it still counts as present.
      cardinality_check(c, count + disallowed[i], false);
    }
    gathered_.erase(gathered_.begin() + static_cast<std::ptrdiff_t>(base), gathered_.end());
  }

  // Appends (child index, value) to gathered_ for every member of `object`.
  void gather(const json::value& object, const element_definition& scope, std::vector<std::size_t>& disallowed) {
    for (const json::member& m : object.as_object()) {
      bool half = !m.key.empty() && m.key.front() == '_';
      std::string_view name = half ? std::string_view(m.key).substr(1) : std::string_view(m.key);
      const definitions::json_property* prop = scope.properties.find(name);
      if (!prop) {
        if (name == "resourceType") continue;
        if (const element_definition* choice = type_not_allowed(scope, name)) {
          auto at = std::find(scope.children.begin(), scope.children.end(), choice) - scope.children.begin();
          if (!half && static_cast<std::size_t>(at) < disallowed.size()) ++disallowed[static_cast<std::size_t>(at)];
        }
        continue;
      }
      const json::value* value_half = nullptr;
      const json::value* extension_half = nullptr;
      if (half) {
        if (object.find(name)) continue;  // gathered with its value half
        extension_half = &m.value;
      } else {
        value_half = &m.value;
        if (prop->type_info && prop->type_info->primitive) extension_half = find_underscored(object, name);
      }
      auto position = static_cast<std::size_t>(std::find(scope.children.begin(), scope.children.end(), prop->element) - scope.children.begin());
      if (position >= scope.children.size()) continue;
      const type_ref* choice = prop->element->is_choice ? prop->type : nullptr;
      const element_definition* base = prop->element->base_element;
      bool value_array = value_half && value_half->is_array();
      bool extension_array = extension_half && extension_half->is_array();
      if (value_array || extension_array) {
        std::size_t count = std::max(value_array ? value_half->as_array().size() : 0, extension_array ? extension_half->as_array().size() : 0);
        for (std::size_t i = 0; i < count; ++i) {
          const json::value* v = value_array && i < value_half->as_array().size() ? &value_half->as_array()[i] : nullptr;
          const json::value* x = extension_array && i < extension_half->as_array().size() ? &extension_half->as_array()[i] : nullptr;
          if (v && v->is_null()) v = nullptr;
          if (x && x->is_null()) x = nullptr;
          if (!v && !x) continue;
          gathered_.emplace_back(position, instance_node{v, x, prop->type_info, base, prop->element, choice, i});
        }
      } else {
        gathered_.emplace_back(position, instance_node{value_half, extension_half, prop->type_info, base, prop->element, choice});
      }
    }
  }

  static const json::value* find_underscored(const json::value& object, std::string_view name) {
    for (const json::member& m : object.as_object())
      if (m.key.size() == name.size() + 1 && m.key.front() == '_' && std::string_view(m.key).substr(1) == name) return &m.value;
    return nullptr;
  }

  // A JSON name the base allows but the profile does not: a choice type the profile removed. Returns
  // the profile's choice element when it reported one.
  const element_definition* type_not_allowed(const element_definition& scope, std::string_view name) {
    const element_definition* base = scope.base_element;
    if (!base) return nullptr;
    const element_definition* base_scope = base;
    if (base_scope->children.empty()) {
      if (base_scope->content_target) base_scope = base_scope->content_target;
      else if (base_scope->single_type && base_scope->single_type->definition) base_scope = &base_scope->single_type->definition->root();
    }
    const definitions::json_property* prop = base_scope->properties.find(name);
    if (!prop || !prop->element->is_choice || !prop->type) return nullptr;  // the structural validator reports it
    const element_definition* choice = nullptr;
    for (const element_definition* c : scope.children)
      if (c->name == prop->element->name) choice = c;
    if (!choice) return nullptr;
    std::string allowed;
    for (const type_ref& t : choice->types) allowed += (allowed.empty() ? "" : ", ") + t.code;
    const std::size_t length = path_.size();
    path_ += fmt::format(".{}.ofType({})", prop->element->name, prop->type->code);
    report(severity::error, issue_type::structure, "profile-type-not-allowed",
           fmt::format("The type {} is not allowed for {}[x] here; allowed: {} ({})", prop->type->code, prop->element->name,
                       allowed.empty() ? std::string("none") : allowed, where(*choice)));
    path_.resize(length);
    return choice;
  }

  void cardinality_check(const element_definition& c, std::size_t count, bool always) {
    const element_definition* base = c.base_element;
    bool check_min = always || !base || c.min > base->min;
    bool check_max = always || !base || c.max < base->max;
    bool below = check_min && count < c.min;
    bool above = check_max && c.max != element_definition::unbounded && count > c.max;
    if (!below && !above) return;
    const std::size_t length = path_.size();
    path_.push_back('.');
    path_.append(c.name);
    if (below)
      report(severity::error, issue_type::required, "profile-cardinality-min",
             fmt::format("{}: at least {} required, but found {} ({})", display_name(c), c.min, count, where(c)));
    if (above)
      report(severity::error, issue_type::structure, "profile-cardinality-max",
             fmt::format("{}: at most {} allowed, but found {} ({})", display_name(c), c.max, count, where(c)));
    path_.resize(length);
  }

  // Assigns each repetition of a sliced element to a slice, then checks the slicing rules, each slice's
  // cardinality, and each repetition against its slice (or the sliced element when it fits none).
  // The repetitions are gathered_[first, first + count).
  void sliced(const element_definition& c, std::size_t first, std::size_t count) {
    std::vector<int> assigned(count, -1);
    for (std::size_t i = 0; i < count; ++i) {
      const instance_node node = gathered_[first + i].second;
      for (std::size_t s = 0; s < c.slices.size(); ++s) {
        if (slices_.matches(node, *c.slices[s], c)) {
          assigned[i] = static_cast<int>(s);
          break;
        }
      }
    }
    definitions::slicing_rules rules = c.slicing ? c.slicing->rules : definitions::slicing_rules::open;
    bool ordered = c.slicing && c.slicing->ordered;
    int last_slice = -1;
    bool seen_unmatched = false;
    for (std::size_t i = 0; i < count; ++i) {
      int s = assigned[i];
      const std::size_t length = enter(gathered_[first + i].second);
      if (s < 0) {
        seen_unmatched = true;
        if (rules == definitions::slicing_rules::closed)
          report(severity::error, issue_type::structure, "profile-slice-closed",
                 fmt::format("This {} matches none of the slices of {}, and the slicing is closed ({})", c.name, c.path, where(c)));
      } else {
        if (rules == definitions::slicing_rules::open_at_end && seen_unmatched)
          report(severity::error, issue_type::structure, "profile-slice-open-at-end",
                 fmt::format("Repetitions of {} that match no slice must come after those that do ({})", c.path, where(c)));
        if (ordered && s < last_slice)
          report(severity::error, issue_type::structure, "profile-slice-order",
                 fmt::format("The slices of {} must appear in the order the profile defines them: {} after {} ({})", c.path,
                             c.slices[static_cast<std::size_t>(s)]->slice_name,
                             c.slices[static_cast<std::size_t>(last_slice)]->slice_name, where(c)));
        last_slice = std::max(last_slice, s);
      }
      path_.resize(length);
    }
    for (std::size_t s = 0; s < c.slices.size(); ++s)
      cardinality_check(*c.slices[s], static_cast<std::size_t>(std::count(assigned.begin(), assigned.end(), static_cast<int>(s))), true);
    for (std::size_t i = 0; i < count; ++i) {
      const element_definition& definition = assigned[i] < 0 ? c : *c.slices[static_cast<std::size_t>(assigned[i])];
      const instance_node node = gathered_[first + i].second;
      const std::size_t length = enter(node);
      element(node, definition);
      path_.resize(length);
    }
  }

  // Appends a node's segment to path_; returns the length to restore.
  std::size_t enter(const instance_node& n) {
    const std::size_t length = path_.size();
    if (!n.element) return length;
    path_.push_back('.');
    path_.append(n.element->name);
    if (n.choice_type) {
      path_.append(".ofType(");
      path_.append(n.choice_type->code);
      path_.push_back(')');
    }
    if (n.index != instance_node::npos) {
      char digits[24];
      auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n.index);
      path_.push_back('[');
      path_.append(digits, end);
      path_.push_back(']');
    }
    return length;
  }

  bool conforms(const instance_node& n, const structure_definition& sd) {
    std::vector<issue> found;
    profile_walker nested(owner_, resource_, found, path_);
    nested.depth_ = depth_ + 1;
    nested.element_against(n, sd);
    return !has_errors(found);
  }

  void evaluate(const definitions::constraint& c, const instance_node& n) {
    fhirpath::item node = n.value == &resource_ ? fhirpath::item::of_node(fhirpath::node{&resource_, nullptr, n.type, nullptr})
                                                : fhirpath::item::of_node(fhirpath::node{n.value, n.extension, n.type, n.base});
    owner_.constraints_.evaluate(c, node, path_, resource_, resource_, *env_, issues_);
  }

  static bool binding_differs(const element_definition& e, const element_definition* base) {
    if (!base || !base->binding) return true;
    auto bare = [](std::string_view url) { return url.substr(0, url.find('|')); };
    return bare(base->binding->value_set) != bare(e.binding->value_set) || base->binding->strength != e.binding->strength;
  }

  static bool targets_differ(const type_ref& t, const element_definition* base) {
    if (!base) return true;
    for (const type_ref& b : base->types)
      if (b.code == t.code) return b.target_profiles != t.target_profiles;
    return true;
  }

  std::string where(const element_definition& e) const {
    return fmt::format("{} in {}", display_name(e), profile_ ? profile_name(*profile_) : std::string_view("the profile"));
  }

  static std::string abbreviate(const std::string& s) {
    constexpr std::size_t limit = 120;
    return s.size() <= limit ? s : std::string(utf8_prefix(s, limit)) + "...";
  }

  void report(severity level, issue_type type, std::string_view id, std::string diagnostics) {
    issues_.push_back(issue{level, type, std::move(diagnostics), path_, std::string(id)});
  }

  const profile_validator& owner_;
  const definitions::registry& defs_;
  const json::value& resource_;
  std::vector<issue>& issues_;
  environment_pool::lease env_;
  slice_matcher slices_;
  std::string path_;
  const structure_definition* profile_ = nullptr;
  // The values gathered by children(), as (child index, value); nested calls use the part after theirs.
  std::vector<std::pair<std::size_t, instance_node>> gathered_;
};

profile_validator::profile_validator(const definitions::registry& definitions, const terminology::terminology_service& terminology,
                                     const constraint_evaluator& constraints)
    : defs_(definitions),
      terminology_(terminology),
      constraints_(constraints),
      bindings_(terminology),
      references_(definitions),
      environments_(definitions, [this](fhirpath::environment& env) {
        env.lenient_as = true;  // as R4's invariants were written (see environment::lenient_as)
        env.member_of = [this](const fhirpath::item& coded, std::string_view url) { return member_of(coded, url); };
        env.conforms_to = [this](const fhirpath::item& node, std::string_view url) -> std::optional<bool> {
          const structure_definition* sd = defs_.find_structure(url);
          if (!sd || node.kind() != fhirpath::item_kind::node) return std::nullopt;
          // The resource is not known here: constraints of the profile see the node as %resource.
          return conforms(node.as_node(), *sd, node.as_node().value ? *node.as_node().value : json::value());
        };
      }) {}

std::optional<bool> profile_validator::member_of(const fhirpath::item& coded, std::string_view url) const {
  auto answer = [](terminology::membership m) {
    return m == terminology::membership::unknown ? std::nullopt : std::optional<bool>(m == terminology::membership::member);
  };
  if (coded.kind() == fhirpath::item_kind::string) return answer(terminology_.code_in_value_set(url, coded.as_string()));
  if (coded.kind() != fhirpath::item_kind::node || !coded.as_node().value) return std::nullopt;
  const json::value& v = *coded.as_node().value;
  if (v.is_string()) return answer(terminology_.code_in_value_set(url, v.as_string()));
  std::vector<const json::value*> codings;
  if (const json::value* list = v.find("coding"); list && list->is_array())
    for (const json::value& c : list->as_array()) codings.push_back(&c);
  else codings.push_back(&v);
  bool unknown = false;
  for (const json::value* c : codings) {
    const std::string* system = c->find_string("system");
    const std::string* code = c->find_string("code");
    if (!code) continue;
    auto m = terminology_.in_value_set(url, system ? std::string_view(*system) : std::string_view(), *code);
    if (m == terminology::membership::member) return true;
    unknown |= m == terminology::membership::unknown;
  }
  return unknown ? std::nullopt : std::optional<bool>(false);
}

void profile_validator::validate(const json::value& resource, const structure_definition& profile, std::vector<issue>& issues) const {
  profile_walker walker(*this, resource, issues, std::string(resource_type_of(resource)));
  walker.resource(profile);
}

void profile_validator::validate_element(const fhirpath::node& element, const structure_definition& profile, const std::string& path,
                                         const json::value& resource, std::vector<issue>& issues) const {
  profile_walker walker(*this, resource, issues, path);
  walker.element_against(instance_node{element.value, element.extension, element.type, element.element}, profile);
}

bool profile_validator::conforms(const fhirpath::node& element, const structure_definition& profile, const json::value& resource) const {
  std::vector<issue> found;
  validate_element(element, profile, {}, resource, found);
  return !has_errors(found);
}

}  // namespace fhir::validation
