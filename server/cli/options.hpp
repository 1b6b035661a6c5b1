#pragma once
// Command-line parsing for fhir-server: subcommands and their flags. `fhir-server --help` prints usage().

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace server::cli {

struct serve_options {
  std::string database = "shcr.db";
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned threads = 0;
  unsigned workers = 0;
  std::size_t max_body = 16 * 1024 * 1024;
  std::size_t max_connections = 0;          // --max-connections (0: from the file-descriptor limit)
  std::size_t max_pending = 0;              // --max-pending (0: 8 per worker)
  unsigned header_timeout_s = 30;           // --header-timeout: whole request header, and keep-alive idle
  std::vector<std::string> load_directories;
  std::string auth = "jwt";                 // --auth jwt|dev
  std::string jwks;                         // --jwks FILE
  std::vector<std::string> issuers;         // --issuer URL, repeatable
  std::string audience;                     // --audience URL (default: the base URL)
  std::string access_policy;                // --access-policy FILE
  std::string tls_cert;                     // --tls-cert FILE (PEM chain)
  std::string tls_key;                      // --tls-key FILE
  bool plain_http = false;                  // --plain-http
  std::string base_url;  // derived from host and port when empty
  std::string log_level = "info";
  std::string log_format = "text";  // --log-format text|json
  std::size_t default_count = 50;  // --default-count: page size of searches and histories without _count
  std::size_t max_count = 1000;    // --max-count: larger _count values are capped to this
  bool conditional_delete_multiple = false;  // --conditional-delete single|multiple
  bool skip_unchanged_updates = true;        // --unchanged-updates skip|version
  unsigned break_glass_hours = 4;            // --break-glass-hours: how long a declared emergency lasts
  unsigned ndoo_max_age_days = 0;            // --ndoo-max-age: 0, not checked
  std::string export_dir;                    // --export-dir: bulk export files (empty: DATABASE.exports)
  unsigned export_hours = 6;                 // --export-hours: how long a finished export's files stay
  std::vector<std::string> import_sources;   // --import-source PREFIX (repeatable): where $import may fetch from
  std::string import_dir;                    // --import-dir: $import job files (empty: DATABASE.imports)
  std::string import_ca;                     // --import-ca FILE: trusted CAs for fetching imports
  unsigned import_max_mb = 4096;             // --import-max-mb: the largest input $import fetches
  unsigned stale_feed_hours = 24;            // --stale-feed-hours: a feed silent longer is reported stale
};

// How resources are validated, for serve and validate alike (so that validate answers as the server would).
struct validation_flags {
  std::vector<std::string> packages;          // --package DIR|FILE.tgz, in order
  std::string unknown_extensions = "warning";  // --unknown-extensions warning|error
  std::string default_profiles = "uk-core";   // --default-profiles uk-core|none
  std::vector<std::string> profiles;          // validate --profile URL: also validate against these
};

// fhir-server token / jwks: test tokens and the JWKS that verifies them.
struct token_options {
  std::string key;           // --key FILE: PEM private key (RSA or EC P-256)
  std::string claims;        // --claims FILE: the payload's claims as JSON
  std::string kid = "test";  // --kid ID
  std::string alg;           // --alg RS256|PS256|ES256 (default: RS256 for RSA keys, ES256 for EC)
  std::int64_t lifetime_s = 3600;  // --lifetime SECONDS: exp = iat + lifetime when the claims have no exp
};

struct command {
  enum class kind { serve, validate, fhirpath, reindex, explain, token, jwks, audit_verify, backup, import, version, help } what = kind::serve;
  token_options token;
  serve_options serve;
  validation_flags validation;
  std::vector<std::string> files;  // validate, import; fhirpath: the resource file
  std::string expression;          // fhirpath: the expression; explain: the search ("Observation?code=...")
  std::string backup_to;           // backup: --to FILE
  std::size_t import_batch = 500;  // import: --batch N
  bool import_restart = false;     // import: --restart
  std::string import_organization; // import: --organization ODS (the data controller recorded)
};

// Parses argv. Returns the command, or an error message for the user.
struct parse_result {
  std::optional<command> parsed;
  std::string error;
};
parse_result parse(int argc, char** argv);

std::string usage();

}  // namespace server::cli
