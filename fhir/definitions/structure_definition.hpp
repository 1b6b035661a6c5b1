#pragma once
// A StructureDefinition compiled for use: its identity and its snapshot elements, linked into a tree.

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "fhir/definitions/element_definition.hpp"
#include "fhir/json/value.hpp"
#include "fhir/result.hpp"

namespace fhir::definitions {

enum class structure_kind { primitive_type, complex_type, resource, logical };
enum class derivation { specialization, constraint };

struct structure_definition {
  std::string url;
  std::string version;
  std::string name;
  std::string type;  // the type this defines or constrains: "Patient", "Quantity", "Extension"
  std::string base_definition;
  structure_kind kind = structure_kind::complex_type;
  definitions::derivation derivation = derivation::specialization;
  bool is_abstract = false;
  // Where an extension may be used (StructureDefinition.context): ("element", "Patient"),
  // ("extension", url), ("fhirpath", expression).
  std::vector<std::pair<std::string, std::string>> contexts;

  // Snapshot elements in definition order; elements.front() is the root (path == type).
  // The vector is never resized after linking, so element pointers stay valid.
  std::vector<element_definition> elements;

  const element_definition& root() const { return elements.front(); }
  // The element with this id ("Patient.identifier:nhsNumber.system"); constant time after linking.
  const element_definition* find_by_id(std::string_view id) const;

  // Filled by the registry when it links: elements by id.
  std::unordered_map<std::string_view, const element_definition*> by_id;
};

// Compiles a StructureDefinition resource (with a snapshot) into a structure_definition.
// Fails with kind `invalid` when the resource lacks what the server needs (url, type, kind, snapshot).
result<std::unique_ptr<structure_definition>> compile_structure_definition(const json::value& resource);

}  // namespace fhir::definitions
