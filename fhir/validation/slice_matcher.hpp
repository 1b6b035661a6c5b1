#pragma once
// Which slice a repetition of a sliced element belongs to (profiling.html#discriminator): each
// discriminator's path is evaluated on the repetition (FHIRPath) and compared with what the slice
// says about that path:
//   value, pattern  the slice's fixed[x] or pattern[x] there (or its required binding); an extension
//                   slice's url is its extension definition's URL
//   exists          the slice requires (min >= 1) or forbids (max = 0) the element
//   type            the slice's type(s)
//   profile         the repetition conforms to the slice's type profile
// A slicing without discriminators is not matched (see matches()): its repetitions count as extras.

#include <functional>
#include <string>
#include <string_view>

#include "fhir/definitions/registry.hpp"
#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/json/value.hpp"
#include "fhir/terminology/terminology_service.hpp"
#include "fhir/validation/constraint_evaluator.hpp"

namespace fhir::validation {

// One value in an instance, as the profile validator walks it.
struct instance_node {
  const json::value* value = nullptr;      // the JSON value (nullptr: a primitive with only extensions)
  const json::value* extension = nullptr;  // a primitive's `_name` half
  const definitions::type_info* type = nullptr;
  const definitions::element_definition* base = nullptr;  // its element in the base definition
  // Its path segment, built only when needed: name, ".ofType(T)" for a choice, "[i]" in an array.
  const definitions::element_definition* element = nullptr;
  const definitions::type_ref* choice_type = nullptr;
  std::size_t index = npos;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

class slice_matcher {
 public:
  using conformance = std::function<bool(const instance_node&, const definitions::structure_definition&)>;

  slice_matcher(const definitions::registry& definitions, const terminology::terminology_service& terminology,
                const constraint_evaluator& expressions, fhirpath::environment& env, const json::value& resource)
      : defs_(definitions), terminology_(terminology), expressions_(expressions), env_(env), resource_(resource) {}

  void set_conformance(conformance c) { conforms_ = std::move(c); }

  // Does `value` belong to `slice` of `sliced`?
  bool matches(const instance_node& value, const definitions::element_definition& slice,
               const definitions::element_definition& sliced);

 private:
  bool discriminator_matches(const instance_node& value, const definitions::element_definition& slice,
                             const definitions::discriminator& d);
  // The element a discriminator path names, starting at the slice ("system", "coding.code", "$this",
  // "extension('url').value"), or nullptr.
  const definitions::element_definition* element_at(const definitions::element_definition& from, std::string_view path) const;
  const definitions::element_definition* scope_of(const definitions::element_definition& e) const;
  bool evaluate(std::string_view path, const instance_node& value, fhirpath::collection& out);
  bool in_required_binding(const fhirpath::item& item, const definitions::binding& binding) const;

  const definitions::registry& defs_;
  const terminology::terminology_service& terminology_;
  const constraint_evaluator& expressions_;
  fhirpath::environment& env_;
  const json::value& resource_;
  conformance conforms_;
};

}  // namespace fhir::validation
