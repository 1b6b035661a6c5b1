#pragma once
// Reads and validates resources against the loaded definitions: JSON parsing, structural validation,
// then the definitions' invariants. This is what every write goes through before anything is stored.
// One resource_validator serves the whole server: it is thread-safe and caches compiled invariants.

#include <string_view>

#include "fhir/definitions/registry.hpp"
#include "fhir/json/value.hpp"
#include "fhir/result.hpp"
#include "fhir/validation/invariant_validator.hpp"

namespace fhir::validation {

struct read_resource_result {
  json::value resource;
  std::vector<issue> issues;  // warnings and information only (errors fail the read)
};

class resource_validator {
 public:
  explicit resource_validator(const definitions::registry& definitions) : defs_(definitions), invariants_(definitions) {}

  const definitions::registry& definitions() const { return defs_; }

  // All issues of a parsed resource: structural ones, then (when the structure is sound) invariants.
  std::vector<issue> validate(const json::value& resource) const;

  // Parses and validates `text`. Fails with kind `invalid` (HTTP 400) on malformed JSON or any error
  // issue, carrying every issue found (warnings included).
  result<read_resource_result> read(std::string_view text) const;

 private:
  const definitions::registry& defs_;
  invariant_validator invariants_;
};

}  // namespace fhir::validation
