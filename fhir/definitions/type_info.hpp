#pragma once
// What the FHIRPath engine and the validators need to know about a type, resolved once when the
// registry links its definitions so that navigating a resource never looks a type up by name.

#include <string>
#include <string_view>

namespace fhir::definitions {

struct structure_definition;
class primitive_type;

// How a primitive's value reads as a FHIRPath System value.
enum class value_kind : unsigned char { none, boolean, integer, decimal, string, date, date_time, time };

struct type_info {
  std::string code;                                // "Patient", "HumanName", "code"
  const structure_definition* definition = nullptr;  // the base definition of the type
  const primitive_type* primitive = nullptr;       // for primitive types
  const type_info* base = nullptr;                 // the type this one specialises (code -> string)
  definitions::value_kind value_kind = value_kind::none;
  bool is_resource = false;           // a resource type, abstract (Resource, DomainResource) or not
  bool is_concrete_resource = false;  // a resource type that instances can have
  bool is_quantity = false;           // Quantity or a type derived from it (Age, Duration, ...)

  // True when this type is `ancestor` or derives from it.
  bool derives_from(std::string_view ancestor) const {
    for (const type_info* t = this; t; t = t->base)
      if (t->code == ancestor) return true;
    return false;
  }
};

}  // namespace fhir::definitions
