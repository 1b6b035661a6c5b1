#pragma once
// What a PATCH does to a stored resource, shared by PATCH [type]/[id] and a transaction's PATCH entries.

#include <string_view>

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"
#include "server/context.hpp"
#include "server/fhir_request.hpp"

namespace server::interactions {

// `current_json` (the stored type/id) with `document` applied (a JSON Patch when `json_patch`, else a
// FHIRPath Patch), checked as every write is: the caller's own record (403 otherwise), still an object of
// the same type and id, recorded for the caller's data controller, valid (422 otherwise).
fhir::result<fhir::json::value> patched_resource(const context& ctx, const fhir_request& request, std::string_view type,
                                                 std::string_view id, std::string_view current_json,
                                                 const fhir::json::value& document, bool json_patch);

}  // namespace server::interactions
