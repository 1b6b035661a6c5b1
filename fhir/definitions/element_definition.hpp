#pragma once
// The parts of an ElementDefinition the server works with, compiled from a StructureDefinition snapshot.
// Everything here is read from the definitions; nothing is specific to one resource type.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fhir/outcome.hpp"

namespace fhir::definitions {

struct type_ref {
  std::string code;  // a FHIR type code: "string", "Quantity", "Reference", "Resource", "BackboneElement"
  std::vector<std::string> profiles;
  std::vector<std::string> target_profiles;
  // When the definition used a FHIRPath system type ("http://hl7.org/fhirpath/System.Date"), its name
  // ("Date"); `code` then holds the FHIR type named by the fhir-type extension.
  std::string system_type;
};

enum class binding_strength { required, extensible, preferred, example };

struct binding {
  binding_strength strength = binding_strength::example;
  std::string value_set;  // canonical URL, possibly with |version
};

struct constraint {
  std::string key;  // "ele-1", "obs-6"
  fhir::severity severity = fhir::severity::error;
  std::string human;
  std::string expression;  // FHIRPath
  std::string source;
};

struct element_definition;

// What a JSON property name resolves to inside an element: the element, and for a choice element
// (`value[x]` seen as `valueQuantity`) the type the name selects.
struct json_property {
  const element_definition* element = nullptr;
  const type_ref* type = nullptr;  // nullptr for an element without types (backbone or contentReference)
};

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using property_map = std::unordered_map<std::string, json_property, string_hash, std::equal_to<>>;

struct element_definition {
  static constexpr std::uint32_t unbounded = std::numeric_limits<std::uint32_t>::max();

  std::string id;    // "Patient.contact.name", "Extension.extension:foo.value[x]"
  std::string path;  // "Patient.contact.name"
  std::string name;  // the JSON name: last path segment without "[x]"
  std::string slice_name;
  bool is_choice = false;  // the path ends in "[x]"

  std::uint32_t min = 0;
  std::uint32_t max = 1;
  std::vector<type_ref> types;
  std::string content_reference;  // "#Questionnaire.item"
  std::optional<definitions::binding> binding;
  std::vector<constraint> constraints;
  std::optional<std::size_t> max_length;
  std::optional<std::int64_t> min_value_integer;  // minValueInteger
  std::optional<std::int64_t> max_value_integer;  // maxValueInteger
  std::string regex;  // the `regex` extension on the type (primitive `.value` elements)
  bool is_summary = false;
  bool is_modifier = false;
  bool must_support = false;

  // Filled by the registry when it links a structure definition.
  const element_definition* content_target = nullptr;     // resolved content_reference
  std::vector<const element_definition*> children;        // direct children, slices excluded
  property_map properties;                                // JSON names of the children, choices expanded

  // The child named `name` as FHIRPath names it ("value" for value[x]), or nullptr. Linear: elements
  // have few children, and this keeps the definitions compact.
  const element_definition* child(std::string_view child_name) const {
    for (const element_definition* c : children)
      if (c->name == child_name) return c;
    return nullptr;
  }

  bool is_repeating() const { return max > 1; }
};

}  // namespace fhir::definitions
