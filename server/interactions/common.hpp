#pragma once
// Request checks shared by several interactions.

#include <cstdint>
#include <optional>
#include <string_view>

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "server/context.hpp"
#include "server/fhir_request.hpp"

namespace server::interactions {

// Fails invalid unless `id` is a syntactically valid FHIR id (the `id` type of the definitions).
fhir::result<fhir::done> check_id(const context& ctx, std::string_view id);

// The request body as a resource of `expected_type`, with the validator's warnings and information:
// checks Content-Type (415), presence, JSON syntax and structure (400), that resourceType matches the
// URL (400), and the rest of validation (422).
fhir::result<fhir::validation::read_resource_result> read_body(const context& ctx, const fhir_request& request, std::string_view expected_type);

// The version an If-Match header names (`W/"3"` or `"3"`; `*` gives store::preconditions::any_version),
// nullopt when there is none; invalid otherwise.
fhir::result<std::optional<std::int64_t>> if_match_version(const fhir_request& request);

// Records the caller's data controller (the legal entity behind the token's org_ods) as the resource's
// data-controller tag. Fails invalid for a malformed ODS code, unprocessable when the resource already
// names a different controller (a feed cannot write on another organisation's behalf). A caller without
// an organisation records none.
fhir::result<fhir::done> record_controller(const fhir_request& request, fhir::json::value& resource);
// The same for the data controller `ods` (an import with --organization).
fhir::result<fhir::done> record_controller(std::string_view ods, fhir::json::value& resource);
// An ODS code as this server accepts one: 3-10 upper-case letters and digits.
bool is_ods_code(std::string_view ods);

// The parameters of a search: the query's, and for POST [type]/_search the form-encoded body's too
// (search.html#search). Fails unsupported_media_type for another body type, invalid for a bad escape.
fhir::result<http::query_params> form_search_parameters(const fhir_request& request);

// The caller's data controller (ODS code), or empty.
std::string caller_controller(const fhir_request& request);
// Counts the validation issues of a resource written or refused, for GET /metrics and the data-quality
// figures; `resource` is what was validated (null when the body could not be read as one).
void count_validation(const context& ctx, const fhir_request& request, std::string_view type, const std::vector<fhir::issue>& issues,
                      const fhir::json::value* resource);

}  // namespace server::interactions
