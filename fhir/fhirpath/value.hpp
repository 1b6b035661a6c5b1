#pragma once
// What a FHIRPath collection holds: either an element of the FHIR resource being evaluated (a node,
// carrying its FHIR type and definition) or a System value computed by the expression (Boolean,
// Integer, Decimal, String, Date, DateTime, Time, Quantity) or a type description (from type()).
//
// Items are small and trivially copyable; strings are views into the resource, the expression or the
// evaluation's arena, all of which outlive the collection.

#include <cstdint>
#include <string_view>
#include <vector>

#include "fhir/definitions/element_definition.hpp"
#include "fhir/fhirpath/decimal.hpp"
#include "fhir/fhirpath/temporal.hpp"
#include "fhir/json/value.hpp"

namespace fhir::fhirpath {

enum class item_kind : std::uint8_t { node, boolean, integer, decimal, string, temporal, quantity, type_info };

struct quantity {
  fhirpath::decimal value;
  std::string_view unit;  // a UCUM code or a calendar keyword ("day"); "1" for unitless
};

// An element of the resource: its JSON value (null for a primitive that only has extensions), the
// `_name` companion of a primitive, its FHIR type (never null) and the element definition it
// instantiates (null for a resource at the root or inside contained/entry).
struct node {
  const json::value* value;
  const json::value* extension;
  const definitions::type_info* type;
  const definitions::element_definition* element;
};

// The result of type(): a namespace ("System" or "FHIR") and a name.
struct type_description {
  std::string_view namespace_name;
  std::string_view name;
};

class item {
 public:
  static item of_node(node n) { item i(item_kind::node); i.node_ = n; return i; }
  static item of_boolean(bool b) { item i(item_kind::boolean); i.boolean_ = b; return i; }
  static item of_integer(std::int64_t v) { item i(item_kind::integer); i.integer_ = v; return i; }
  static item of_decimal(fhirpath::decimal d) { item i(item_kind::decimal); i.decimal_ = d; return i; }
  static item of_string(std::string_view s) { item i(item_kind::string); i.string_ = s; return i; }
  static item of_temporal(fhirpath::temporal t) { item i(item_kind::temporal); i.temporal_ = t; return i; }
  static item of_quantity(fhirpath::quantity q) { item i(item_kind::quantity); i.quantity_ = q; return i; }
  static item of_type(type_description t) { item i(item_kind::type_info); i.type_ = t; return i; }

  item_kind kind() const { return kind_; }
  const fhirpath::node& as_node() const { return node_; }
  bool as_boolean() const { return boolean_; }
  std::int64_t as_integer() const { return integer_; }
  const fhirpath::decimal& as_decimal() const { return decimal_; }
  std::string_view as_string() const { return string_; }
  const fhirpath::temporal& as_temporal() const { return temporal_; }
  const fhirpath::quantity& as_quantity() const { return quantity_; }
  const type_description& as_type() const { return type_; }

 private:
  explicit item(item_kind k) : kind_(k), integer_(0) {}
  item_kind kind_;
  union {
    fhirpath::node node_;
    bool boolean_;
    std::int64_t integer_;
    fhirpath::decimal decimal_;
    std::string_view string_;
    fhirpath::temporal temporal_;
    fhirpath::quantity quantity_;
    type_description type_;
  };
};

class collection;  // fhir/fhirpath/collection.hpp

}  // namespace fhir::fhirpath
