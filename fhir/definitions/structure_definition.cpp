#include "fhir/definitions/structure_definition.hpp"

#include <charconv>
#include <unordered_map>

#include <fmt/format.h>

namespace fhir::definitions {
namespace {

constexpr std::string_view fhir_type_extension = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type";
constexpr std::string_view regex_extension = "http://hl7.org/fhir/StructureDefinition/regex";
constexpr std::string_view system_type_prefix = "http://hl7.org/fhirpath/System.";

std::string_view string_or_empty(const json::value& object, std::string_view key) {
  const std::string* s = object.find_string(key);
  return s ? std::string_view(*s) : std::string_view();
}

bool bool_or_false(const json::value& object, std::string_view key) {
  const json::value* v = object.find(key);
  return v && v->is_bool() && v->as_bool();
}

std::optional<std::int64_t> integer_member(const json::value& object, std::string_view key) {
  const json::value* v = object.find(key);
  if (!v || !v->is_number()) return std::nullopt;
  const std::string& t = v->as_number().text;
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  if (ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  return out;
}

std::string_view extension_value(const json::value& owner, std::string_view url) {
  const json::value* exts = owner.find("extension");
  if (!exts || !exts->is_array()) return {};
  for (const json::value& e : exts->as_array()) {
    if (string_or_empty(e, "url") != url) continue;
    for (std::string_view key : {"valueUrl", "valueUri", "valueString", "valueCode"})
      if (const std::string* s = e.find_string(key)) return *s;
  }
  return {};
}

// FHIRPath system types appear where an element holds a bare value (`Element.id`, `Extension.url`,
// primitive `.value`); the fhir-type extension names the FHIR type behind them.
std::string resolve_type_code(const json::value& type) {
  std::string_view code = string_or_empty(type, "code");
  if (!code.starts_with(system_type_prefix)) return std::string(code);
  if (std::string_view fhir_type = extension_value(type, fhir_type_extension); !fhir_type.empty())
    return std::string(fhir_type);
  std::string_view system = code.substr(system_type_prefix.size());
  static const std::unordered_map<std::string_view, std::string_view> by_system = {
      {"String", "string"}, {"Boolean", "boolean"}, {"Integer", "integer"}, {"Decimal", "decimal"},
      {"Date", "date"},     {"DateTime", "dateTime"}, {"Time", "time"}};
  auto it = by_system.find(system);
  return std::string(it != by_system.end() ? it->second : "string");
}

std::vector<std::string> string_array(const json::value& object, std::string_view key) {
  std::vector<std::string> out;
  if (const json::value* a = object.find(key); a && a->is_array())
    for (const json::value& v : a->as_array())
      if (v.is_string()) out.push_back(v.as_string());
  return out;
}

std::optional<binding_strength> parse_strength(std::string_view s) {
  if (s == "required") return binding_strength::required;
  if (s == "extensible") return binding_strength::extensible;
  if (s == "preferred") return binding_strength::preferred;
  if (s == "example") return binding_strength::example;
  return std::nullopt;
}

fhir::severity parse_severity(std::string_view s) {
  return s == "warning" ? fhir::severity::warning : fhir::severity::error;
}

std::uint32_t parse_max(std::string_view max) {
  if (max == "*") return element_definition::unbounded;
  std::uint32_t out = 1;
  std::from_chars(max.data(), max.data() + max.size(), out);
  return out;
}

std::optional<slicing> parse_slicing(const json::value& e) {
  const json::value* s = e.find("slicing");
  if (!s || !s->is_object()) return std::nullopt;
  slicing out;
  if (const json::value* ds = s->find("discriminator"); ds && ds->is_array()) {
    for (const json::value& d : ds->as_array()) {
      std::string_view type = string_or_empty(d, "type");
      discriminator_type t = type == "exists"    ? discriminator_type::exists
                             : type == "pattern" ? discriminator_type::pattern
                             : type == "type"    ? discriminator_type::type
                             : type == "profile" ? discriminator_type::profile
                                                 : discriminator_type::value;
      out.discriminators.push_back(discriminator{t, std::string(string_or_empty(d, "path"))});
    }
  }
  out.ordered = bool_or_false(*s, "ordered");
  std::string_view rules = string_or_empty(*s, "rules");
  out.rules = rules == "closed" ? slicing_rules::closed : rules == "openAtEnd" ? slicing_rules::open_at_end : slicing_rules::open;
  return out;
}

element_definition compile_element(const json::value& e) {
  element_definition el;
  el.path = string_or_empty(e, "path");
  el.id = e.find_string("id") ? std::string(string_or_empty(e, "id")) : el.path;
  el.slice_name = string_or_empty(e, "sliceName");
  std::string_view last = el.path;
  if (auto dot = last.rfind('.'); dot != std::string_view::npos) last = last.substr(dot + 1);
  el.is_choice = last.ends_with("[x]");
  el.name = el.is_choice ? last.substr(0, last.size() - 3) : last;

  if (auto min = integer_member(e, "min")) el.min = static_cast<std::uint32_t>(*min);
  if (const std::string* max = e.find_string("max")) el.max = parse_max(*max);

  if (const json::value* types = e.find("type"); types && types->is_array()) {
    for (const json::value& t : types->as_array()) {
      type_ref ref{resolve_type_code(t), string_array(t, "profile"), string_array(t, "targetProfile"), {}};
      if (std::string_view code = string_or_empty(t, "code"); code.starts_with(system_type_prefix))
        ref.system_type = code.substr(system_type_prefix.size());
      if (el.regex.empty()) el.regex = extension_value(t, regex_extension);
      el.types.push_back(std::move(ref));
    }
  }
  // Errata: the R4 4.0.1 snapshots type Resource.id as System.String with fhir-type `string`, but the
  // specification (resource.html#id) defines it as `id`, and every server enforces the id syntax.
  if (const json::value* base = e.find("base"); base && string_or_empty(*base, "path") == "Resource.id")
    for (type_ref& t : el.types) t.code = "id";

  el.content_reference = string_or_empty(e, "contentReference");
  if (const json::value* b = e.find("binding")) {
    if (auto strength = parse_strength(string_or_empty(*b, "strength")))
      el.binding = binding{*strength, std::string(string_or_empty(*b, "valueSet"))};
  }
  if (const json::value* cs = e.find("constraint"); cs && cs->is_array()) {
    for (const json::value& c : cs->as_array()) {
      el.constraints.push_back(constraint{std::string(string_or_empty(c, "key")),
                                          parse_severity(string_or_empty(c, "severity")),
                                          std::string(string_or_empty(c, "human")),
                                          std::string(string_or_empty(c, "expression")),
                                          std::string(string_or_empty(c, "source"))});
    }
  }
  if (auto ml = integer_member(e, "maxLength"); ml && *ml > 0) el.max_length = static_cast<std::size_t>(*ml);
  el.min_value_integer = integer_member(e, "minValueInteger");
  el.max_value_integer = integer_member(e, "maxValueInteger");
  el.is_summary = bool_or_false(e, "isSummary");
  el.is_modifier = bool_or_false(e, "isModifier");
  el.must_support = bool_or_false(e, "mustSupport");
  for (const json::member& m : e.as_object()) {
    if (m.key.starts_with("fixed") && m.key.size() > 5) el.fixed = m.value;
    else if (m.key.starts_with("pattern") && m.key.size() > 7) el.pattern = m.value;
  }
  el.slicing = parse_slicing(e);
  el.base_path = el.path;
  el.base_min = el.min;
  el.base_max = el.max;
  if (const json::value* base = e.find("base"); base && base->is_object()) {
    if (const std::string* path = base->find_string("path")) el.base_path = *path;
    if (auto min = integer_member(*base, "min")) el.base_min = static_cast<std::uint32_t>(*min);
    if (const std::string* max = base->find_string("max")) el.base_max = parse_max(*max);
  }
  return el;
}

std::optional<structure_kind> parse_kind(std::string_view s) {
  if (s == "primitive-type") return structure_kind::primitive_type;
  if (s == "complex-type") return structure_kind::complex_type;
  if (s == "resource") return structure_kind::resource;
  if (s == "logical") return structure_kind::logical;
  return std::nullopt;
}

error invalid_definition(std::string_view url, std::string_view why) {
  return error(error_kind::invalid, issue_type::structure,
               fmt::format("StructureDefinition {} cannot be used: {}", url.empty() ? "(no url)" : url, why),
               "definition-invalid");
}

}  // namespace

const element_definition* structure_definition::find_by_id(std::string_view id) const {
  if (!by_id.empty()) {
    auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : it->second;
  }
  for (const element_definition& e : elements)
    if (e.id == id) return &e;
  return nullptr;
}

result<std::unique_ptr<structure_definition>> compile_structure_definition(const json::value& resource) {
  auto sd = std::make_unique<structure_definition>();
  sd->url = string_or_empty(resource, "url");
  sd->version = string_or_empty(resource, "version");
  sd->name = string_or_empty(resource, "name");
  sd->type = string_or_empty(resource, "type");
  sd->base_definition = string_or_empty(resource, "baseDefinition");
  sd->is_abstract = bool_or_false(resource, "abstract");
  sd->derivation = string_or_empty(resource, "derivation") == "constraint" ? derivation::constraint
                                                                            : derivation::specialization;
  if (const json::value* contexts = resource.find("context"); contexts && contexts->is_array())
    for (const json::value& c : contexts->as_array())
      sd->contexts.emplace_back(string_or_empty(c, "type"), string_or_empty(c, "expression"));
  auto kind = parse_kind(string_or_empty(resource, "kind"));
  if (sd->url.empty() || sd->type.empty() || !kind) return invalid_definition(sd->url, "url, type or kind missing");
  sd->kind = *kind;

  const json::value* snapshot = resource.find("snapshot");
  const json::value* elements = snapshot ? snapshot->find("element") : nullptr;
  if (!elements || !elements->is_array() || elements->as_array().empty())
    return invalid_definition(sd->url, "it has no snapshot");
  sd->elements.reserve(elements->as_array().size());
  for (const json::value& e : elements->as_array()) sd->elements.push_back(compile_element(e));
  return sd;
}

}  // namespace fhir::definitions
