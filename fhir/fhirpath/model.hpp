#pragma once
// The FHIR model as FHIRPath sees it, driven by the definitions: navigating a node's children by element
// name (choice elements found whatever their JSON suffix, primitive `_name` halves included), the FHIR
// type of a node and its ancestors, and the System value of a primitive node.

#include <optional>
#include <string_view>

#include "fhir/definitions/registry.hpp"
#include "fhir/fhirpath/arena.hpp"
#include "fhir/fhirpath/collection.hpp"
#include "fhir/fhirpath/value.hpp"

namespace fhir::fhirpath {

class model {
 public:
  explicit model(const definitions::registry& definitions)
      : defs_(definitions), element_type_(definitions.find_type("Element")) {}

  const definitions::registry& definitions() const { return defs_; }

  // The node for a resource (the root, a contained resource, a Bundle entry's resource).
  item resource_node(const json::value& resource) const;

  // Appends the children of `parent` named `name` (FHIRPath element names: "value" for value[x]).
  // A resource also answers its own type name (and Resource, DomainResource) with itself, which makes
  // "Patient.name" work on a Patient. Unknown names give nothing.
  void children(const item& parent, std::string_view name, collection& out) const {
    children(parent, name, defs_.name_id(name), out);
  }
  // The same with `name` already interned (registry::name_id): what compiled expressions use.
  void children(const item& parent, std::string_view name, std::uint32_t name_id, collection& out) const;
  // Appends every child of `parent` (children()).
  void all_children(const item& parent, collection& out) const;

  // True when the FHIR type `type` is `ancestor` or derives from it ("code" from "string", "Age" from
  // "Quantity", "Patient" from "Resource").
  bool derives_from(std::string_view type, std::string_view ancestor) const;
  bool is_known_type(std::string_view type) const { return defs_.find_type(type) != nullptr; }
  bool is_abstract(std::string_view type) const;

  // The System value of a primitive node (Boolean, Integer, Decimal, String, Date, DateTime, Time), or of
  // a Quantity-typed node (its value and code/unit); nullopt for other complex nodes and for primitives
  // that only have extensions.
  std::optional<item> system_value(const item& i, arena& memory) const;

  // True for node types that are FHIR primitives (string, boolean, ...).
  bool is_primitive(std::string_view type) const { return defs_.find_primitive(type) != nullptr; }

  // The definition scope whose children describe a node's JSON object (backbone elements, content
  // references and complex types alike), or nullptr.
  const definitions::element_definition* scope_of(const node& n) const;

 private:
  void emit(const json::value* value, const json::value* extension, const definitions::type_info* type,
            const definitions::element_definition* element, collection& out) const;

  const definitions::registry& defs_;
  const definitions::structure_definition* element_type_;  // the ids and extensions of primitives
};

}  // namespace fhir::fhirpath
