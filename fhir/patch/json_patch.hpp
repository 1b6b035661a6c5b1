#pragma once
// JSON Patch (RFC 6902) on a JSON value, as FHIR's PATCH interaction takes it
// (application/json-patch+json, http.html#patch). Operations are applied in order to a copy; the first
// failing one fails the whole patch (kind invalid for a malformed document, unprocessable for an
// operation that cannot apply, e.g. a failed `test` or a missing path), naming the operation index.

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"

namespace fhir::patch {

result<json::value> apply_json_patch(const json::value& target, const json::value& patch);

}  // namespace fhir::patch
