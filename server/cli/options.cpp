#include "server/cli/options.hpp"

#include <charconv>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "server/http/url.hpp"
#include "server/interactions/common.hpp"

namespace server::cli {
namespace {

template <typename T>
bool parse_number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// "1048576", "512K", "16M", "1G".
bool parse_size(std::string_view text, std::size_t& out) {
  std::size_t multiplier = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K': case 'k': multiplier = 1024; break;
      case 'M': case 'm': multiplier = 1024 * 1024; break;
      case 'G': case 'g': multiplier = 1024 * 1024 * 1024; break;
      default: break;
    }
    if (multiplier != 1) text.remove_suffix(1);
  }
  std::size_t n = 0;
  if (!parse_number(text, n) || n == 0) return false;
  out = n * multiplier;
  return true;
}

// --base-url's value (http::base_url_of), into `out`.
bool parse_base_url(std::string_view text, std::string& out) {
  auto url = http::base_url_of(text);
  if (url) out = std::move(*url);
  return url.has_value();
}

}  // namespace

std::string usage() {
  return R"(fhir-server: a FHIR R4 server for a shared care record

Usage:
  fhir-server [serve] [options]     run the server (the default command)
  fhir-server validate [--profile URL]... [validation options] FILE...
                                    validate FHIR JSON resources offline exactly as the server would;
                                    prints an OperationOutcome per file and exits 1 if any has errors
  fhir-server fhirpath EXPR [FILE]  evaluate a FHIRPath expression against the FHIR JSON resource in FILE
                                    (or with no input); prints the result as JSON, each item with its type,
                                    or the error with its position, and exits 1 on error
  fhir-server reindex [--db FILE] [--package PATH]... [--base-url URL]
                                    rebuild every search index row of the database from the current
                                    versions, with the search parameters of R4 and the packages given
                                    (needed after adding a package with new SearchParameters); absolute
                                    references under the base URL are the server's own: default, the
                                    one the server last indexed the database under
  fhir-server explain [--db FILE] [--package PATH]... [--base-url URL] 'TYPE?QUERY'
                                    show how the database runs a search: the strategy, the driving
                                    clause and SQLite's query plan (a SCAN of a table is a full pass)
  fhir-server token --key KEY.pem --claims CLAIMS.json [--kid ID] [--alg RS256|PS256|ES256] [--lifetime S]
                                    sign a JWT for testing: the claims file's payload, with iat, exp
                                    (iat + lifetime, default 3600 s) and a random jti added when absent
  fhir-server jwks --key KEY.pem [--kid ID] [--alg ALG]
                                    print the JWKS (public key) that verifies tokens signed with KEY
  fhir-server audit verify --db FILE [--base-url URL]
                                    check the audit trail's SHA-256 hash chains (the database's and the
                                    read trail's beside it) from the first record to the last; prints
                                    the number of records and the last hashes, or names the first
                                    broken record and exits 1
  fhir-server import [--db FILE] [--batch N] [--restart] [--organization ODS] [--base-url URL] FILE.ndjson|DIR...
                                    bulk load NDJSON (one resource per line, each with an id; a
                                    directory: the *.ndjson files under it): each line validated,
                                    written as updates in transactions of N (default 500); bad lines
                                    are reported as FILE:LINE and skipped (exit status 1); a killed
                                    import resumes after its last committed batch (--restart: from
                                    the start); --organization: the data controller recorded on every
                                    resource (a line naming another is rejected); --base-url: as for
                                    reindex (default: the server's recorded one). Run it with the
                                    server stopped (docs/operations.md); a running server has $import
  fhir-server backup --db FILE --to FILE
                                    copy the database, while a server may be using it, to a new file:
                                    one consistent snapshot (SQLite's backup API), checked with PRAGMA
                                    integrity_check before it takes its name; restore by stopping the
                                    server and putting the copy in place of FILE (docs/operations.md)
  fhir-server version               print the version
  fhir-server help | --help | -h    print this help

Options of serve:
  --db FILE          SQLite database file, created when absent (default: shcr.db)
  --host ADDRESS     address to listen on (default: 127.0.0.1)
  --port N           port to listen on; 0 picks a free port (default: 8080)
  --threads N        network threads (default: one per core)
  --workers N        request threads; they may wait on the database (default: 8 per core, at least 16)
  --max-body SIZE    largest request body accepted, e.g. 16M, 512K (default: 16M); larger ones get 413
  --max-connections N
                     connections beyond N get 503 with Retry-After and are closed, except for GET
                     /health, /ready and /metrics (default: the limit on open files, raised to its
                     maximum at start-up, less 256)
  --header-timeout SECONDS
                     a request header (and a TLS handshake) must arrive whole within this time, and a
                     keep-alive connection may idle this long (default: 30); slow clients are cut off
  --max-pending N    requests that would wait for a worker behind N others waiting get 503 with Retry-After
                     at once instead of queueing (default: 8 per worker)
  --load DIR         load the FHIR JSON resources and Bundles in DIR at start-up (repeatable); every
                     resource needs an id and is upserted, so loading the same files again changes nothing
  --auth jwt|dev     jwt (the default): every request but GET metadata needs a bearer JWT signed by a
                     key of --jwks and issued by an --issuer. dev: development mode, refused unless
                     listening on a loopback address: requests without a token act as a development user
                     holding every role, and "Authorization: Bearer dev.<base64url(claims JSON)>"
                     simulates any identity (docs/authentication.md)
  --jwks FILE        the JSON Web Key Set of the trusted issuers (RSA and P-256 keys, chosen by kid);
                     SIGHUP re-reads it
  --issuer URL       a trusted token issuer (iss); repeatable
  --audience URL     the aud tokens must carry (default: the base URL)
  --access-policy FILE
                     purpose-of-use classes and the role-based access table (docs/access-policy.md;
                     default: the built-in NHS defaults)
  --tls-cert FILE    serve HTTPS with this PEM certificate chain (with --tls-key); TLS 1.2 or later
  --tls-key FILE     the certificate's PEM private key
  --plain-http       serve plain HTTP without TLS (refused in jwt mode unless given: bearer tokens must
                     not cross a network in clear)
  --base-url URL     the public http(s) base URL used in Location headers and links, and under which absolute
                     references name this server's resources (indexed as Type/id; a new base URL
                     reindexes them at start-up) (default: http://HOST:PORT/fhir)
  --log-level LEVEL  debug, info, warning, error or off (default: info); debug also logs every request
                     (method, target, status, bytes, microseconds, remote address, request id)
  --log-format FORMAT
                     text (default): "TIME LEVEL MESSAGE key=value..."; json: one JSON object per line
                     with time, level, message and the event's fields (for log shippers)
  --default-count N  page size of searches and histories without _count (default: 50)
  --max-count N      the largest page; a larger _count is capped (default: 1000)
  --conditional-delete single|multiple
                     DELETE [type]?criteria matching several resources: 412 (single, the default) or
                     delete them all (multiple, up to --max-count)
  --ndoo-max-age DAYS
                     planning and research requests are answered 503 unless a national data opt-out
                     (ndoo) Consent was written within DAYS (the mirror is fresh); default: not checked
  --export-dir DIR   where bulk $export files are written, a directory per job (default: the database
                     file's name with .exports); job directories left by an earlier run are removed
  --export-hours N   how long a finished bulk export's files, and a finished $import's error files,
                     stay available (default: 6)
  --import-source PREFIX
                     $import may fetch NDJSON from URLs starting with PREFIX (https://host/path/;
                     repeatable). None: $import fetches nothing and is not in the CapabilityStatement
  --import-dir DIR   where $import keeps its jobs' files (default: the database file's name with
                     .imports); an import interrupted by a restart continues when asked for again
  --import-ca FILE   trusted CA certificates (PEM) for those fetches instead of the system's
  --import-max-mb N  the largest input file $import fetches, in MiB (default: 4096)
  --stale-feed-hours N
                     $data-quality reports a source organisation as a stale feed when its last write
                     is older than N hours (default: 24)
  --break-glass-hours N
                     how long a declared emergency (POST Patient/[id]/$break-glass) lasts (default: 4)
  --unchanged-updates skip|version
                     an update whose content equals the current version: no new version (skip, the
                     default, for nightly re-feeds) or a new version anyway (version)

Validation options (serve and validate):
  --package PATH     also load the conformance resources of a FHIR package: a directory (searched for
                     *.json) or an npm package tarball (.tgz, as implementation guides publish them);
                     repeatable; a package's definition replaces ours with the same URL
  --unknown-extensions warning|error
                     an extension whose definition is not known: accepted with a warning (the default:
                     feeds from many vendors carry local extensions) or rejected; an unknown modifier
                     extension is always rejected
  --default-profiles uk-core|none
                     uk-core (the default): Patient, MedicationStatement, AllergyIntolerance, Observation
                     and Consent are validated against their UK Core profile even without meta.profile
                     (Consent against SHCR-Consent, the record's profile on UK Core Consent);
                     none: only against the profiles a resource claims
  --profile URL      (validate only) also validate against this profile; repeatable

When ready the server prints one line, "listening on http://HOST:PORT/fhir". SIGINT or SIGTERM stop it
gracefully: requests in progress finish, then the database is closed.
)";
}

parse_result parse(int argc, char** argv) {
  command cmd;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  std::size_t i = 0;
  if (i < args.size() && !args[i].starts_with("-")) {
    std::string_view name = args[i++];
    if (name == "serve") cmd.what = command::kind::serve;
    else if (name == "validate") cmd.what = command::kind::validate;
    else if (name == "fhirpath") cmd.what = command::kind::fhirpath;
    else if (name == "reindex") cmd.what = command::kind::reindex;
    else if (name == "explain") cmd.what = command::kind::explain;
    else if (name == "token") cmd.what = command::kind::token;
    else if (name == "jwks") cmd.what = command::kind::jwks;
    else if (name == "audit") {
      if (i >= args.size() || args[i] != "verify") return {std::nullopt, "usage: fhir-server audit verify --db FILE"};
      ++i;
      cmd.what = command::kind::audit_verify;
    }
    else if (name == "backup") cmd.what = command::kind::backup;
    else if (name == "import") cmd.what = command::kind::import;
    else if (name == "version") cmd.what = command::kind::version;
    else if (name == "help") cmd.what = command::kind::help;
    else return {std::nullopt, fmt::format("unknown command '{}' (see fhir-server --help)", name)};
  }

  auto& s = cmd.serve;
  while (i < args.size()) {
    std::string_view arg = args[i++];
    if (arg == "--help" || arg == "-h") {
      cmd.what = command::kind::help;
      return {cmd, {}};
    }
    if ((cmd.what == command::kind::validate || cmd.what == command::kind::import) && !arg.starts_with("--")) {
      cmd.files.emplace_back(arg);
      continue;
    }
    if (cmd.what == command::kind::explain && !arg.starts_with("--")) {
      if (!cmd.expression.empty()) return {std::nullopt, "explain takes one search"};
      cmd.expression = arg;
      continue;
    }
    if (cmd.what == command::kind::fhirpath) {
      if (cmd.expression.empty() && cmd.files.empty() && !arg.empty()) cmd.expression = arg;
      else cmd.files.emplace_back(arg);
      continue;
    }
    if (!arg.starts_with("--")) return {std::nullopt, fmt::format("unexpected argument '{}'", arg)};
    std::string_view name = arg, value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    } else if (i < args.size()) {
      value = args[i];
      has_value = true;
    }
    auto take = [&]() -> bool {
      if (!has_value) return false;
      if (arg.find('=') == std::string_view::npos) ++i;
      return true;
    };
    bool ok = true;
    auto& v = cmd.validation;
    bool uses_store = cmd.what == command::kind::reindex || cmd.what == command::kind::explain ||
                      cmd.what == command::kind::audit_verify || cmd.what == command::kind::import;
    bool signs = cmd.what == command::kind::token || cmd.what == command::kind::jwks;
    bool validates = cmd.what == command::kind::serve || cmd.what == command::kind::validate || uses_store;
    // Commands that open the store with its indexer (an upgrade's reindex may run): the base URL says
    // which absolute references are ours (default: the one the server recorded).
    bool indexes = cmd.what == command::kind::reindex || cmd.what == command::kind::import || cmd.what == command::kind::explain ||
                   cmd.what == command::kind::audit_verify;
    uses_store = uses_store || cmd.what == command::kind::backup;  // a file copy: no definitions needed
    if (cmd.what == command::kind::import && name == "--batch") {
      ok = take() && parse_number(value, cmd.import_batch) && cmd.import_batch > 0 && cmd.import_batch <= 100000;
    } else if (cmd.what == command::kind::import && name == "--restart") {
      cmd.import_restart = true;
    } else if (cmd.what == command::kind::import && name == "--organization") {
      ok = take() && server::interactions::is_ods_code(value);
      cmd.import_organization = value;
    } else if (cmd.what == command::kind::backup && name == "--to") {
      ok = take() && !value.empty(); cmd.backup_to = value;
    } else if (validates && name == "--package") {
      ok = take() && !value.empty(); v.packages.emplace_back(value);
    } else if (validates && name == "--unknown-extensions") {
      ok = take() && (value == "warning" || value == "error"); v.unknown_extensions = value;
    } else if (validates && name == "--default-profiles") {
      ok = take() && (value == "uk-core" || value == "none"); v.default_profiles = value;
    } else if (cmd.what == command::kind::validate && name == "--profile") {
      ok = take() && !value.empty(); v.profiles.emplace_back(value);
    } else if (signs && name == "--key") {
      ok = take() && !value.empty(); cmd.token.key = value;
    } else if (signs && name == "--kid") {
      ok = take() && !value.empty(); cmd.token.kid = value;
    } else if (signs && name == "--alg") {
      ok = take() && (value == "RS256" || value == "PS256" || value == "ES256"); cmd.token.alg = value;
    } else if (cmd.what == command::kind::token && name == "--claims") {
      ok = take() && !value.empty(); cmd.token.claims = value;
    } else if (cmd.what == command::kind::token && name == "--lifetime") {
      ok = take() && parse_number(value, cmd.token.lifetime_s) && cmd.token.lifetime_s > 0;
    } else if (uses_store && name == "--db") {
      ok = take() && !value.empty(); s.database = value;
    } else if (indexes && name == "--base-url") {
      ok = take() && parse_base_url(value, s.base_url);
    } else if (cmd.what != command::kind::serve) {
      return {std::nullopt, fmt::format("unknown option '{}' for this command", name)};
    } else if (name == "--db") {
      ok = take() && !value.empty(); s.database = value;
    } else if (name == "--host") {
      ok = take() && !value.empty(); s.host = value;
    } else if (name == "--port") {
      ok = take() && parse_number(value, s.port);
    } else if (name == "--threads") {
      ok = take() && parse_number(value, s.threads) && s.threads > 0;
    } else if (name == "--workers") {
      ok = take() && parse_number(value, s.workers) && s.workers > 0;
    } else if (name == "--max-connections") {
      ok = take() && parse_number(value, s.max_connections) && s.max_connections > 0;
    } else if (name == "--header-timeout") {
      ok = take() && parse_number(value, s.header_timeout_s) && s.header_timeout_s > 0;
    } else if (name == "--max-pending") {
      ok = take() && parse_number(value, s.max_pending) && s.max_pending > 0;
    } else if (name == "--max-body") {
      ok = take() && parse_size(value, s.max_body);
    } else if (name == "--load") {
      ok = take() && !value.empty(); s.load_directories.emplace_back(value);
    } else if (name == "--auth") {
      ok = take() && (value == "jwt" || value == "dev"); s.auth = value;
    } else if (name == "--jwks") {
      ok = take() && !value.empty(); s.jwks = value;
    } else if (name == "--issuer") {
      ok = take() && !value.empty(); s.issuers.emplace_back(value);
    } else if (name == "--audience") {
      ok = take() && !value.empty(); s.audience = value;
    } else if (name == "--access-policy") {
      ok = take() && !value.empty(); s.access_policy = value;
    } else if (name == "--tls-cert") {
      ok = take() && !value.empty(); s.tls_cert = value;
    } else if (name == "--tls-key") {
      ok = take() && !value.empty(); s.tls_key = value;
    } else if (name == "--plain-http") {
      s.plain_http = true;
    } else if (name == "--base-url") {
      ok = take() && parse_base_url(value, s.base_url);
    } else if (name == "--log-level") {
      ok = take(); s.log_level = value;
    } else if (name == "--log-format") {
      ok = take() && (value == "text" || value == "json"); s.log_format = value;
    } else if (name == "--default-count") {
      ok = take() && parse_number(value, s.default_count) && s.default_count > 0;
    } else if (name == "--max-count") {
      ok = take() && parse_number(value, s.max_count) && s.max_count > 0;
    } else if (name == "--conditional-delete") {
      ok = take() && (value == "single" || value == "multiple");
      s.conditional_delete_multiple = value == "multiple";
    } else if (name == "--ndoo-max-age") {
      ok = take() && parse_number(value, s.ndoo_max_age_days) && s.ndoo_max_age_days > 0;
    } else if (name == "--export-dir") {
      ok = take() && !value.empty();
      s.export_dir = value;
    } else if (name == "--import-source") {  // checked when the server opens (application::open)
      ok = take() && !value.empty();
      s.import_sources.emplace_back(value);
    } else if (name == "--import-dir") {
      ok = take() && !value.empty();
      s.import_dir = value;
    } else if (name == "--import-ca") {
      ok = take() && !value.empty();
      s.import_ca = value;
    } else if (name == "--import-max-mb") {
      ok = take() && parse_number(value, s.import_max_mb) && s.import_max_mb > 0 && s.import_max_mb <= 1024 * 1024;
    } else if (name == "--stale-feed-hours") {
      ok = take() && parse_number(value, s.stale_feed_hours) && s.stale_feed_hours > 0;
    } else if (name == "--export-hours") {
      ok = take() && parse_number(value, s.export_hours) && s.export_hours > 0 && s.export_hours <= 24 * 7;
    } else if (name == "--break-glass-hours") {
      ok = take() && parse_number(value, s.break_glass_hours) && s.break_glass_hours > 0 && s.break_glass_hours <= 24;
    } else if (name == "--unchanged-updates") {
      ok = take() && (value == "skip" || value == "version");
      s.skip_unchanged_updates = value == "skip";
    } else {
      return {std::nullopt, fmt::format("unknown option '{}' (see fhir-server --help)", name)};
    }
    if (!ok) return {std::nullopt, fmt::format("option {} needs a valid value", name)};
  }
  if (cmd.serve.default_count > cmd.serve.max_count)
    return {std::nullopt, "--default-count cannot exceed --max-count"};
  if (cmd.what == command::kind::explain && cmd.expression.empty())
    return {std::nullopt, "explain needs a search, e.g. 'Observation?code=http://loinc.org|8867-4'"};
  if ((cmd.what == command::kind::token || cmd.what == command::kind::jwks) && cmd.token.key.empty())
    return {std::nullopt, "token and jwks need --key KEY.pem"};
  if (cmd.what == command::kind::token && cmd.token.claims.empty()) return {std::nullopt, "token needs --claims CLAIMS.json"};
  if (s.tls_cert.empty() != s.tls_key.empty()) return {std::nullopt, "--tls-cert and --tls-key go together"};
  if (!s.tls_cert.empty() && s.plain_http) return {std::nullopt, "--plain-http and --tls-cert exclude each other"};
  if (cmd.what == command::kind::import && cmd.files.empty())
    return {std::nullopt, "usage: fhir-server import [--db FILE] [--batch N] [--restart] FILE.ndjson|DIR..."};
  if (cmd.what == command::kind::backup && cmd.backup_to.empty())
    return {std::nullopt, "usage: fhir-server backup --db FILE --to FILE"};
  if (cmd.what == command::kind::validate && cmd.files.empty())
    return {std::nullopt, "validate needs at least one file"};
  if (cmd.what == command::kind::fhirpath && (cmd.expression.empty() || cmd.files.size() > 1))
    return {std::nullopt, "usage: fhir-server fhirpath EXPRESSION [FILE.json]"};
  return {cmd, {}};
}

}  // namespace server::cli
