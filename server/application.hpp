#pragma once
// The server assembled: definitions, store, context and router. main() wraps it in the HTTP transport;
// tests call handle() directly, without a network.

#include <memory>
#include <string>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/result.hpp"
#include "fhir/search/indexer.hpp"
#include "fhir/search/search_parameters.hpp"
#include "fhir/validation/validation_options.hpp"
#include "server/bulk/export_jobs.hpp"
#include "server/bulk/import_jobs.hpp"
#include "server/quality/quality_recorder.hpp"
#include "server/consent/break_glass.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/context.hpp"
#include "server/metrics.hpp"
#include "server/http/message.hpp"
#include "server/page_cursor.hpp"
#include "server/router.hpp"
#include "store/store.hpp"

namespace server {

// Authentication (consent.md section 1). JWT is the default: a server is secure unless told otherwise.
struct auth_options {
  auth::auth_mode mode = auth::auth_mode::jwt;
  std::string jwks_path;                // the issuers' public keys; required in jwt mode
  std::vector<std::string> issuers;     // trusted `iss` values; at least one in jwt mode
  std::string audience;                 // the `aud` tokens must carry; empty: the base URL
  std::string access_policy_path;       // purpose classes and RBAC table; empty: the built-in defaults
};

struct application_options {
  std::string database_path;
  std::string base_url;  // "http://localhost:8080/fhir"
  std::string software_version = "0.1.0";
  // Read connections are opened on demand. GET/HEAD run on the network threads and writes on the
  // workers, so this only needs to exceed the network threads plus a few; reads beyond it wait.
  std::size_t max_readers = 32;
  // Unknown-extension policy and default profiles (see fhir/validation/validation_options.hpp).
  fhir::validation::validation_options validation;
  std::size_t default_page_size = 50;  // _count when absent (searches, histories)
  std::size_t max_page_size = 1000;    // larger _count values are capped
  bool conditional_delete_multiple = false;  // DELETE [type]?criteria may delete several matches
  bool skip_unchanged_updates = true;        // an update equal to the current version writes no version
  // How much of a transaction is prepared (indexed and serialised) before its unit of work; the rest is
  // prepared inside it, so a large transaction's memory stays bounded (server/bundle/transaction.cpp).
  std::size_t transaction_prepare_ahead_bytes = std::size_t{16} << 20;
  // Index every write for search. Off only in benchmarks measuring what indexing costs.
  bool search_index = true;
  // Every request recorded as an AuditEvent (consent.md section 4). Off only in benchmarks measuring
  // what auditing costs.
  bool audit = true;
  // Consent enforcement (consent.md sections 2 and 3). Off only in benchmarks measuring what it costs.
  bool consent = true;
  auth_options auth;
  // How long a declared emergency (POST Patient/[id]/$break-glass) lasts.
  fhir::epoch_ms break_glass_length = consent::default_break_glass_length;
  // Planning and research requests need an ndoo Consent written within this age (0: not checked).
  fhir::epoch_ms ndoo_max_age = 0;
  // Where bulk export files are written (a directory per job); empty: `<database>.exports`.
  std::string export_directory;
  // How long a finished export's files (and a finished import's error files) stay available.
  fhir::epoch_ms export_retention = 6 * 3'600'000;
  // $import: the URL prefixes the server fetches NDJSON from (none: $import fetches nothing).
  std::vector<std::string> import_sources;
  // Where $import keeps its jobs' files (a directory per import); empty: `<database>.imports`.
  std::string import_directory;
  // Trusted CAs (PEM) for fetching imports instead of the system's; the largest input fetched.
  std::string import_ca_file;
  std::uintmax_t import_max_bytes = std::uintmax_t{4} << 30;
  // Data-quality counts of every validated write ($data-quality); off only in benchmarks.
  bool data_quality = true;
  // A source organisation silent for longer is reported as a stale feed.
  fhir::epoch_ms stale_feed_age = 24 * 3'600'000;
};

class application {
 public:
  // Opens the store (creating it when absent). Fails (fault) when the database cannot be opened.
  static fhir::result<std::unique_ptr<application>> open(const fhir::definitions::registry& definitions,
                                                         const application_options& options);

  // Thread-safe. Never throws for bad requests; an exception means a bug.
  http::response handle(const http::request& request) const;

  const server::context& context() const { return *context_; }

  // Re-reads the JWKS file (SIGHUP). On failure the current keys stay in use and the error is returned.
  fhir::result<fhir::done> reload_keys();

 private:
  // Search parameters and the indexer exist before the store, which indexes every write with them.
  struct search_support {
    std::unique_ptr<fhir::search::search_parameters> parameters;
    std::unique_ptr<fhir::search::indexer> indexer;
  };

  application(search_support search, std::unique_ptr<store::store> store, std::unique_ptr<auth::authenticator> authenticator,
              const fhir::definitions::registry& definitions, const application_options& options);

  search_support search_;
  std::unique_ptr<store::store> store_;
  fhir::validation::resource_validator validator_;
  std::unique_ptr<auth::authenticator> authenticator_;
  std::unique_ptr<consent::consent_cache> consents_;
  std::unique_ptr<consent::break_glass_sessions> break_glass_;
  std::unique_ptr<page_cursors> cursors_;
  std::unique_ptr<server::metrics> metrics_;
  std::string jwks_path_;
  router router_;
  std::unique_ptr<server::context> context_;
  // Its thread adds counts to the store: it stops (and stores what it holds) before the store goes.
  std::unique_ptr<quality::quality_recorder> quality_;
  // Last: their threads run jobs against the context, so they stop before anything else goes.
  std::unique_ptr<bulk::export_jobs> exports_;
  std::unique_ptr<bulk::import_jobs> imports_;
};

}  // namespace server
