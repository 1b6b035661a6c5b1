#pragma once
// Request checks shared by several interactions.

#include <cstdint>
#include <optional>
#include <string_view>

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"
#include "server/context.hpp"
#include "server/fhir_request.hpp"

namespace server::interactions {

// Fails invalid unless `id` is a syntactically valid FHIR id (the `id` type of the definitions).
fhir::result<fhir::done> check_id(const context& ctx, std::string_view id);

// The request body as a resource of `expected_type`: checks Content-Type (415), presence, JSON syntax and
// structure (400), and that resourceType matches the URL (400).
fhir::result<fhir::json::value> read_body(const context& ctx, const fhir_request& request, std::string_view expected_type);

// The version an If-Match header names (`W/"3"` or `"3"`; `*` gives store::preconditions::any_version),
// nullopt when there is none; invalid otherwise.
fhir::result<std::optional<std::int64_t>> if_match_version(const fhir_request& request);

}  // namespace server::interactions
