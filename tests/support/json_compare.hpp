#pragma once
// Comparing FHIR JSON by content: object member order does not matter, array order does.

#include <string>

#include "fhir/json/value.hpp"

namespace fhir::testing {

bool same_content(const json::value& a, const json::value& b);

// A copy of a resource without id, meta.versionId and meta.lastUpdated (meta itself goes when empty):
// what a server adds on write.
json::value without_server_meta(json::value resource);

}  // namespace fhir::testing
