#include "fhir/validation/structural_validator.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

#include <fmt/format.h>

#include "fhir/text.hpp"
#include "fhir/time.hpp"
#include "fhir/validation/element_rules.hpp"

namespace fhir::validation {
namespace {

using definitions::element_definition;
using definitions::json_form;
using definitions::json_property;
using definitions::primitive_type;
using definitions::type_ref;

std::string_view json_kind_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::boolean: return "a boolean";
    case json::kind::number: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "a value";
}

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// The members of one object, for duplicate detection and `_name` lookup. Small objects (almost all) are
// scanned directly; large ones are sorted once so that both are O(n log n).
class member_index {
 public:
  static constexpr std::size_t small = 16;

  explicit member_index(const json::object& members) : members_(members) {
    if (members.size() <= small) return;
    keys_.reserve(members.size());
    for (const json::member& m : members) keys_.emplace_back(m.key, &m.value);
    std::sort(keys_.begin(), keys_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  }

  const json::value* find(std::string_view key) const {
    if (keys_.empty()) {
      for (const json::member& m : members_)
        if (m.key == key) return &m.value;
      return nullptr;
    }
    auto it = std::lower_bound(keys_.begin(), keys_.end(), key, [](const auto& e, std::string_view k) { return e.first < k; });
    return it != keys_.end() && it->first == key ? it->second : nullptr;
  }
  // The `_name` member holding a primitive's id and extensions.
  const json::value* find_extension_half(std::string_view name) const {
    if (keys_.empty()) {
      for (const json::member& m : members_)
        if (m.key.size() == name.size() + 1 && m.key.front() == '_' && std::string_view(m.key).substr(1) == name) return &m.value;
      return nullptr;
    }
    buffer_.assign(1, '_');
    buffer_.append(name);
    return find(buffer_);
  }
  // Calls `report(key)` once for each key that occurs more than once; true when there was any.
  template <typename Report>
  bool duplicates(Report report) const {
    bool any = false;
    if (keys_.empty()) {
      for (std::size_t i = 0; i < members_.size(); ++i) {
        bool first_time = true, repeated = false;
        for (std::size_t j = 0; j < members_.size() && first_time; ++j) {
          if (j == i || members_[j].key != members_[i].key) continue;
          if (j < i) first_time = false;
          else repeated = true;
        }
        if (first_time && repeated) {
          any = true;
          report(members_[i].key);
        }
      }
      return any;
    }
    for (std::size_t i = 1; i < keys_.size(); ++i) {
      if (keys_[i].first != keys_[i - 1].first) continue;
      any = true;
      if (i + 1 == keys_.size() || keys_[i + 1].first != keys_[i].first) report(keys_[i].first);
    }
    return any;
  }

 private:
  const json::object& members_;
  std::vector<std::pair<std::string_view, const json::value*>> keys_;
  mutable std::string buffer_;
};

// One walk over one resource. Paths are built incrementally in `path_` and restored on return.
class walker {
 public:
  walker(const definitions::registry& defs, std::vector<issue>& issues, const element_rules* rules, rule_output* out)
      : defs_(defs), issues_(issues), rules_(rules), out_(out), extension_type_(defs.find_type_info("Extension")) {}

  // `contained`: the resource sits in its container's `contained` list, where its `#id` references
  // resolve.
  void resource(const json::value& v, bool contained = false) {
    if (!v.is_object()) {
      report(issue_type::structure, "json-not-object", fmt::format("A resource must be a JSON object, not {}", json_kind_name(v)));
      return;
    }
    const json::value* type = v.find("resourceType");
    if (!type || !type->is_string()) {
      report(issue_type::required, "resource-type-missing", "The resource has no resourceType");
      return;
    }
    const std::string& name = type->as_string();
    if (!defs_.is_resource_type(name)) {
      report(issue_type::not_supported, "resource-type-unknown",
             defs_.find_type(name) ? fmt::format("'{}' is an abstract type, not a resource type", name)
                                   : fmt::format("Unknown resource type '{}'", name));
      return;
    }
    const element_definition& root = defs_.find_type(name)->root();
    if (path_.empty()) path_ = name;
    // Definition paths restart in a nested resource.
    place saved = enter_resource(v, name, contained);
    if (rules_) {
      collect_invariants(root, nullptr, fhirpath::node{&v, nullptr, here_type_, nullptr}, path_, v, *container_, out_->invariants,
                         out_->issues);
    }
    object(v, root, /*is_resource=*/true);
    leave(std::move(saved));
  }

 private:
  // Validates the members of a JSON object against the properties of `scope`. Linear in the number of
  // members: they are indexed once (sorted), so `name`/`_name` pairs are found by binary search.
  void object(const json::value& v, const element_definition& scope, bool is_resource) {
    const json::object& members = v.as_object();
    if (members.empty()) {
      report(issue_type::structure, "json-empty", "An empty object is not allowed");
      return;
    }
    member_index index(members);
    // With duplicate keys the object is ambiguous (which value counts?): report them and go no deeper.
    if (index.duplicates([&](std::string_view key) {
          report_at(key, issue_type::structure, "json-duplicate-key", fmt::format("Duplicate JSON property '{}'", abbreviate(key)));
        }))
      return;

    // Each child element seen, with how many values it has and which JSON names carried it: on a stack
    // shared by the walk, this object's part starting at `seen_base`.
    const std::size_t seen_base = seen_.size();

    for (const json::member& m : members) {
      if (budget_exhausted()) {
        seen_.resize(seen_base);
        return;
      }
      if (is_resource && m.key == "resourceType") continue;
      bool is_extension_half = m.key.starts_with('_');
      std::string_view name = is_extension_half ? std::string_view(m.key).substr(1) : std::string_view(m.key);
      const definitions::json_property* found = scope.properties.find(name);
      if (!found) {
        report_at(m.key, issue_type::structure, "element-unknown", fmt::format("Unrecognized element '{}'", abbreviate(m.key)));
        continue;
      }
      const json_property& prop = *found;
      const primitive_type* primitive = prop.type && prop.type_info ? prop.type_info->primitive : nullptr;
      if (is_extension_half) {
        if (!primitive) {
          report_at(m.key, issue_type::structure, "element-unknown",
                    fmt::format("Unrecognized element '{}': '{}' is not a primitive element", m.key, name));
          continue;
        }
        // `_name` with `name` is validated together with `name`; alone, here.
        if (index.find(name)) continue;
      }
      const json::value* value_half = is_extension_half ? nullptr : &m.value;
      const json::value* extension_half = primitive ? index.find_extension_half(name) : nullptr;

      std::uint32_t count = property(prop, primitive, name, value_half, extension_half);
      auto it = std::find_if(seen_.begin() + static_cast<std::ptrdiff_t>(seen_base), seen_.end(),
                             [&](const seen_element& s) { return s.element == prop.element; });
      if (it == seen_.end()) {
        seen_.push_back(seen_element{prop.element, count, name, false});
      } else {
        it->count += count;
        it->several_names |= it->first_name != name;
      }
    }

    for (const element_definition* child : scope.children) {
      auto it = std::find_if(seen_.begin() + static_cast<std::ptrdiff_t>(seen_base), seen_.end(),
                             [&](const seen_element& s) { return s.element == child; });
      std::uint32_t count = it == seen_.end() ? 0 : it->count;
      if (it != seen_.end() && it->several_names) {
        report_at(child->name, issue_type::structure, "choice-multiple",
                  fmt::format("Only one form of {}[x] is allowed", child->name));
      }
      if (count < child->min) {
        report_at(child->name, issue_type::required, "cardinality-min",
                  fmt::format("{}.{}: minimum required = {}, but only found {}", scope.path, child->name, child->min, count));
      } else if (child->max != element_definition::unbounded && child->max > 1 && count > child->max) {
        report_at(child->name, issue_type::structure, "cardinality-max",
                  fmt::format("{}.{}: maximum allowed = {}, but found {}", scope.path, child->name, child->max, count));
      }
    }
    seen_.resize(seen_base);
  }

  // Validates one property (both halves of a primitive); returns how many values it contributes.
  std::uint32_t property(const json_property& prop, const primitive_type* primitive, std::string_view name,
                         const json::value* value_half, const json::value* extension_half) {
    const element_definition& element = *prop.element;
    const std::size_t path_length = path_.size();
    path_.push_back('.');
    if (element.is_choice && prop.type) {
      path_.append(element.name);
      path_.append(".ofType(");
      path_.append(prop.type->code);
      path_.push_back(')');
    } else {
      path_.append(name);
    }
    struct restore {
      std::string& path;
      std::size_t length;
      ~restore() { path.resize(length); }
    } restore_path{path_, path_length};

    if (!element.is_repeating()) {
      for (const json::value* half : {value_half, extension_half}) {
        if (half && half->is_array()) {
          report(issue_type::structure, "array-unexpected",
                 fmt::format("{} is not a repeating element: it must not be a JSON array", element.path));
          return 1;
        }
        // null only exists to align the items of a primitive array with their extensions.
        if (half && half->is_null()) {
          report(issue_type::structure, "json-null", "null is only allowed inside an array");
          return 1;
        }
      }
      item(prop, primitive, value_half, extension_half);
      return 1;
    }

    for (const json::value* half : {value_half, extension_half}) {
      if (half && !half->is_array()) {
        report(issue_type::structure, "array-expected",
               fmt::format("{} is a repeating element: it must be a JSON array", element.path));
        return 1;
      }
    }
    const json::array* values = value_half ? &value_half->as_array() : nullptr;
    const json::array* extensions = extension_half ? &extension_half->as_array() : nullptr;
    if ((values && values->empty()) || (extensions && extensions->empty())) {
      report(issue_type::structure, "json-empty", "An empty array is not allowed");
      return 0;
    }
    if (values && extensions && values->size() != extensions->size()) {
      report(issue_type::structure, "primitive-extension-mismatch",
             fmt::format("'{}' has {} items but '_{}' has {}: the arrays must align", name, values->size(), name,
                         extensions->size()));
      return static_cast<std::uint32_t>(values->size());
    }
    std::size_t n = values ? values->size() : extensions->size();
    std::size_t base_length = path_.size();
    for (std::size_t i = 0; i < n; ++i) {
      path_.resize(base_length);
      char digits[24];
      auto [end, ec] = std::to_chars(digits, digits + sizeof digits, i);
      path_.push_back('[');
      path_.append(digits, end);
      path_.push_back(']');
      item(prop, primitive, values ? &(*values)[i] : nullptr, extensions ? &(*extensions)[i] : nullptr);
    }
    path_.resize(base_length);
    return static_cast<std::uint32_t>(n);
  }

  // Validates one occurrence of an element. For a primitive either half may be absent or null, not both.
  void item(const json_property& prop, const primitive_type* primitive, const json::value* value,
            const json::value* extension) {
    if (primitive) {
      bool has_value = value && !value->is_null();
      bool has_extension = extension && !extension->is_null();
      if (!has_value && !has_extension) {
        report(issue_type::structure, "json-null", "null is only allowed to align a primitive array with its extensions");
        return;
      }
      std::size_t before = issues_.size();
      if (has_value) primitive_value(*primitive, *value);
      // A value that is not even a valid primitive is not checked against bindings as well.
      if (issues_.size() == before) {
        apply_rules(prop, has_value ? value : nullptr, has_extension ? extension : nullptr);
        const element_definition* type_root = prop.type_info && prop.type_info->definition ? &prop.type_info->definition->root() : nullptr;
        invariants(prop, type_root, has_value ? value : nullptr, has_extension ? extension : nullptr);
      }
      if (has_extension) {
        place saved = enter_element(prop, /*datatype=*/nullptr, nullptr);
        primitive_extension(*extension);
        leave(std::move(saved));
      }
      return;
    }
    if (!value || value->is_null()) {
      report(issue_type::structure, "json-null", "null is not allowed here");
      return;
    }
    const element_definition& element = *prop.element;
    if (prop.type_info && prop.type_info->is_resource) {
      resource(*value, /*contained=*/element.name == "contained");
      return;
    }
    if (!value->is_object()) {
      report(issue_type::structure, "json-object-expected",
             fmt::format("{} must be a JSON object, not {}", element.path, json_kind_name(*value)));
      return;
    }
    const element_definition* scope = &element;
    const definitions::structure_definition* datatype = nullptr;
    if (element.children.empty()) {
      if (element.content_target) {
        scope = element.content_target;
      } else if (prop.type) {
        datatype = prop.type_info ? prop.type_info->definition : nullptr;
        if (!datatype) {
          report(issue_type::structure, "type-unknown", fmt::format("Unknown type '{}'", prop.type->code));
          return;
        }
        scope = &datatype->root();
      }
    }
    apply_rules(prop, value, nullptr);
    invariants(prop, datatype ? &datatype->root() : nullptr, value, nullptr);
    const bool is_extension = prop.type_info && prop.type_info == extension_type_;
    const std::string* extension_url = is_extension ? value->find_string("url") : nullptr;
    place saved = enter_element(prop, datatype, extension_url);
    object(*value, *scope, false);
    leave(std::move(saved));
    if (is_extension) extension_rule(*value);
  }

  // Where the walk is, for the element rules: the definition path of the element whose object is being
  // walked ("Patient.contact.telecom"); the same from the nearest datatype, as that type's code and the
  // part of the definition path after it ("ContactPoint" + ".system"); its type; the resources around it.
  struct place {
    std::size_t definition_length = 0;
    std::string_view type_root;
    std::size_t type_start = 0;
    const definitions::type_info* type = nullptr;
    const std::string* extension_url = nullptr;
    const json::value* resource = nullptr;
    const json::value* container = nullptr;
    std::string definition_path;  // saved whole only when the path restarts (a resource, a content reference)
    bool whole_definition_path = false;
  };

  place save() const {
    return place{definition_path_.size(), type_root_, type_start_, here_type_, here_extension_url_, resource_, container_, {}, false};
  }
  void leave(place p) {
    if (!rules_) return;
    if (p.whole_definition_path) definition_path_ = std::move(p.definition_path);
    else definition_path_.resize(p.definition_length);
    type_root_ = p.type_root;
    type_start_ = p.type_start;
    here_type_ = p.type;
    here_extension_url_ = p.extension_url;
    resource_ = p.resource;
    container_ = p.container;
  }
  place enter_resource(const json::value& v, std::string_view type, bool contained) {
    if (!rules_) return place{};
    place saved = save();
    saved.definition_path = definition_path_;
    saved.whole_definition_path = true;
    definition_path_.assign(type);
    here_type_ = defs_.find_type_info(type);
    type_root_ = here_type_ ? std::string_view(here_type_->code) : std::string_view();
    type_start_ = definition_path_.size();
    here_extension_url_ = nullptr;
    resource_ = &v;
    if (!contained || !container_) container_ = &v;
    return saved;
  }
  place enter_element(const json_property& prop, const definitions::structure_definition* datatype, const std::string* extension_url) {
    if (!rules_) return place{};
    place saved = save();
    const element_definition& e = *prop.element;
    if (e.content_target) {
      // Questionnaire.item.item is Questionnaire.item again (contentReference): name it so.
      saved.definition_path = definition_path_;
      saved.whole_definition_path = true;
      definition_path_.assign(e.content_target->path);
      type_start_ = std::min(type_start_, definition_path_.size());
    } else {
      definition_path_.push_back('.');
      definition_path_.append(e.name);
      if (e.is_choice) definition_path_.append("[x]");
    }
    if (datatype) {
      type_root_ = datatype->type;
      type_start_ = definition_path_.size();
    }
    here_type_ = prop.type_info ? prop.type_info : e.single_type;
    here_extension_url_ = extension_url;
    return saved;
  }

  void invariants(const json_property& prop, const element_definition* type_root, const json::value* value, const json::value* extension) {
    if (!rules_ || !resource_) return;
    collect_invariants(*prop.element, type_root, fhirpath::node{value, extension, prop.type_info, prop.element}, path_, *resource_,
                       container_ ? *container_ : *resource_, out_->invariants, out_->issues);
  }

  void apply_rules(const json_property& prop, const json::value* value, const json::value* extension) {
    // Like the walk's own issues, rule issues are bounded whatever the input.
    if (!rules_ || !resource_ || out_->issues.size() >= 10 * max_issues) return;
    element_site site{*prop.element,  prop.type,   prop.type_info, value,
                      extension,      path_,       definition_path_, type_root_,
                      std::string_view(definition_path_).substr(std::min(type_start_, definition_path_.size())),
                      here_type_,     here_extension_url_, *resource_, container_ ? *container_ : *resource_};
    rules_->check(site, out_->issues);
  }

  void primitive_value(const primitive_type& type, const json::value& v) {
    auto wrong_form = [&](std::string_view expected) {
      report(issue_type::structure, "primitive-json-type",
             fmt::format("A {} must be {} in JSON, not {}", type.code(), expected, json_kind_name(v)));
    };
    switch (type.form()) {
      case json_form::boolean:
        if (!v.is_bool()) wrong_form("a boolean (true or false)");
        return;
      case json_form::number:
        if (!v.is_number()) return wrong_form("a number");
        number(type, v.as_number().text);
        return;
      case json_form::string:
        if (!v.is_string()) return wrong_form("a string");
        string(type, v.as_string());
        return;
    }
  }

  void number(const primitive_type& type, const std::string& text) {
    if (!type.matches_regex(text)) {
      report(issue_type::value, "primitive-format", fmt::format("'{}' is not a valid {}", text, type.code()));
      return;
    }
    if (!type.min_value() && !type.max_value()) return;
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    bool in_range = ec == std::errc() && end == text.data() + text.size() &&
                    (!type.min_value() || n >= *type.min_value()) && (!type.max_value() || n <= *type.max_value());
    if (!in_range)
      report(issue_type::value, "primitive-range", fmt::format("{} is outside the range of a {}", text, type.code()));
  }

  void string(const primitive_type& type, const std::string& s) {
    if (s.empty()) {
      report(issue_type::structure, "json-empty", "An empty string is not allowed: omit the element instead");
      return;
    }
    if (type.max_length() && s.size() > *type.max_length()) {
      report(issue_type::too_long, "primitive-too-long",
             fmt::format("The {} is {} bytes long; at most {} are allowed", type.code(), s.size(), *type.max_length()));
      return;
    }
    if (is_blank(s)) {
      // datatypes.html#string: strings SHOULD contain non-whitespace content (a whitespace-only value
      // trims to nothing in XML); the regex itself admits it, so this is a warning.
      report(issue_type::value, "primitive-blank", "A string should contain at least one non-whitespace character",
             severity::warning);
    }
    if (!type.matches_regex(s)) {
      report(issue_type::value, "primitive-format", fmt::format("'{}' is not a valid {}", abbreviate(s), type.code()));
      return;
    }
    if (type.is_temporal() && !has_valid_calendar_date(s)) {
      report(issue_type::value, "primitive-format", fmt::format("'{}' is not a valid {}: no such day", s, type.code()));
      return;
    }
    if (type.code() == "xhtml" && !looks_like_xhtml_div(s)) {
      report(issue_type::value, "xhtml-format", "Narrative must be an XHTML <div> element");
    }
  }

  // `_name`: the id and extensions of a primitive, i.e. an Element.
  void primitive_extension(const json::value& v) {
    path_guard guard(path_, "");  // FHIRPath sees the primitive's extensions at the primitive's own path
    if (!v.is_object()) {
      report(issue_type::structure, "json-object-expected",
             fmt::format("The extension part of a primitive must be a JSON object, not {}", json_kind_name(v)));
      return;
    }
    object(v, defs_.find_type("Element")->root(), false);
  }

  // ext-1: an extension has either a value or nested extensions, never both, never neither.
  void extension_rule(const json::value& extension) {
    bool has_value = false, has_children = false;
    for (const json::member& m : extension.as_object()) {
      has_value |= m.key.starts_with("value") || m.key.starts_with("_value");
      has_children |= m.key == "extension";
    }
    if (has_value == has_children)
      report(issue_type::invariant, "extension-value-or-children",
             "An extension must have either a value[x] or nested extensions, not both and not neither");
  }

  static bool looks_like_xhtml_div(std::string_view s) {
    auto first = s.find_first_not_of(" \t\r\n");
    auto last = s.find_last_not_of(" \t\r\n");
    if (first == std::string_view::npos) return false;
    s = s.substr(first, last - first + 1);
    return s.starts_with("<div") && s.size() > 4 && (s[4] == '>' || s[4] == ' ' || s[4] == '/') &&
           (s.ends_with("</div>") || s.ends_with("/>"));
  }

  static std::string abbreviate(std::string_view s) {
    constexpr std::size_t limit = 80;
    return s.size() <= limit ? std::string(s) : std::string(utf8_prefix(s, limit)) + "...";
  }

  struct path_guard {
    path_guard(std::string& path, std::string_view segment) : path_(path), length_(path.size()) {
      if (!segment.empty()) {
        path_.push_back('.');
        path_.append(segment);
      }
    }
    ~path_guard() { path_.resize(length_); }
    std::string& path_;
    std::size_t length_;
  };

  void report(issue_type type, std::string_view id, std::string diagnostics, severity level = severity::error) {
    if (issues_.size() >= max_issues) {
      truncated_ = true;
      return;
    }
    issues_.push_back(issue{level, type, std::move(diagnostics), path_, std::string(id)});
  }
  void report_at(std::string_view child, issue_type type, std::string_view id, std::string diagnostics) {
    path_guard guard(path_, child);
    report(type, id, std::move(diagnostics));
  }

 public:
  // After max_issues, the walk stops: a hostile body cannot make the response or the work unbounded.
  static constexpr std::size_t max_issues = 100;
  bool budget_exhausted() const { return truncated_; }
  bool truncated() const { return truncated_; }

 private:

  const definitions::registry& defs_;
  std::vector<issue>& issues_;
  const element_rules* rules_ = nullptr;
  rule_output* out_ = nullptr;
  std::string path_;
  std::string definition_path_;
  std::string_view type_root_;
  std::size_t type_start_ = 0;
  struct seen_element {
    const element_definition* element;
    std::uint32_t count;
    std::string_view first_name;
    bool several_names;
  };
  std::vector<seen_element> seen_;
  const definitions::type_info* extension_type_ = nullptr;
  const definitions::type_info* here_type_ = nullptr;
  const std::string* here_extension_url_ = nullptr;
  const json::value* resource_ = nullptr;
  const json::value* container_ = nullptr;
  bool truncated_ = false;
};

}  // namespace

std::vector<issue> validate_structure(const definitions::registry& definitions, const json::value& resource) {
  rule_output none;
  return validate_structure(definitions, resource, nullptr, none);
}

std::vector<issue> validate_structure(const definitions::registry& definitions, const json::value& resource,
                                      const element_rules* rules, rule_output& out) {
  std::vector<issue> issues;
  walker w(definitions, issues, rules, &out);
  w.resource(resource);
  if (w.truncated())
    issues.push_back(issue{severity::error, issue_type::too_costly,
                           fmt::format("Validation stopped after {} issues", walker::max_issues), {}, "issues-truncated"});
  return issues;
}

}  // namespace fhir::validation
