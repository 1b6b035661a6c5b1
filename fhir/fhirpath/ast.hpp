#pragma once
// The compiled form of a FHIRPath expression: a tree of nodes stored in one vector (children by index),
// immutable after compilation and shared freely between threads.

#include <cstdint>
#include <string>
#include <vector>

#include "fhir/fhirpath/value.hpp"

namespace fhir::fhirpath {

struct function_definition;

enum class node_kind : std::uint8_t {
  literal,       // `value` (or an empty collection when `empty_literal`)
  member,        // input.name, or name on the focus when input < 0
  function,      // input.name(args...), or name(args...) on the focus when input < 0
  indexer,       // input[args[0]]
  this_value,    // $this
  index_value,   // $index
  total_value,   // $total
  variable,      // %name
  unary_minus,   // -args[0]
  unary_plus,    // +args[0]
  binary,        // args[0] op args[1]
  type_is,       // args[0] is type
  type_as,       // args[0] as type
};

enum class binary_op : std::uint8_t {
  multiply, divide, div, mod, add, subtract, concatenate, union_, less, greater, less_equal, greater_equal,
  equal, equivalent, not_equal, not_equivalent, in, contains, and_, or_, xor_, implies,
};

struct type_specifier {
  std::string namespace_name;  // "FHIR", "System", or empty when unqualified
  std::string name;
  // Resolved at compile time: the FHIR type `name` names (nullptr when none, or for System.X).
  const definitions::type_info* fhir_type = nullptr;
};

struct ast_node {
  node_kind kind;
  binary_op op = binary_op::add;
  bool empty_literal = false;
  std::int32_t input = -1;
  std::vector<std::int32_t> args;
  std::string name;  // member, function or variable name
  std::uint32_t name_id = 0;  // a member's name interned by the registry; 0: no element has this name
  type_specifier type;
  const function_definition* function = nullptr;
  std::string literal_text;  // owns the text a literal string or quantity unit points into
  item value = item::of_boolean(false);
  std::uint32_t position = 0;  // offset in the expression text, for messages
};

struct ast {
  std::vector<ast_node> nodes;
  std::int32_t root = -1;
};

}  // namespace fhir::fhirpath
