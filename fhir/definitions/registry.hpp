#pragma once
// The conformance resources the server knows: StructureDefinitions (compiled and linked), primitive type
// rules, SearchParameters, ValueSets, CodeSystems, CompartmentDefinitions and OperationDefinitions.
//
// Build a registry with add() for each resource, then link() once. After link() it is immutable and safe
// to share between threads. Everything the server knows about resource structure comes from here.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fhir/definitions/primitive_type.hpp"
#include "fhir/definitions/structure_definition.hpp"
#include "fhir/definitions/type_info.hpp"
#include "fhir/json/value.hpp"
#include "fhir/result.hpp"

namespace fhir::definitions {

class registry {
 public:
  registry();
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;
  registry(registry&&) noexcept;
  registry& operator=(registry&&) noexcept;

  // Adds one conformance resource; resource types the registry does not keep are ignored.
  // Fails (kind invalid) for a StructureDefinition it cannot compile. Not valid after link().
  result<done> add(json::value resource);
  // Adds every resource of an NDJSON text (one resource per line); the first failure stops it.
  result<done> add_ndjson(std::string_view text);

  // Links structure definitions (children, content references, JSON property names) and compiles the
  // primitive types. Fails (kind invalid) when the definitions are inconsistent.
  result<done> link();

  // The base definition (derivation = specialization) of a type: "Patient", "Quantity", "string".
  const structure_definition* find_type(std::string_view type) const;
  // Any structure definition (base, profile or extension) by canonical URL; a `|version` suffix is ignored.
  const structure_definition* find_structure(std::string_view url) const;
  // The lexical rules of a primitive type code, or nullptr when `type` is not a primitive type.
  const primitive_type* find_primitive(std::string_view type) const;
  // The profiles (derivation = constraint) of a resource type, sorted by URL.
  std::vector<const structure_definition*> profiles_of(std::string_view type) const;
  // The resolved description of a type code, or nullptr for an unknown type.
  const type_info* find_type_info(std::string_view type) const;
  // The interned id of an element name (element_definition::name_id), or 0 when no element has it.
  std::uint32_t name_id(std::string_view name) const;

  // True for a concrete (non-abstract) resource type: "Patient" yes, "DomainResource" no.
  bool is_resource_type(std::string_view type) const;
  // Concrete resource types, sorted.
  const std::vector<std::string>& resource_types() const { return resource_types_; }

  const std::vector<json::value>& search_parameters() const { return search_parameters_; }
  const json::value* find_value_set(std::string_view url) const;
  const json::value* find_code_system(std::string_view url) const;
  const json::value* find_compartment_definition(std::string_view code) const;
  const json::value* find_operation_definition(std::string_view url) const;

  std::size_t structure_count() const { return structures_.size(); }
  // A number no other registry in this process has, for caches keyed by registry.
  std::uint64_t instance_id() const { return instance_id_; }

 private:
  result<done> compile_structures();
  result<done> link_structure(structure_definition& sd);
  void link_base_elements(structure_definition& sd);
  result<done> compile_primitive(const structure_definition& sd);
  void build_type_infos();
  void resolve_element_types(structure_definition& sd);

  std::vector<json::value> structure_sources_;  // StructureDefinitions added, until link() compiles them
  std::vector<std::unique_ptr<structure_definition>> structures_;
  std::unordered_map<std::string, structure_definition*, string_hash, std::equal_to<>> by_url_;
  std::unordered_map<std::string, structure_definition*, string_hash, std::equal_to<>> by_type_;
  std::unordered_map<std::string, primitive_type, string_hash, std::equal_to<>> primitives_;
  std::vector<std::string> resource_types_;
  std::unordered_map<std::string, std::unique_ptr<type_info>, string_hash, std::equal_to<>> type_infos_;
  std::unordered_map<std::string, std::uint32_t, string_hash, std::equal_to<>> name_ids_;

  std::vector<json::value> search_parameters_;
  std::unordered_map<std::string, json::value, string_hash, std::equal_to<>> value_sets_;
  std::unordered_map<std::string, json::value, string_hash, std::equal_to<>> code_systems_;
  std::unordered_map<std::string, json::value, string_hash, std::equal_to<>> compartments_;
  std::unordered_map<std::string, json::value, string_hash, std::equal_to<>> operations_;
  bool linked_ = false;
  std::uint64_t instance_id_;
};

}  // namespace fhir::definitions
