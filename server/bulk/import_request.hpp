#pragma once
// The kick-off request of a bulk import (`POST [base]/$import`, the Bulk Data import proposal's manifest
// approach: github.com/smart-on-fhir/bulk-import, import-manifest.md): NDJSON files the server fetches
// itself. The body is the proposal's JSON manifest, or the same as a FHIR Parameters resource (as HAPI
// FHIR and Pathling accept):
//
//   {"inputFormat": "application/fhir+ndjson", "inputSource": "https://gp.example.org/fhir",
//    "storageDetail": {"type": "https"},
//    "input": [{"type": "Patient", "url": "https://feeds.example.org/export/Patient.ndjson"}, ...]}
//
// Every url must start with one of the sources the operator allowed (`--import-source PREFIX`): the
// server fetches nothing else (no other hosts, paths, schemes, credentials in the URL, or redirects).
// The body is checked completely here, and the kick-off (interactions/import.cpp) checks the headers and
// the caller's right to write each type, so a job fails only for reasons of the moment (a source that
// does not answer, the store).

#include <string>
#include <string_view>
#include <vector>

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"
#include "server/auth/authenticator.hpp"
#include "server/context.hpp"

namespace server::bulk {

struct import_input {
  std::string type;     // the resource type of every line
  std::string url;      // where the NDJSON is fetched from
  std::string type_at;  // where the request names the type (a FHIRPath-like location, for errors)
};

struct import_spec {
  std::string input_source;  // the client's name for the data set (meta.source of lines that have none)
  std::vector<import_input> inputs;
  std::string request_url;   // the kick-off request, for the result
  std::string request_id;    // the kick-off's X-Request-Id: the audit records of the job's writes carry it
  std::string remote_address;  // the kick-off's network address, for the same records
};

// The most inputs one import may name.
constexpr std::size_t max_import_inputs = 1000;

// Reads and checks the kick-off body (JSON manifest or Parameters). Fails invalid (400) with the place
// of the problem: a missing or unsupported inputFormat, storageDetail other than https, no input, an
// unknown type, a url outside the allowed sources.
fhir::result<import_spec> parse_import_request(const context& ctx, const fhir::json::value& body, std::string request_url);

// Whether `url` is inside one of `sources` (URL prefixes): same scheme and host, a path at or below the
// prefix's, and nothing that could lead the fetch elsewhere (userinfo, encoded slashes or dots).
bool allowed_source(std::string_view url, const std::vector<std::string>& sources);
// Whether `prefix` can be a source at all (what allowed_source asks of every URL); checked at start-up.
bool usable_source(std::string_view prefix);

// The name of the work a spec asks of a caller (hex SHA-256 of the caller's binding and the inputs): the
// same import asked again by the same caller has the same key, and so continues where it stopped.
std::string import_key(const import_spec& spec, const auth::caller& owner);

}  // namespace server::bulk
