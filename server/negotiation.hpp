#pragma once
// Content negotiation and request preferences (http.html#mime-type, #prefer):
//  - the response format, from `_format` (which wins) or Accept: only FHIR JSON is produced; a client that
//    accepts none of its media types gets 406;
//  - the request body's Content-Type: application/fhir+json or application/json, UTF-8, else 415;
//  - Prefer: return=minimal | representation | OperationOutcome.

#include <optional>
#include <string_view>

#include "fhir/result.hpp"

namespace server {

// Fails not_acceptable when neither `format` (the _format parameter, if given) nor `accept` (the Accept
// header, if given) admits FHIR JSON.
fhir::result<fhir::done> check_response_format(std::optional<std::string_view> format,
                                               std::optional<std::string_view> accept);

// Fails unsupported_media_type unless `content_type` is FHIR JSON in UTF-8.
fhir::result<fhir::done> check_body_format(std::optional<std::string_view> content_type);

enum class prefer_return { minimal, representation, operation_outcome };

// The `return` preference of a Prefer header; `representation` when absent or unrecognised (preferences
// are hints: an unknown one is ignored, as RFC 7240 says).
prefer_return parse_prefer_return(std::optional<std::string_view> prefer);

// Whether a Prefer header holds `preference` as one of its comma-separated tokens ("respond-async",
// "handling=strict"), compared without case.
bool prefers(std::optional<std::string_view> prefer, std::string_view preference);

}  // namespace server
