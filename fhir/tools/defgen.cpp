// fhir-defgen: compiles FHIR definition bundles into the compact NDJSON the server embeds.
//
//   fhir-defgen OUTPUT.ndjson BUNDLE.json...
//
// Each input is a Bundle of conformance resources (or a single resource). Every resource is written on one
// line, minified, without what only people read (narrative, descriptions, comments, mappings, examples) and
// without differentials where a snapshot exists. The loader (fhir/definitions/registry.hpp) reads the
// result exactly as it would read the full definitions, so stripping never changes behaviour.

#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"

namespace {

using fhir::json::value;

// Only optional elements: the output must stay valid R4 (tests/fhir/reference_data_test.cpp checks it).
const std::set<std::string_view> resource_documentation = {
    "text", "meta", "contact", "publisher", "purpose", "copyright", "jurisdiction", "useContext", "mapping"};
// Optional elements only, and not those the R4 invariants require (sdf-3 needs `definition`, eld-18
// `isModifierReason`, sdf-10 binding `description`).
const std::set<std::string_view> element_documentation = {
    "comment", "requirements", "alias", "mapping", "example", "meaningWhenMissing", "orderMeaning", "short",
    "extension"};

void erase_keys(value& object, const std::set<std::string_view>& keys) {
  if (!object.is_object()) return;
  std::erase_if(object.as_object(), [&](const fhir::json::member& m) { return keys.contains(m.key); });
}

void strip_concepts(value& concepts) {
  if (!concepts.is_array()) return;
  for (value& c : concepts.as_array()) {
    erase_keys(c, {"definition", "designation"});
    if (value* nested = c.find("concept")) strip_concepts(*nested);
  }
}

void strip_structure_definition(value& sd) {
  value* snapshot = sd.find("snapshot");
  if (!snapshot) return;
  sd.erase("differential");
  value* elements = snapshot->find("element");
  if (!elements || !elements->is_array()) return;
  for (value& e : elements->as_array()) {
    erase_keys(e, element_documentation);
    if (value* constraints = e.find("constraint"); constraints && constraints->is_array())
      for (value& c : constraints->as_array()) erase_keys(c, {"xpath", "requirements"});
    if (value* binding = e.find("binding")) erase_keys(*binding, {"extension"});
  }
}

void strip(value& resource) {
  erase_keys(resource, resource_documentation);
  const std::string* type = resource.find_string("resourceType");
  if (!type) return;
  if (*type == "StructureDefinition") strip_structure_definition(resource);
  if (*type == "CodeSystem")
    if (value* concepts = resource.find("concept")) strip_concepts(*concepts);
  if (*type == "SearchParameter") erase_keys(resource, {"xpath", "xpathUsage"});
}

bool append_file(const char* path, std::ostream& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "fhir-defgen: cannot read " << path << "\n";
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = fhir::json::parse(text.str());
  if (!parsed) {
    std::cerr << "fhir-defgen: " << path << ": " << parsed.error().summary() << "\n";
    return false;
  }
  value& root = *parsed;
  auto emit = [&](value& resource) {
    strip(resource);
    out << fhir::json::serialize(resource) << '\n';
  };
  const std::string* type = root.find_string("resourceType");
  if (type && *type == "Bundle") {
    if (value* entries = root.find("entry"); entries && entries->is_array())
      for (value& entry : entries->as_array())
        if (value* resource = entry.find("resource")) emit(*resource);
  } else {
    emit(root);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: fhir-defgen OUTPUT.ndjson BUNDLE.json...\n";
    return 2;
  }
  std::string output = argv[1];
  std::string temporary = output + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    for (int i = 2; i < argc; ++i)
      if (!append_file(argv[i], out)) return 1;
    if (!out.flush()) {
      std::cerr << "fhir-defgen: cannot write " << temporary << "\n";
      return 1;
    }
  }
  if (std::rename(temporary.c_str(), output.c_str()) != 0) {
    std::cerr << "fhir-defgen: cannot rename " << temporary << "\n";
    return 1;
  }
  return 0;
}
