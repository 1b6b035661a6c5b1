#pragma once
// The tree-walking evaluator (internal to fhir/fhirpath). One evaluator serves one evaluation: it walks
// the immutable ast with the model, the caller's environment and that environment's arena, and throws
// evaluation_error for FHIRPath run-time errors (the public API turns it into a fhir::error).

#include <functional>
#include <stdexcept>
#include <string>

#include "fhir/fhirpath/ast.hpp"
#include "fhir/fhirpath/collection.hpp"
#include "fhir/fhirpath/model.hpp"

namespace fhir::fhirpath {

class environment;

class evaluation_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class evaluator;
using function_impl = void (*)(evaluator& ev, const ast_node& call, const collection& input, collection& out);

struct function_definition {
  std::string_view name;
  int min_args;
  int max_args;
  function_impl impl;
  bool type_argument = false;  // is(T), as(T), ofType(T): the argument is a type specifier
};

// The function named `name`, or nullptr.
const function_definition* find_function(std::string_view name);

class evaluator {
 public:
  evaluator(const ast& tree, const model& m, environment& env, item resource, item root_resource, item context);

  // Evaluates the whole expression with `focus` as its input (the root of $this).
  collection run(const collection& focus);
  // Evaluates node `index` with `focus` as its input collection.
  collection eval(std::int32_t index, const collection& focus);
  // Function arguments are evaluated against the enclosing scope: the innermost $this, or the
  // expression's own input at the top level (so `name.given.combine(name.family)` works).
  collection scope();
  collection eval_argument(const ast_node& call, std::size_t argument) { return eval(call.args.at(argument), scope()); }
  collection eval_argument(const ast_node& call, std::size_t argument, const collection& focus) {
    return eval(call.args.at(argument), focus);
  }

  const ast_node& node_at(std::int32_t index) const { return tree_.nodes[static_cast<std::size_t>(index)]; }
  collection make() { return collection(&memory()); }
  // A copy of `c` in this evaluation's arena.
  collection copy(const collection& c) { return collection(c, &memory()); }
  collection single(const item& i) {
    collection c = make();
    c.push_back(i);
    return c;
  }
  arena& memory();
  const fhirpath::model& model() const { return model_; }
  // %resource and %rootResource as JSON (nullptr when they are not resources).
  const json::value* resource_json() const {
    return resource_.kind() == item_kind::node ? resource_.as_node().value : nullptr;
  }
  const json::value* root_resource_json() const {
    return root_resource_.kind() == item_kind::node ? root_resource_.as_node().value : nullptr;
  }
  environment& env() { return env_; }

  // The iteration variables of the innermost where/select/all/repeat/aggregate/...
  struct frame {
    const item* this_item = nullptr;
    std::int64_t index = 0;
    const collection* total = nullptr;
  };
  frame& current_frame() { return frame_; }
  // Runs `body` with $this = item, $index = index (and $total when given), restoring afterwards.
  collection with_this(const item& i, std::int64_t index, const collection* total, std::int32_t expression);

  // --- value helpers used by operators and functions ---
  // The System value of a node (or the item itself); nullopt for complex nodes and empty primitives.
  std::optional<item> value_of(const item& i) const;
  // FHIRPath singleton evaluation: empty -> nullopt; one item -> it; more -> error naming `what`.
  std::optional<item> singleton(const collection& c, std::string_view what) const;
  // The same for a function's input or argument: the message is only built when it is needed.
  std::optional<item> input_singleton(const collection& c, const ast_node& call) const;
  std::optional<item> argument_singleton(const collection& c, const ast_node& call, std::size_t argument) const;
  // Singleton evaluation to Boolean: empty -> nullopt, a Boolean -> its value, any other single item ->
  // true (FHIRPath N1 4.5), several -> error.
  std::optional<bool> to_boolean(const collection& c, std::string_view what) const;
  std::optional<std::string_view> string_argument(const ast_node& call, std::size_t argument);
  std::optional<std::int64_t> integer_argument(const ast_node& call, std::size_t argument);

  bool equal_items(const item& a, const item& b, std::optional<bool>& out) const;  // false: not comparable types
  bool equivalent_items(const item& a, const item& b) const;
  // Collection equality (=): nullopt when empty or uncertain.
  std::optional<bool> equal(const collection& a, const collection& b) const;
  bool equivalent(const collection& a, const collection& b) const;
  // Ordering for <, >, sort(): nullopt when unknown (precision); throws for incomparable types.
  std::optional<int> compare(const item& a, const item& b) const;

  // Appends the items of `from` not already in `into` (by equality).
  void union_into(collection& into, const collection& from) const;
  bool contains_equal(const collection& c, const item& i) const;

  // Type tests for is/as/ofType.
  bool is_type(const item& i, const type_specifier& type, bool exact) const;
  type_description type_of(const item& i) const;

  std::string_view store(std::string_view text) { return memory().copy(text); }
  [[noreturn]] void fail(const std::string& message) const { throw evaluation_error(message); }

 private:
  collection eval_member(const ast_node& n, const collection& focus);
  collection eval_function(const ast_node& n, const collection& focus);
  collection eval_binary(const ast_node& n, const collection& focus);
  collection eval_variable(const ast_node& n);
  collection arithmetic(binary_op op, const collection& a, const collection& b);
  collection boolean_logic(binary_op op, const collection& a, const collection& b);

  const ast& tree_;
  const fhirpath::model& model_;
  environment& env_;
  item resource_, root_resource_, context_;
  collection root_focus_;
  frame frame_;
};

}  // namespace fhir::fhirpath
