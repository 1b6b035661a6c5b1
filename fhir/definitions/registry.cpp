#include "fhir/definitions/registry.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <stdexcept>

#include <fmt/format.h>

#include "fhir/definitions/snapshot_generator.hpp"
#include "fhir/json/parse.hpp"

namespace fhir::definitions {
namespace {

std::string_view without_version(std::string_view url) {
  auto bar = url.find('|');
  return bar == std::string_view::npos ? url : url.substr(0, bar);
}

std::string_view parent_id(std::string_view id) {
  auto dot = id.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : id.substr(0, dot);
}

// `value[x]` with type `dateTime` appears in JSON as `valueDateTime`.
std::string choice_property_name(std::string_view name, std::string_view type_code) {
  std::string out(name);
  if (!type_code.empty()) {
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(type_code.front()))));
    out.append(type_code.substr(1));
  }
  return out;
}

error inconsistent(std::string_view url, std::string_view why) {
  return error(error_kind::invalid, issue_type::structure, fmt::format("StructureDefinition {}: {}", url, why),
               "definition-inconsistent");
}

template <typename Map>
const json::value* find_in(const Map& map, std::string_view key) {
  auto it = map.find(without_version(key));
  return it == map.end() ? nullptr : &it->second;
}

}  // namespace

namespace {
std::atomic<std::uint64_t> next_instance_id{1};
}

registry::registry() : instance_id_(next_instance_id.fetch_add(1)) {}
registry::~registry() = default;
registry::registry(registry&&) noexcept = default;
registry& registry::operator=(registry&&) noexcept = default;

result<done> registry::add(json::value resource) {
  const std::string* type = resource.find_string("resourceType");
  if (!type) return error(error_kind::invalid, issue_type::structure, "resource without resourceType", "definition-invalid");
  const std::string* url = resource.find_string("url");

  if (*type == "StructureDefinition") {
    if (!url) return error(error_kind::invalid, issue_type::structure, "StructureDefinition without url", "definition-invalid");
    // Compiled when the registry links: a profile's snapshot may need definitions added after it.
    structure_sources_.push_back(std::move(resource));
  } else if (*type == "SearchParameter") {
    search_parameters_.push_back(std::move(resource));
  } else if (*type == "ValueSet" && url) {
    value_sets_.insert_or_assign(*url, std::move(resource));
  } else if (*type == "CodeSystem" && url) {
    code_systems_.insert_or_assign(*url, std::move(resource));
  } else if (*type == "CompartmentDefinition") {
    if (const std::string* code = resource.find_string("code")) compartments_.insert_or_assign(*code, std::move(resource));
  } else if (*type == "OperationDefinition" && url) {
    operations_.insert_or_assign(*url, std::move(resource));
  }
  return done{};
}

result<done> registry::add_ndjson(std::string_view text) {
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto parsed = json::parse(line);
    if (!parsed) {
      error e = std::move(parsed).error();
      e.issues().front().diagnostics = fmt::format("line {}: {}", line_number, e.summary());
      return e;
    }
    if (auto added = add(std::move(*parsed)); !added) return added;
  }
  return done{};
}

// Generates the snapshot of every StructureDefinition that has only a differential, bases first, then
// compiles them all. The JSON sources are dropped afterwards: the compiled form is what is used.
result<done> registry::compile_structures() {
  std::unordered_map<std::string_view, std::size_t> by_url;
  for (std::size_t i = 0; i < structure_sources_.size(); ++i)
    by_url.insert_or_assign(without_version(*structure_sources_[i].find_string("url")), i);
  enum class state { pending, generating, ready };
  std::vector<state> states(structure_sources_.size(), state::pending);
  std::optional<error> failure;

  std::function<const json::value*(std::size_t)> ensure_snapshot = [&](std::size_t i) -> const json::value* {
    json::value& sd = structure_sources_[i];
    if (states[i] == state::ready || sd.find("snapshot")) {
      states[i] = state::ready;
      return &sd;
    }
    if (states[i] == state::generating) {
      if (!failure)
        failure = inconsistent(*sd.find_string("url"), "its baseDefinition chain or type profiles refer back to it");
      return nullptr;
    }
    states[i] = state::generating;
    structure_lookup lookup = [&](std::string_view url) -> const json::value* {
      auto it = by_url.find(without_version(url));
      return it == by_url.end() ? nullptr : ensure_snapshot(it->second);
    };
    auto snapshot = generate_snapshot(sd, lookup);
    if (!snapshot) {
      if (!failure) failure = std::move(snapshot).error();
      return nullptr;
    }
    sd.set("snapshot", json::object{{"element", std::move(*snapshot)}});
    states[i] = state::ready;
    return &sd;
  };

  for (std::size_t i = 0; i < structure_sources_.size(); ++i) {
    if (!ensure_snapshot(i)) return failure ? std::move(*failure) : inconsistent(*structure_sources_[i].find_string("url"), "no snapshot");
    auto sd = compile_structure_definition(structure_sources_[i]);
    if (!sd) return std::move(sd).error();
    structures_.push_back(std::move(*sd));
  }
  structure_sources_.clear();
  structure_sources_.shrink_to_fit();
  return done{};
}

result<done> registry::link() {
  if (auto compiled = compile_structures(); !compiled) return compiled;
  for (auto& sd : structures_) {
    by_url_.insert_or_assign(sd->url, sd.get());
    if (sd->derivation == derivation::specialization) by_type_.insert_or_assign(sd->type, sd.get());
  }
  for (auto& sd : structures_)
    if (auto linked = link_structure(*sd); !linked) return linked;
  for (auto& sd : structures_) {
    if (sd->derivation != derivation::specialization) continue;
    if (sd->kind == structure_kind::primitive_type) {
      if (auto compiled = compile_primitive(*sd); !compiled) return compiled;
    }
    if (sd->kind == structure_kind::resource && !sd->is_abstract) resource_types_.push_back(sd->type);
  }
  std::sort(resource_types_.begin(), resource_types_.end());
  build_type_infos();
  for (auto& sd : structures_) resolve_element_types(*sd);
  for (auto& sd : structures_) link_base_elements(*sd);
  linked_ = true;
  return done{};
}

void registry::build_type_infos() {
  for (auto& sd : structures_) {
    if (sd->derivation != derivation::specialization) continue;
    auto info = std::make_unique<type_info>();
    info->code = sd->type;
    info->definition = sd.get();
    info->primitive = find_primitive(sd->type);
    info->is_resource = sd->kind == structure_kind::resource;
    info->is_concrete_resource = info->is_resource && !sd->is_abstract;
    type_infos_.insert_or_assign(sd->type, std::move(info));
  }
  for (auto& [code, info] : type_infos_) {
    if (const auto* base = find_structure(info->definition->base_definition)) {
      auto it = type_infos_.find(base->type);
      if (it != type_infos_.end() && it->second.get() != info.get()) info->base = it->second.get();
    }
  }
  for (auto& [code, info] : type_infos_) {
    info->is_quantity = info->derives_from("Quantity");
    if (!info->primitive) continue;
    // The FHIRPath reading of a primitive (fhirpath.html#types in the FHIR specification).
    if (info->derives_from("boolean")) info->value_kind = value_kind::boolean;
    else if (info->derives_from("integer")) info->value_kind = value_kind::integer;
    else if (info->derives_from("decimal")) info->value_kind = value_kind::decimal;
    else if (code == "date") info->value_kind = value_kind::date;
    else if (code == "dateTime" || code == "instant") info->value_kind = value_kind::date_time;
    else if (code == "time") info->value_kind = value_kind::time;
    else info->value_kind = value_kind::string;
  }
}

void registry::resolve_element_types(structure_definition& sd) {
  // Two passes: a property's type may come from a child element later in the snapshot.
  for (element_definition& e : sd.elements) {
    auto [id, inserted] = name_ids_.try_emplace(e.name, static_cast<std::uint32_t>(name_ids_.size() + 1));
    e.name_id = id->second;
    if (e.types.size() == 1) {
      e.single_type = find_type_info(e.types.front().code);
    } else if (e.types.empty()) {
      const element_definition* target = e.content_target;
      e.single_type = find_type_info(target && target->types.size() == 1 ? std::string_view(target->types.front().code)
                                                                        : std::string_view("BackboneElement"));
    }
  }
  for (element_definition& e : sd.elements) {
    e.child_name_ids.clear();
    e.child_index.clear();
    for (const element_definition* c : e.children) {
      e.child_index.emplace_back(c->name_id, static_cast<std::uint32_t>(e.child_name_ids.size()));
      e.child_name_ids.push_back(c->name_id);
    }
    std::sort(e.child_index.begin(), e.child_index.end());
    for (auto& [name, property] : e.properties)
      property.type_info = property.type ? find_type_info(property.type->code) : property.element->single_type;
    if (e.is_choice)
      for (const type_ref& t : e.types) e.choices.emplace_back(choice_property_name(e.name, t.code), find_type_info(t.code));
  }
}

// Finds, for each element of a profile, the element of its type's base definition the structural
// validator checks instances against: the path walked through the base definition, crossing into a
// datatype's definition where the base does not list an element's children.
void registry::link_base_elements(structure_definition& sd) {
  if (sd.derivation == derivation::specialization) {
    for (element_definition& e : sd.elements) e.base_element = &e;
    return;
  }
  const structure_definition* base = find_type(sd.type);
  if (!base) return;
  for (element_definition& e : sd.elements) {
    std::string_view path = e.path;
    auto dot = path.find('.');
    if (path.substr(0, dot) != base->type) continue;
    const element_definition* current = &base->root();
    while (current && dot != std::string_view::npos) {
      path = path.substr(dot + 1);
      dot = path.find('.');
      std::string_view name = path.substr(0, dot);
      if (name.ends_with("[x]")) name.remove_suffix(3);
      const element_definition* scope = current;
      if (scope->children.empty()) {
        if (scope->content_target) scope = scope->content_target;
        else if (scope->single_type && scope->single_type->definition) scope = &scope->single_type->definition->root();
      }
      current = scope->child(name);
    }
    e.base_element = current;
  }
  // Inside an extension slice, the extension's own definition is the base: every extension is checked
  // against its definition anyway (validation/element_rules), so only what the profile adds to that is
  // the profile's to check. Patient.extension:birthPlace.value[x] -> patient-birthPlace's Extension.value[x].
  for (element_definition& slice : sd.elements) {
    if (slice.slice_name.empty() || slice.types.size() != 1 || slice.types.front().code != "Extension" ||
        slice.types.front().profiles.size() != 1)
      continue;
    const structure_definition* extension = find_structure(slice.types.front().profiles.front());
    if (!extension) continue;
    const std::string prefix = slice.id + ".";
    for (element_definition& e : sd.elements) {
      if (!e.id.starts_with(prefix)) continue;
      std::string id = "Extension." + e.id.substr(prefix.size());
      if (const element_definition* in_extension = extension->find_by_id(id)) e.base_element = in_extension;
    }
  }
}

std::uint32_t registry::name_id(std::string_view name) const {
  auto it = name_ids_.find(name);
  return it == name_ids_.end() ? 0 : it->second;
}

const type_info* registry::find_type_info(std::string_view type) const {
  auto it = type_infos_.find(type);
  return it == type_infos_.end() ? nullptr : it->second.get();
}

result<done> registry::link_structure(structure_definition& sd) {
  std::unordered_map<std::string_view, element_definition*> by_id;
  by_id.reserve(sd.elements.size());
  for (element_definition& e : sd.elements) by_id.emplace(e.id, &e);
  sd.by_id.reserve(sd.elements.size());
  for (element_definition& e : sd.elements) sd.by_id.emplace(e.id, &e);

  for (std::size_t i = 1; i < sd.elements.size(); ++i) {
    element_definition& e = sd.elements[i];
    if (!e.slice_name.empty()) {
      // Slices are alternatives of the element they slice, not children: "Patient.identifier:nhs".
      std::string_view id = e.id;
      std::string_view suffix = e.slice_name;
      if (id.size() > suffix.size() + 1 && id.ends_with(suffix) && id[id.size() - suffix.size() - 1] == ':') {
        auto sliced = by_id.find(id.substr(0, id.size() - suffix.size() - 1));
        if (sliced != by_id.end()) {
          sliced->second->slices.push_back(&e);
          e.sliced = sliced->second;
        }
      }
      // Otherwise unreachable: some published snapshots (R4's familymemberhistory-genetic) list a slice
      // without the element it slices.
      continue;
    }
    auto parent = by_id.find(parent_id(e.id));
    if (parent == by_id.end()) return inconsistent(sd.url, fmt::format("element {} has no parent element", e.id));
    parent->second->children.push_back(&e);
  }
  for (element_definition& e : sd.elements) {
    if (e.content_reference.empty()) continue;
    std::string_view target = e.content_reference;
    target = target.substr(target.find('#') + 1);
    auto it = by_id.find(target);
    if (it == by_id.end())
      return inconsistent(sd.url, fmt::format("contentReference {} of {} does not resolve", e.content_reference, e.id));
    e.content_target = it->second;
  }
  for (element_definition& e : sd.elements) {
    for (const element_definition* child : e.children) {
      if (child->is_choice) {
        for (const type_ref& t : child->types)
          e.properties.insert_or_assign(choice_property_name(child->name, t.code), json_property{child, &t});
      } else {
        const type_ref* only = child->types.size() == 1 ? &child->types.front() : nullptr;
        e.properties.insert_or_assign(child->name, json_property{child, only});
      }
    }
  }
  return done{};
}

result<done> registry::compile_primitive(const structure_definition& sd) {
  // The JSON form and the inherited facets come from walking baseDefinition: positiveInt -> integer.
  json_form form = json_form::string;
  std::optional<std::size_t> max_length;
  std::optional<std::int64_t> min_value, max_value;
  std::string regex;
  bool is_temporal = false;
  bool own = true;
  for (const structure_definition* s = &sd; s && s->kind == structure_kind::primitive_type;
       s = find_structure(s->base_definition), own = false) {
    if (s->type == "boolean") form = json_form::boolean;
    if (s->type == "integer" || s->type == "decimal") form = json_form::number;
    const element_definition* value = s->find_by_id(s->type + ".value");
    if (!value) continue;
    if (!max_length) max_length = value->max_length;
    if (!min_value) min_value = value->min_value_integer;
    if (!max_value) max_value = value->max_value_integer;
    if (own) {
      regex = value->regex;
      for (const type_ref& t : value->types) is_temporal |= t.system_type == "Date" || t.system_type == "DateTime";
    }
  }
  try {
    primitives_.erase(sd.type);
    primitives_.emplace(sd.type, primitive_type(sd.type, form, regex, is_temporal, max_length, min_value, max_value));
  } catch (const std::invalid_argument& e) {
    return inconsistent(sd.url, e.what());
  }
  return done{};
}

const structure_definition* registry::find_type(std::string_view type) const {
  auto it = by_type_.find(type);
  return it == by_type_.end() ? nullptr : it->second;
}

const structure_definition* registry::find_structure(std::string_view url) const {
  auto it = by_url_.find(without_version(url));
  return it == by_url_.end() ? nullptr : it->second;
}

std::vector<const structure_definition*> registry::profiles_of(std::string_view type) const {
  std::vector<const structure_definition*> out;
  for (const auto& [url, sd] : by_url_)
    if (sd->type == type && sd->derivation == derivation::constraint && sd->kind == structure_kind::resource) out.push_back(sd);
  std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) { return a->url < b->url; });
  return out;
}

const primitive_type* registry::find_primitive(std::string_view type) const {
  auto it = primitives_.find(type);
  return it == primitives_.end() ? nullptr : &it->second;
}

bool registry::is_resource_type(std::string_view type) const {
  return std::binary_search(resource_types_.begin(), resource_types_.end(), type);
}

const json::value* registry::find_value_set(std::string_view url) const { return find_in(value_sets_, url); }
const json::value* registry::find_code_system(std::string_view url) const { return find_in(code_systems_, url); }
const json::value* registry::find_compartment_definition(std::string_view code) const {
  return find_in(compartments_, code);
}
const json::value* registry::find_operation_definition(std::string_view url) const {
  return find_in(operations_, url);
}

}  // namespace fhir::definitions
