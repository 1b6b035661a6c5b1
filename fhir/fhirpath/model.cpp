#include "fhir/fhirpath/model.hpp"

#include "fhir/resource.hpp"

namespace fhir::fhirpath {
namespace {

using definitions::element_definition;
using definitions::type_info;

// The `_name` member of an object for primitive element `name`.
const json::value* extension_half(const json::value& object, std::string_view name) {
  for (const json::member& m : object.as_object())
    if (m.key.size() == name.size() + 1 && m.key.front() == '_' && std::string_view(m.key).substr(1) == name)
      return &m.value;
  return nullptr;
}

}  // namespace

item model::resource_node(const json::value& resource) const {
  std::string_view type_name = resource_type_of(resource);
  // Evaluations tend to repeat on resources of one type: remember the last lookup (per thread).
  thread_local std::uint64_t cached_registry = 0;
  thread_local std::string cached_name;
  thread_local const type_info* cached_type = nullptr;
  const type_info* type;
  if (cached_registry == defs_.instance_id() && cached_name == type_name) {
    type = cached_type;
  } else {
    type = defs_.find_type_info(type_name);
    if (!type) type = defs_.find_type_info("Resource");
    cached_registry = defs_.instance_id();
    cached_name.assign(type_name);
    cached_type = type;
  }
  return item::of_node(node{&resource, nullptr, type, nullptr});
}

const element_definition* model::scope_of(const node& n) const {
  if (n.element) {
    if (!n.element->children.empty()) return n.element;
    if (n.element->content_target) return n.element->content_target;
  }
  return n.type && n.type->definition ? &n.type->definition->root() : nullptr;
}

bool model::is_abstract(std::string_view type) const {
  const auto* sd = defs_.find_type(type);
  return sd && sd->is_abstract;
}

bool model::derives_from(std::string_view type, std::string_view ancestor) const {
  const type_info* t = defs_.find_type_info(type);
  return t ? t->derives_from(ancestor) : type == ancestor;
}

void model::emit(const json::value* value, const json::value* extension, const type_info* type,
                 const element_definition* element, collection& out) const {
  bool value_array = value && value->is_array();
  bool extension_array = extension && extension->is_array();
  if (value_array || extension_array) {
    std::size_t n = std::max(value_array ? value->as_array().size() : 0, extension_array ? extension->as_array().size() : 0);
    out.reserve(out.size() + n);
    for (std::size_t i = 0; i < n; ++i) {
      const json::value* v = value_array && i < value->as_array().size() ? &value->as_array()[i] : nullptr;
      const json::value* x = extension_array && i < extension->as_array().size() ? &extension->as_array()[i] : nullptr;
      if (v && v->is_null()) v = nullptr;
      if (x && x->is_null()) x = nullptr;
      if (v || x) emit(v, x, type, element, out);
    }
    return;
  }
  if (value && value->is_null()) value = nullptr;
  if (!value && !extension) return;
  if (!type) return;
  // A resource inside contained, Bundle.entry.resource or Parameters: its type is its resourceType.
  if (type->is_resource && value && value->is_object()) {
    out.push_back(resource_node(*value));
    return;
  }
  out.push_back(item::of_node(node{value, extension, type, element}));
}

void model::children(const item& parent, std::string_view name, std::uint32_t name_id, collection& out) const {
  if (parent.kind() != item_kind::node) return;
  const node& n = parent.as_node();

  // A primitive: its id and extensions live in the `_name` object.
  if (!n.value || !n.value->is_object()) {
    if (!n.extension || !n.extension->is_object()) return;
    const auto* element_root = element_type_;
    const element_definition* child = element_root && name_id ? element_root->root().child(name_id) : nullptr;
    if (!child) return;
    emit(n.extension->find(name), nullptr, child->single_type, child, out);
    return;
  }

  // A resource answers to its own type name: "Patient.name" on a Patient.
  if (!name.empty() && name.front() >= 'A' && name.front() <= 'Z' && n.element == nullptr && n.type->is_resource) {
    if (n.type->derives_from(name)) out.push_back(parent);
    return;
  }

  if (name_id == 0) return;  // no element anywhere has this name
  const element_definition* scope = scope_of(n);
  if (!scope) return;
  const element_definition* child = scope->child(name_id);
  if (!child) return;

  if (child->is_choice) {
    // value[x]: whichever valueXxx members the object has (normally one), each with the type its suffix
    // names and its `_valueXxx` half; one pass over the members finds both halves.
    struct match {
      std::string_view base;
      const definitions::type_info* type;
      const json::value* value;
      const json::value* extension;
    };
    match matches[4];
    std::size_t found = 0;
    for (const json::member& m : n.value->as_object()) {
      std::string_view key = m.key;
      bool underscore = !key.empty() && key.front() == '_';
      std::string_view base = underscore ? key.substr(1) : key;
      // Cheap rejections first: nearly every member fails on length or first character.
      if (base.size() <= name.size() || base.front() != name.front() || !base.starts_with(name)) continue;
      match* existing = nullptr;
      for (std::size_t i = 0; i < found; ++i)
        if (matches[i].base == base) existing = &matches[i];
      if (!existing) {
        const definitions::type_info* type = nullptr;
        for (const auto& [json_name, choice_type] : child->choices)
          if (json_name.size() == base.size() && json_name == base) type = choice_type;
        if (!type || found == std::size(matches)) continue;
        existing = &matches[found++];
        *existing = match{base, type, nullptr, nullptr};
      }
      (underscore ? existing->extension : existing->value) = &m.value;
    }
    for (std::size_t i = 0; i < found; ++i) emit(matches[i].value, matches[i].extension, matches[i].type, child, out);
    return;
  }

  const type_info* type = child->single_type;
  const json::value* value = n.value->find(name);
  const json::value* extension = type && type->primitive ? extension_half(*n.value, name) : nullptr;
  emit(value, extension, type, child, out);
}

void model::all_children(const item& parent, collection& out) const {
  if (parent.kind() != item_kind::node) return;
  const node& n = parent.as_node();
  if (!n.value || !n.value->is_object()) {
    if (n.extension && n.extension->is_object()) {
      children(parent, "id", out);
      children(parent, "extension", out);
    }
    return;
  }
  const element_definition* scope = scope_of(n);
  if (!scope) return;
  // Walk the members the object has (fewer than the elements it may have), in document order. `_name`
  // halves are rare: look for them only in objects that have one.
  const json::object& members = n.value->as_object();
  bool has_extension_halves = false;
  for (const json::member& m : members) has_extension_halves |= !m.key.empty() && m.key.front() == '_';
  for (const json::member& m : members) {
    std::string_view key = m.key;
    bool underscore = !key.empty() && key.front() == '_';
    std::string_view base = underscore ? key.substr(1) : key;
    if (underscore && n.value->find(base)) continue;  // emitted with its value half
    const definitions::json_property* property = scope->properties.find(base);
    if (!property || !property->type_info) continue;
    const definitions::type_info* type = property->type_info;
    const json::value* value = underscore ? nullptr : &m.value;
    const json::value* extension =
        underscore ? &m.value : has_extension_halves && type->primitive ? extension_half(*n.value, base) : nullptr;
    emit(value, extension, type, property->element, out);
  }
}

std::optional<item> model::system_value(const item& i, arena&) const {
  if (i.kind() != item_kind::node) return i;
  const node& n = i.as_node();
  if (!n.value) return std::nullopt;
  const json::value& v = *n.value;
  using definitions::value_kind;
  switch (n.type->value_kind) {
    case value_kind::boolean:
      if (v.is_bool()) return item::of_boolean(v.as_bool());
      return std::nullopt;
    case value_kind::integer:
      if (v.is_number())
        if (auto d = decimal::parse(v.as_number().text); d && d->to_int64()) return item::of_integer(*d->to_int64());
      return std::nullopt;
    case value_kind::decimal:
      if (v.is_number())
        if (auto d = decimal::parse(v.as_number().text)) return item::of_decimal(*d);
      return std::nullopt;
    case value_kind::date:
      if (v.is_string())
        if (auto t = temporal::parse_date(v.as_string())) return item::of_temporal(*t);
      return std::nullopt;
    case value_kind::date_time:
      if (v.is_string())
        if (auto t = temporal::parse_date_time(v.as_string())) return item::of_temporal(*t);
      return std::nullopt;
    case value_kind::time:
      if (v.is_string())
        if (auto t = temporal::parse_time(v.as_string())) return item::of_temporal(*t);
      return std::nullopt;
    case value_kind::string:
      if (v.is_string()) return item::of_string(v.as_string());
      return std::nullopt;
    case value_kind::none: break;
  }
  if (v.is_object() && n.type->is_quantity) {
    const json::value* value = v.find("value");
    if (!value || !value->is_number()) return std::nullopt;
    auto d = decimal::parse(value->as_number().text);
    if (!d) return std::nullopt;
    // The unit for comparison is the UCUM code when the system is UCUM, else the human unit.
    std::string_view unit;
    const std::string* system = v.find_string("system");
    const std::string* code = v.find_string("code");
    if (code && system && *system == "http://unitsofmeasure.org") unit = *code;
    else if (const std::string* u = v.find_string("unit")) unit = *u;
    else if (code) unit = *code;
    else unit = "1";
    return item::of_quantity(quantity{*d, unit});
  }
  return std::nullopt;
}

}  // namespace fhir::fhirpath
