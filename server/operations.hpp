#pragma once
// Endpoints for the people and systems that run the server, outside the FHIR base URL:
//   GET /health   liveness: the process answers (200 {"status":"pass"});
//   GET /ready    readiness: the database answers a read (200), else 503 with Retry-After;
//   GET /metrics  Prometheus text format: requests, latencies, writes by organisation, SQLite's files
//                 and memory, break-glass sessions, the process's memory and open files;
//   GET /dashboard (and its .js, .css) the operators' data-quality page: static files; the figures
//                 come from GET [base]/$data-quality with the operator's own token.
// They are neither authenticated nor audited: probes call them every few seconds, and they carry no
// personal data (counts, sizes, interaction names and organisation codes). Expose them only where an
// operator's network reaches (docs/operations.md).

#include <optional>

#include "server/context.hpp"
#include "server/http/message.hpp"

namespace server {

// The answer when `request` is for one of these endpoints; nullopt otherwise.
std::optional<http::response> operations_endpoint(const context& ctx, const http::request& request);

}  // namespace server
