#include "fhir/fhirpath/model.hpp"

#include "fhir/resource.hpp"

namespace fhir::fhirpath {
namespace {

using definitions::element_definition;

bool is_resource_code(std::string_view code) { return code == "Resource" || code == "DomainResource"; }

// The `_name` member of an object for primitive element `name`.
const json::value* extension_half(const json::value& object, std::string_view name) {
  for (const json::member& m : object.as_object())
    if (m.key.size() == name.size() + 1 && m.key.front() == '_' && std::string_view(m.key).substr(1) == name)
      return &m.value;
  return nullptr;
}

}  // namespace

item model::resource_node(const json::value& resource) const {
  return item::of_node(node{&resource, nullptr, resource_type_of(resource), nullptr});
}

const element_definition* model::scope_of(const node& n) const {
  if (n.element) {
    if (!n.element->children.empty()) return n.element;
    if (n.element->content_target) return n.element->content_target;
  }
  const auto* sd = defs_.find_type(n.type);
  return sd ? &sd->root() : nullptr;
}

bool model::is_abstract(std::string_view type) const {
  const auto* sd = defs_.find_type(type);
  return sd && sd->is_abstract;
}

bool model::derives_from(std::string_view type, std::string_view ancestor) const {
  for (const auto* sd = defs_.find_type(type); sd; sd = defs_.find_structure(sd->base_definition)) {
    if (sd->type == ancestor) return true;
    if (sd->base_definition.empty()) break;
  }
  return type == ancestor;
}

void model::emit(const json::value* value, const json::value* extension, std::string_view type,
                 const element_definition* element, collection& out) const {
  bool value_array = value && value->is_array();
  bool extension_array = extension && extension->is_array();
  if (value_array || extension_array) {
    std::size_t n = std::max(value_array ? value->as_array().size() : 0, extension_array ? extension->as_array().size() : 0);
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
  // A resource inside contained, Bundle.entry.resource or Parameters: its type is its resourceType.
  if (value && value->is_object() && (is_resource_code(type) || (defs_.is_resource_type(type) && element))) {
    std::string_view actual = resource_type_of(*value);
    if (!actual.empty()) {
      out.push_back(item::of_node(node{value, nullptr, actual, nullptr}));
      return;
    }
  }
  out.push_back(item::of_node(node{value, extension, type, element}));
}

void model::children(const item& parent, std::string_view name, collection& out) const {
  if (parent.kind() != item_kind::node) return;
  const node& n = parent.as_node();

  // A primitive: its id and extensions live in the `_name` object.
  if (!n.value || !n.value->is_object()) {
    if (!n.extension || !n.extension->is_object()) return;
    const auto* element_root = defs_.find_type("Element");
    const element_definition* child = element_root ? element_root->root().child(name) : nullptr;
    if (!child) return;
    emit(n.extension->find(name), nullptr, child->types.empty() ? std::string_view() : child->types[0].code, child, out);
    return;
  }

  // A resource answers to its own type name: "Patient.name" on a Patient.
  if (!name.empty() && name.front() >= 'A' && name.front() <= 'Z' && n.element == nullptr &&
      defs_.is_resource_type(n.type) && derives_from(n.type, name)) {
    out.push_back(parent);
    return;
  }

  const element_definition* scope = scope_of(n);
  if (!scope) return;
  const element_definition* child = scope->child(name);
  if (!child) return;

  if (child->is_choice) {
    // value[x]: whichever valueXxx members the object has, each with the type its suffix names.
    for (const json::member& m : n.value->as_object()) {
      std::string_view key = m.key;
      bool underscore = key.starts_with('_');
      std::string_view base = underscore ? key.substr(1) : key;
      if (!base.starts_with(name) || base.size() == name.size()) continue;
      auto property = scope->properties.find(base);
      if (property == scope->properties.end() || property->second.element != child || !property->second.type) continue;
      if (underscore && n.value->find(base)) continue;  // emitted with its value half
      const json::value* value = underscore ? nullptr : &m.value;
      const json::value* extension = underscore ? &m.value : extension_half(*n.value, base);
      emit(value, extension, property->second.type->code, child, out);
    }
    return;
  }

  std::string_view type;
  if (!child->types.empty()) type = child->types[0].code;
  else if (child->content_target && !child->content_target->types.empty()) type = child->content_target->types[0].code;
  else type = "BackboneElement";
  const json::value* value = n.value->find(name);
  const json::value* extension = defs_.find_primitive(type) ? extension_half(*n.value, name) : nullptr;
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
  for (const element_definition* child : scope->children) children(parent, child->name, out);
}

std::optional<item> model::system_value(const item& i, arena& memory) const {
  if (i.kind() != item_kind::node) return i;
  const node& n = i.as_node();
  if (!n.value) return std::nullopt;
  const json::value& v = *n.value;
  if (v.is_bool()) return item::of_boolean(v.as_bool());
  if (v.is_number()) {
    const std::string& text = v.as_number().text;
    const auto* primitive = defs_.find_primitive(n.type);
    bool integer_type = primitive && primitive->min_value().has_value();  // integer, positiveInt, unsignedInt
    if (integer_type || (n.type.empty() && v.as_number().is_integer())) {
      if (auto d = decimal::parse(text); d && d->to_int64()) return item::of_integer(*d->to_int64());
    }
    if (auto d = decimal::parse(text)) return item::of_decimal(*d);
    return std::nullopt;
  }
  if (v.is_string()) {
    const std::string& s = v.as_string();
    if (n.type == "date") {
      if (auto t = temporal::parse_date(s)) return item::of_temporal(*t);
    } else if (n.type == "dateTime" || n.type == "instant") {
      if (auto t = temporal::parse_date_time(s)) return item::of_temporal(*t);
    } else if (n.type == "time") {
      if (auto t = temporal::parse_time(s)) return item::of_temporal(*t);
    }
    return item::of_string(s);
  }
  if (v.is_object() && derives_from(n.type, "Quantity")) {
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
    (void)memory;
    return item::of_quantity(quantity{*d, unit});
  }
  return std::nullopt;
}

}  // namespace fhir::fhirpath
