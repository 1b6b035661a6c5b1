#pragma once
// Reads a resource from request-body text: JSON parsing, then structural validation against the base
// definition of its type. This is what every write goes through before anything is stored.

#include <string_view>

#include "fhir/definitions/registry.hpp"
#include "fhir/json/value.hpp"
#include "fhir/result.hpp"

namespace fhir::validation {

struct read_resource_result {
  json::value resource;
  std::vector<issue> issues;  // warnings and information only (errors fail the read)
};

// Fails with kind `invalid` (HTTP 400) on malformed JSON or on any structural error, with every issue found.
result<read_resource_result> read_resource(const definitions::registry& definitions, std::string_view text);

}  // namespace fhir::validation
