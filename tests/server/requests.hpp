#pragma once
// Helpers shared by the server tests that drive several requests and read the answers.

#include <cstddef>
#include <string>
#include <string_view>

#include "fhir/json/value.hpp"
#include "server/http/message.hpp"
#include "tests/server/app_fixture.hpp"

namespace fhir::testing {

// A minimal Patient: an optional client id, one identifier, a family name and a birth date.
std::string patient_with_identifier(std::string_view id, std::string_view system, std::string_view value,
                                    std::string_view family = "Smith", std::string_view birth_date = "1980-01-01");

// A Consent as the SHCR-Consent profile wants it: `kind` from the consent-kind CodeSystem (shcr-optout,
// ndoo, ...), for Patient/`patient`, with `provision` (JSON text) at its root.
std::string consent_json(std::string_view id, std::string_view patient, std::string_view kind, std::string_view status = "active",
                         std::string_view provision = R"({"type":"deny"})");

// The string member `key` of `v` (empty when `v` is null or the member absent).
std::string text(const json::value* v, std::string_view key);
// The first element of an array (null when `v` is null, not an array or empty).
const json::value* first(const json::value* v);

// The match entries of a searchset (entries without a search.mode count as matches).
std::size_t count_matches(const json::value& searchset);
// The number of resources a search ("Patient?identifier=...") matches; requires a 200.
std::size_t matches(const app_fixture& app, const std::string& query);
// The number of entries of a history ("/fhir/_history", "/fhir/Patient/p1/_history"), up to 100.
std::size_t history_size(const app_fixture& app, const std::string& target = "/fhir/_history");
// GET /fhir/<path>, requiring a 200.
json::value read_ok(const app_fixture& app, const std::string& path);
// PUT /fhir/<path>, requiring a 200 or 201.
void put_ok(const app_fixture& app, const std::string& path, const std::string& body);
// POST /fhir/<type>, requiring a 201; the new id.
std::string post_ok(const app_fixture& app, const std::string& type, const std::string& body);

// Polls the status URL of an asynchronous job (bulk export or import: a local path) until it answers 200
// and returns that body: each 202 carries X-Progress and Retry-After, the 200 is JSON with Expires.
// Fails after 30 s.
json::value wait_for_job(const app_fixture& app, const std::string& status_path, const server::http::header& caller);

// Authorization header of a development token (the fixture's server runs in development mode) with
// these claims (a JSON object's text).
server::http::header dev_token(std::string_view claims_json);
// A clinician (R8000, user/*.cruds, TREAT) acting for organisation `ods`: a feed writing as that
// data controller.
server::http::header as_organisation(std::string_view ods);

}  // namespace fhir::testing
