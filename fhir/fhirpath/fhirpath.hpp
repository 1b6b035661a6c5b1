#pragma once
// FHIRPath for FHIR R4: compile an expression once, evaluate it many times.
//
//   auto expr = fhir::fhirpath::compile("Patient.name.where(use = 'official').given.first()", registry);
//   if (!expr) ...expr.error() has the position and what was expected...
//   fhir::fhirpath::environment env(registry);
//   auto result = expr->evaluate(patient_json, env);   // result<collection>
//
// A compiled expression is immutable and thread-safe. An environment holds variables, hooks and the
// arena the results live in: results stay valid until the environment's next evaluation; use one
// environment per thread. After a few evaluations have warmed the arena, navigation-only expressions
// allocate nothing.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/fhirpath/arena.hpp"
#include "fhir/fhirpath/collection.hpp"
#include "fhir/fhirpath/value.hpp"
#include "fhir/json/value.hpp"
#include "fhir/result.hpp"

namespace fhir::fhirpath {

class environment {
 public:
  explicit environment(const definitions::registry& definitions) : definitions_(definitions) {}
  environment(const environment&) = delete;
  environment& operator=(const environment&) = delete;

  const definitions::registry& definitions() const { return definitions_; }
  fhirpath::arena& memory() { return arena_; }

  // %name variables beyond the built-in ones. String values are owned by the environment; node items
  // must outlive the evaluations that use them.
  void set_string(const std::string& name, std::string value);
  void set_items(const std::string& name, std::vector<item> items);
  const std::vector<item>* variable(std::string_view name) const;

  // Hooks for functions that need more than the model. Unset hooks make those functions fail with a
  // clear error rather than guess.
  // conformsTo(url): does the node conform to the profile? nullopt: unknown profile (an error).
  std::function<std::optional<bool>(const item& node, std::string_view url)> conforms_to;
  // memberOf(url): is the coded node in the value set? nullopt: unknown value set (empty result).
  std::function<std::optional<bool>(const item& coded, std::string_view url)> member_of;
  // resolve(): references that are neither contained (#id) nor in the root Bundle; nullptr when unknown.
  std::function<const json::value*(std::string_view reference)> resolve;
  // as(T) on several items: an error in FHIRPath N1, but R4's own invariants (dom-3) apply it to
  // collections, meaning ofType(T). The invariant validator sets this; nothing else should.
  bool lenient_as = false;
  // trace(name): called with the traced collection; by default nothing is logged.
  std::function<void(std::string_view name, const collection& items)> trace;

 private:
  const definitions::registry& definitions_;
  fhirpath::arena arena_;
  std::map<std::string, std::vector<item>, std::less<>> variables_;
  std::vector<std::unique_ptr<std::string>> strings_;
};

struct compile_options {
  // The type of the root when known ("Patient"): enables static checks of element names.
  std::string root_type;
  // Strict mode: unknown elements, non-Boolean iif criteria and the like are compile errors.
  bool strict = false;
  // With strict: order-dependent functions on unordered collections (children(), descendants()) are errors.
  bool check_ordered_functions = false;
};

struct compiled_expression;

class expression {
 public:
  const std::string& text() const;

  // Evaluates with `resource` as the root: focus, %resource, %rootResource and %context.
  result<collection> evaluate(const json::value& resource, environment& env) const;
  // Evaluates with `focus` as the input (and %context), `resource` as %resource (and %rootResource unless
  // `root_resource` is given, e.g. the Bundle a resource sits in).
  result<collection> evaluate(const item& focus, const json::value& resource, environment& env,
                              const json::value* root_resource = nullptr) const;

 private:
  friend result<expression> compile(std::string_view, const definitions::registry&, const compile_options&);
  std::shared_ptr<const compiled_expression> impl_;
};

// Compiles `text`. Fails (kind invalid) on syntax errors (with line and column), unknown functions, wrong
// argument counts, and, when a root type is given, on the static errors the options enable.
result<expression> compile(std::string_view text, const definitions::registry& definitions,
                           const compile_options& options = {});

// The FHIRPath type of an item, e.g. "FHIR.string", "System.Integer".
std::string type_name(const item& i);
// An item as text: primitive values as FHIRPath's toString() gives them, complex nodes as their JSON.
std::string to_display_string(const item& i);

}  // namespace fhir::fhirpath
