#pragma once
// Reads and validates resources against the loaded definitions. This is what every write goes through
// before anything is stored, what $validate runs, and what `fhir-server validate` prints:
//  1. JSON parsing;
//  2. structure against the base definition of the type, with the element rules on the way (bindings,
//     references, extensions, NHS numbers);
//  3. the invariants of the base definitions (FHIRPath);
//  4. profiles: every profile in meta.profile that is known (an unknown one gives a warning), the
//     deployment's default profile for the type (validation_options), and any the caller asks for.
// Issues come out in a stable order (the order of the walk), without duplicates.
//
// One resource_validator serves the whole server: it is thread-safe and caches compiled invariants and
// value set expansions.

#include <string>
#include <string_view>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/json/value.hpp"
#include "fhir/result.hpp"
#include "fhir/terminology/terminology_service.hpp"
#include "fhir/validation/binding_checker.hpp"
#include "fhir/validation/constraint_evaluator.hpp"
#include "fhir/validation/element_rules.hpp"
#include "fhir/validation/profile_validator.hpp"
#include "fhir/validation/reference_checker.hpp"
#include "fhir/validation/validation_options.hpp"

namespace fhir::validation {

struct read_resource_result {
  json::value resource;
  std::vector<issue> issues;  // warnings and information only (errors fail the read)
};

struct validation_outcome {
  std::vector<issue> issues;
  // True when an error is about the form of the resource (the FHIR JSON format: unknown elements,
  // wrong types, cardinality of the base definitions): "could not be parsed", HTTP 400. Other errors
  // (invariants, bindings, profiles, this server's rules) are HTTP 422.
  bool malformed = false;
};

class resource_validator {
 public:
  explicit resource_validator(const definitions::registry& definitions, validation_options options = {});

  const definitions::registry& definitions() const { return defs_; }
  const validation_options& options() const { return options_; }
  const terminology::terminology_service& terminology() const { return terminology_; }

  // All issues of a parsed resource; `profiles` are validated too (an unknown one is an error).
  validation_outcome check(const json::value& resource, const std::vector<std::string>& profiles = {}) const;
  std::vector<issue> validate(const json::value& resource) const { return check(resource).issues; }

  // Parses and validates `text`. Fails with kind `invalid` (HTTP 400) on malformed JSON or a malformed
  // resource, and with kind `unprocessable` (HTTP 422) on any other error; either carries every issue
  // found (warnings included).
  result<read_resource_result> read(std::string_view text) const;

 private:
  // Validates against the claimed, default and requested profiles; returns those that were applied.
  std::vector<const definitions::structure_definition*> profiles(const json::value& resource, const std::vector<std::string>& requested,
                                                                 std::vector<issue>& issues) const;

  const definitions::registry& defs_;
  validation_options options_;
  terminology::terminology_service terminology_;
  constraint_evaluator constraints_;
  binding_checker bindings_;
  reference_checker references_;
  profile_validator profiles_;
  element_rules rules_;
};

// Removes repeated issues (same severity, message id and location; the first is kept) and caps the
// list, so that a hostile resource cannot make the outcome unbounded.
void deduplicate(std::vector<issue>& issues);

}  // namespace fhir::validation
