// The FHIR additions to FHIRPath (fhirpath.html#functions in the FHIR specification): extension(),
// hasValue(), getValue(), resolve(), conformsTo(), memberOf(), htmlChecks(), checkModifiers().

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/fhirpath/functions.hpp"
#include "fhir/resource.hpp"

namespace fhir::fhirpath {
namespace {

std::string_view string_child(const item& i, std::string_view name) {
  if (i.kind() != item_kind::node || !i.as_node().value) return {};
  const std::string* s = i.as_node().value->find_string(name);
  return s ? std::string_view(*s) : std::string_view();
}

void extension(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto url = ev.string_argument(call, 0);
  if (!url) return;
  collection extensions = ev.make();
  for (const item& i : input) ev.model().children(i, "extension", extensions);
  for (const item& e : extensions)
    if (string_child(e, "url") == *url) out.push_back(e);
}

void has_value(evaluator&, const ast_node&, const collection& input, collection& out) {
  bool result = false;
  if (input.size() == 1) {
    const item& i = input.front();
    result = i.kind() != item_kind::node ||
             (i.as_node().value && !i.as_node().value->is_object() && i.as_node().type->primitive);
  }
  out.push_back(item::of_boolean(result));
}

void get_value(evaluator& ev, const ast_node&, const collection& input, collection& out) {
  if (input.size() != 1) return;
  const item& i = input.front();
  if (i.kind() == item_kind::node && (!i.as_node().value || i.as_node().value->is_object())) return;
  if (auto v = ev.value_of(i)) out.push_back(*v);
}

// Finds the resource a reference names: "#id" among the contained resources of %resource; a fullUrl or
// "Type/id" among the entries of a Bundle root; then the environment's resolver.
const json::value* find_reference(evaluator& ev, std::string_view reference, const json::value* resource,
                                  const json::value* root) {
  if (reference.starts_with('#') && resource) return find_contained(*resource, reference.substr(1));
  if (root && resource_type_of(*root) == "Bundle") {
    if (const json::value* entries = root->find("entry"); entries && entries->is_array()) {
      for (const json::value& entry : entries->as_array()) {
        const json::value* r = entry.find("resource");
        if (!r) continue;
        const std::string* full_url = entry.find_string("fullUrl");
        if (full_url && *full_url == reference) return r;
        std::string relative = fmt::format("{}/{}", resource_type_of(*r), id_of(*r));
        if (reference == relative || reference.ends_with("/" + relative)) return r;
      }
    }
  }
  if (ev.env().resolve) return ev.env().resolve(reference);
  return nullptr;
}

void resolve(evaluator& ev, const ast_node&, const collection& input, collection& out) {
  for (const item& i : input) {
    std::string_view reference;
    if (i.kind() == item_kind::string) reference = i.as_string();
    else if (i.kind() == item_kind::node && i.as_node().value && i.as_node().value->is_string()) reference = i.as_node().value->as_string();
    else reference = string_child(i, "reference");
    if (reference.empty()) continue;
    const json::value* found = find_reference(ev, reference, ev.resource_json(), ev.root_resource_json());
    if (found) out.push_back(ev.model().resource_node(*found));
  }
}

void conforms_to(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto url = ev.string_argument(call, 0);
  auto i = ev.singleton(input, "the input of conformsTo()");
  if (!url || !i) return;
  if (ev.env().conforms_to) {
    auto r = ev.env().conforms_to(*i, *url);
    if (!r) ev.fail(fmt::format("conformsTo(): unknown profile '{}'", *url));
    out.push_back(item::of_boolean(*r));
    return;
  }
  // Without a validator, base definitions still answer: a resource conforms to its type's definition.
  const auto* sd = ev.model().definitions().find_structure(*url);
  if (!sd) ev.fail(fmt::format("conformsTo(): unknown profile '{}'", *url));
  if (sd->derivation != definitions::derivation::specialization)
    ev.fail(fmt::format("conformsTo('{}') needs the validator to check a profile", *url));
  out.push_back(item::of_boolean(i->kind() == item_kind::node && i->as_node().type->derives_from(sd->type)));
}

// The codes of a ValueSet available locally: enumerated concepts, whole local CodeSystems and an
// expansion. Filters (is-a, regex) need the terminology service of the validator (env.member_of).
bool in_local_value_set(const definitions::registry& defs, std::string_view url, std::string_view system,
                        std::string_view code, int depth = 0) {
  const json::value* vs = defs.find_value_set(url);
  if (!vs || depth > 8) return false;
  auto concept_present = [&](const json::value& concepts, auto& self) -> bool {
    if (!concepts.is_array()) return false;
    for (const json::value& c : concepts.as_array()) {
      const std::string* cc = c.find_string("code");
      if (cc && *cc == code) return true;
      if (const json::value* nested = c.find("concept"); nested && self(*nested, self)) return true;
    }
    return false;
  };
  if (const json::value* expansion = vs->find("expansion")) {
    if (const json::value* contains = expansion->find("contains"); contains && contains->is_array()) {
      for (const json::value& c : contains->as_array()) {
        const std::string* s = c.find_string("system");
        const std::string* cc = c.find_string("code");
        if (s && cc && *cc == code && (system.empty() || *s == system)) return true;
      }
    }
  }
  const json::value* compose = vs->find("compose");
  const json::value* includes = compose ? compose->find("include") : nullptr;
  if (!includes || !includes->is_array()) return false;
  for (const json::value& include : includes->as_array()) {
    const std::string* s = include.find_string("system");
    if (s && !system.empty() && *s != system) continue;
    if (const json::value* concepts = include.find("concept")) {
      if (concept_present(*concepts, concept_present)) return true;
      continue;
    }
    if (include.find("filter")) continue;
    if (s) {
      if (const json::value* cs = defs.find_code_system(*s))
        if (const json::value* concepts = cs->find("concept"); concepts && concept_present(*concepts, concept_present))
          return true;
    }
    if (const json::value* value_sets = include.find("valueSet"); value_sets && value_sets->is_array())
      for (const json::value& nested : value_sets->as_array())
        if (nested.is_string() && in_local_value_set(defs, nested.as_string(), system, code, depth + 1)) return true;
  }
  return false;
}

void member_of(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  auto url = ev.string_argument(call, 0);
  auto i = ev.singleton(input, "the input of memberOf()");
  if (!url || !i) return;
  if (ev.env().member_of) {
    if (auto r = ev.env().member_of(*i, *url)) out.push_back(item::of_boolean(*r));
    return;
  }
  const auto& defs = ev.model().definitions();
  if (!defs.find_value_set(*url)) return;  // unknown value set: empty, as the specification says
  // Collect (system, code) pairs from a code, Coding or CodeableConcept.
  std::vector<std::pair<std::string_view, std::string_view>> codes;
  auto add_coding = [&](const json::value& coding) {
    const std::string* s = coding.find_string("system");
    const std::string* c = coding.find_string("code");
    if (c) codes.emplace_back(s ? std::string_view(*s) : std::string_view(), *c);
  };
  if (i->kind() == item_kind::string) {
    codes.emplace_back(std::string_view(), i->as_string());
  } else if (i->kind() == item_kind::node && i->as_node().value) {
    const json::value& v = *i->as_node().value;
    if (v.is_string()) codes.emplace_back(std::string_view(), v.as_string());
    else if (v.find("coding")) {
      for (const json::value& coding : v.find("coding")->as_array()) add_coding(coding);
    } else {
      add_coding(v);
    }
  }
  bool member = std::any_of(codes.begin(), codes.end(),
                            [&](const auto& sc) { return in_local_value_set(defs, *url, sc.first, sc.second); });
  out.push_back(item::of_boolean(member));
}

// htmlChecks(): the narrative rules of FHIR (narrative.html#xhtml): no active content.
void html_checks(evaluator& ev, const ast_node&, const collection& input, collection& out) {
  auto i = ev.singleton(input, "the input of htmlChecks()");
  if (!i) return;
  auto v = ev.value_of(*i);
  if (!v || v->kind() != item_kind::string) {
    out.push_back(item::of_boolean(false));
    return;
  }
  std::string text(v->as_string());
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::string_view forbidden[] = {"<script", "<object", "<applet", "<embed", "<iframe", "<form",
                                                   "<input", "<base", "<link", "<frame", "<meta", "javascript:"};
  bool ok = text.starts_with("<div");
  for (std::string_view f : forbidden) ok = ok && text.find(f) == std::string::npos;
  // Event handler attributes: " onclick=", " onload=", ...
  for (std::size_t pos = text.find(" on"); ok && pos != std::string::npos; pos = text.find(" on", pos + 1)) {
    std::size_t end = pos + 3;
    while (end < text.size() && std::isalpha(static_cast<unsigned char>(text[end]))) ++end;
    if (end > pos + 3 && end < text.size() && text[end] == '=') ok = false;
  }
  out.push_back(item::of_boolean(ok));
}

// checkModifiers(url, ...): the input, provided every modifierExtension it has is one of the listed urls.
void check_modifiers(evaluator& ev, const ast_node& call, const collection& input, collection& out) {
  std::vector<std::string_view> allowed;
  for (std::size_t a = 0; a < call.args.size(); ++a)
    if (auto url = ev.string_argument(call, a)) allowed.push_back(*url);
  for (const item& i : input) {
    collection modifiers = ev.make();
    ev.model().children(i, "modifierExtension", modifiers);
    for (const item& m : modifiers) {
      std::string_view url = string_child(m, "url");
      if (std::find(allowed.begin(), allowed.end(), url) == allowed.end())
        ev.fail(fmt::format("unknown modifier extension '{}'", url));
    }
    out.push_back(i);
  }
}

void needs_profiles(evaluator& ev, const ast_node& call, const collection&, collection&) {
  ev.fail(fmt::format("{}() needs profile definitions, which the validator provides", call.name));
}

const function_definition table[] = {
    {"extension", 1, 1, extension},
    {"hasValue", 0, 0, has_value},
    {"getValue", 0, 0, get_value},
    {"resolve", 0, 0, resolve},
    {"conformsTo", 1, 1, conforms_to},
    {"memberOf", 1, 1, member_of},
    {"htmlChecks", 0, 0, html_checks},
    {"checkModifiers", 0, 16, check_modifiers},
    {"elementDefinition", 0, 0, needs_profiles},
    {"slice", 2, 2, needs_profiles},
};

}  // namespace

std::span<const function_definition> fhir_functions() { return table; }

const function_definition* find_function(std::string_view name) {
  for (auto group : {collection_functions(), conversion_functions(), string_functions(), fhir_functions()})
    for (const function_definition& f : group)
      if (f.name == name) return &f;
  return nullptr;
}

}  // namespace fhir::fhirpath
