#pragma once
// One application for the targets that need the whole server: R4 with UK Core, the server's default
// profiles, development authentication (so requests reach the interactions), on a database in a
// temporary directory that is removed at exit.

#include "server/application.hpp"

namespace fhir::fuzz {

server::application& fuzz_application();

// Handles a request as the transport does (waiting for its audit record) and returns the status.
unsigned handle(const server::http::request& request);

}  // namespace fhir::fuzz
