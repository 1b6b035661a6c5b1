#pragma once
// Building HTTP responses for FHIR: JSON bodies with the right Content-Type (pretty when asked), version
// headers (ETag, Last-Modified, Location), and OperationOutcomes for errors with the status their kind maps to.

#include <string>
#include <vector>

#include "fhir/outcome.hpp"
#include "server/context.hpp"
#include "server/fhir_request.hpp"
#include "server/http/message.hpp"
#include "store/store.hpp"

namespace server {

inline constexpr std::string_view fhir_json_content_type = "application/fhir+json; charset=utf-8";

// A response whose body is `json` (compact FHIR JSON), re-indented when the request asked for _pretty.
http::response json_response(unsigned status, std::string json, const fhir_request& request);

// The error as an OperationOutcome with the status its kind maps to. Faults are logged in full and
// answered with a generic diagnostic, so no internal detail reaches a client.
http::response error_response(const fhir::error& error, const fhir_request* request = nullptr);

// An informational OperationOutcome (Prefer: return=OperationOutcome, successful delete).
http::response information_response(unsigned status, std::string diagnostics, const fhir_request& request);

// ETag and Last-Modified for a version.
void set_version_headers(http::response& response, const store::version_info& info);

// "W/\"3\"", the weak ETag of a version.
std::string etag_of(std::int64_t version);

// "{base}/Patient/123/_history/3".
std::string version_url(const settings& settings, const store::version_info& info);

// Responds to a successful write per the Prefer header: the resource, nothing, or an OperationOutcome
// with `message` followed by the validation warnings and information the write was accepted with.
http::response write_response(unsigned status, const store::resource_version& version, std::string message,
                              const std::vector<fhir::issue>& validation_issues, const fhir_request& request);

}  // namespace server
