#pragma once
// What interactions work with: the definitions, the store and the server's settings. Shared by all
// request threads; everything in it is thread-safe (the registry is immutable, the store is thread-safe).

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/search/search_parameters.hpp"
#include "fhir/time.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "server/auth/authenticator.hpp"
#include "server/http/message.hpp"
#include "store/store.hpp"

namespace server {

class metrics;


class page_cursors;

namespace bulk {
class export_jobs;
class import_jobs;
}

namespace quality {
class quality_recorder;
}

namespace consent {
class consent_cache;
class break_glass_sessions;
}

struct settings {
  std::string base_url;                // "http://localhost:8080/fhir", no trailing slash
  std::size_t default_page_size = 50;  // _count when absent
  std::size_t max_page_size = 1000;    // larger _count values are capped (search.html#count)
  std::string software_version;
  bool conditional_delete_multiple = false;  // DELETE [type]?criteria may delete several matches
  bool audit = true;                         // every request is recorded as an AuditEvent (off only in benchmarks)
  // Bytes of entry text a transaction holds prepared before its unit of work; beyond, entries are
  // prepared inside it (server/bundle/transaction.cpp).
  std::size_t transaction_prepare_ahead_bytes = std::size_t{16} << 20;
  // Planning and research need the national data opt-out mirror refreshed within this age (ms; 0: off).
  fhir::epoch_ms ndoo_max_age = 0;
  // A source organisation whose last write is older than this is reported as a stale feed ($data-quality).
  fhir::epoch_ms stale_feed_age = 24 * 3'600'000;
  // $import fetches from URLs starting with one of these (bulk/import_request.hpp: allowed_source).
  std::vector<std::string> import_sources;

  // The base URLs under which absolute references name this server's resources (its one base URL).
  std::span<const std::string> own_bases() const { return {&base_url, 1}; }
};

struct context {
  const fhir::definitions::registry& definitions;
  const fhir::validation::resource_validator& validator;
  store::store& store;
  const fhir::search::search_parameters& search_parameters;
  server::settings settings;
  std::string capability_statement;  // compact JSON, built once at start-up
  // Who may call and what they may do (never null once the application is assembled).
  const auth::authenticator* auth = nullptr;
  // The Consents of each patient, for consent enforcement (never null once the application is assembled).
  consent::consent_cache* consents = nullptr;
  // Declared emergencies (never null once the application is assembled).
  consent::break_glass_sessions* break_glass = nullptr;
  // Request counters and latencies for GET /metrics (null: not recorded).
  server::metrics* metrics = nullptr;
  // Seals page links to the caller and the search (never null once the application is assembled).
  const page_cursors* cursors = nullptr;
  // Bulk export and import jobs (never null once the application is assembled).
  bulk::export_jobs* exports = nullptr;
  bulk::import_jobs* imports = nullptr;
  // Data-quality counts of every validated write (null: not counted).
  quality::quality_recorder* quality = nullptr;
  // Routes a request as if it had arrived over HTTP, on behalf of an already authenticated caller
  // (batch entries and a transaction's reads): the same gate and interactions as the request itself.
  std::function<http::response(const http::request&, const auth::caller&)> dispatch;
};

}  // namespace server
