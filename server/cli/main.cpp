// fhir-server: the command-line entry point.

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <sys/resource.h>

#include "fhir/definitions/r4.hpp"
#include "profiles/definition_set.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/search/search_query.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "server/application.hpp"
#include "server/cli/fhirpath_command.hpp"
#include "server/cli/options.hpp"
#include "server/cli/token_command.hpp"
#include "server/http/http_server.hpp"
#include "server/http/url.hpp"
#include "server/importer.hpp"
#include "server/loader.hpp"
#include "store/backup.hpp"
#include "store/store.hpp"
#include "server/log.hpp"

namespace {

constexpr const char* version = "0.1.0";

// Development mode accepts unsigned identities, so it must not be reachable from another machine.
bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

// The definitions and validation options the flags ask for; shared by serve and validate so that
// `fhir-server validate` answers exactly as the server would.
struct validation_setup {
  std::unique_ptr<fhir::definitions::registry> definitions;
  fhir::validation::validation_options options;
};

fhir::result<validation_setup> load_validation(const server::cli::validation_flags& flags) {
  fhir::profiles::definition_options definitions{.uk_core = true, .packages = {}};
  for (const std::string& p : flags.packages) definitions.packages.emplace_back(p);
  auto loaded = fhir::profiles::load_definitions(definitions);
  if (!loaded) return std::move(loaded).error();
  validation_setup out{std::move(*loaded), {}};
  out.options.unknown_extensions = flags.unknown_extensions == "error" ? fhir::validation::unknown_extension_policy::error
                                                                       : fhir::validation::unknown_extension_policy::warning;
  if (flags.default_profiles == "uk-core") out.options.default_profiles = fhir::profiles::server_default_profiles();
  return out;
}

int validate(const std::vector<std::string>& files, const server::cli::validation_flags& flags) {
  auto setup = load_validation(flags);
  if (!setup) {
    std::cerr << "fhir-server: " << setup.error().summary() << "\n";
    return 2;
  }
  fhir::validation::resource_validator validator(*setup->definitions, setup->options);
  bool all_valid = true;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << file << ": cannot read\n";
      all_valid = false;
      continue;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::vector<fhir::issue> issues;
    if (auto parsed = fhir::json::parse(text.str())) issues = validator.check(*parsed, flags.profiles).issues;
    else issues = parsed.error().issues();
    all_valid &= !fhir::has_errors(issues);
    std::cout << "# " << file << "\n" << fhir::json::serialize_pretty(fhir::to_operation_outcome(issues)) << "\n";
  }
  return all_valid ? 0 : 1;
}

// The application on an existing database, for the commands that work on the store offline.
struct offline_store {
  validation_setup setup;
  std::unique_ptr<server::application> app;
};

fhir::result<offline_store> open_offline(const server::cli::serve_options& options, const server::cli::validation_flags& flags) {
  auto setup = load_validation(flags);
  if (!setup) return std::move(setup).error();
  // The base URL decides which absolute references are this server's (indexed as Type/id): the one
  // given, else the one the database's index was built for by the server, else a placeholder.
  std::string base_url = options.base_url;
  if (auto recorded = store::recorded_index_base(options.database); base_url.empty() && !recorded.empty()) base_url = recorded.front();
  if (base_url.empty()) base_url = "http://localhost/fhir";
  auto app = server::application::open(*setup->definitions, server::application_options{.database_path = options.database,
                                                                                         .base_url = base_url,
                                                                                         .validation = setup->options,
                                                                                         // offline: no requests, no callers
                                                                                         .auth = {.mode = server::auth::auth_mode::dev}});
  if (!app) return std::move(app).error();
  return offline_store{std::move(*setup), std::move(*app)};
}

int explain(const server::cli::serve_options& options, const server::cli::validation_flags& flags, const std::string& search) {
  auto target = server::http::parse_target("/" + search);
  if (!target || target->segments.size() > 1) {
    std::cerr << "fhir-server: '" << search << "' is not a search such as 'Observation?code=x'\n";
    return 2;
  }
  auto opened = open_offline(options, flags);
  if (!opened) {
    std::cerr << "fhir-server: " << opened.error().summary() << "\n";
    return 1;
  }
  const auto& ctx = opened->app->context();
  std::string type = target->segments.empty() ? std::string() : target->segments[0];
  auto query = fhir::search::parse_query(ctx.search_parameters, type, target->params,
                                         {.terminology = &ctx.validator.terminology(), .local_bases = ctx.settings.own_bases()});
  if (!query) {
    std::cerr << "fhir-server: " << query.error().summary() << "\n";
    return 1;
  }
  auto start = std::chrono::steady_clock::now();
  auto page = ctx.store.search(store::search_request{*query, 20, "", true});
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!page) {
    std::cerr << "fhir-server: " << page.error().summary() << "\n";
    return 1;
  }
  for (const auto& line : page->plan) std::cout << line << "\n";
  std::cout << fmt::format("first page: {} entries in {:.2f} ms (including the plan)\n", page->entries.size(), ms);
  return 0;
}

int reindex(const server::cli::serve_options& options, const server::cli::validation_flags& flags) {
  auto opened = open_offline(options, flags);
  if (!opened) {
    std::cerr << "fhir-server: " << opened.error().summary() << "\n";
    return 1;
  }
  auto& app = opened->app;
  auto start = std::chrono::steady_clock::now();
  auto indexed = app->context().store.reindex();
  if (!indexed) {
    std::cerr << "fhir-server: " << indexed.error().summary() << "\n";
    return 1;
  }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "reindexed " << *indexed << " resources in " << fmt::format("{:.1f}", seconds) << " s\n";
  return 0;
}

int audit_verify(const server::cli::serve_options& options, const server::cli::validation_flags& flags) {
  if (!std::filesystem::exists(options.database)) {
    std::cerr << "fhir-server: no database at " << options.database << "\n";
    return 2;
  }
  auto opened = open_offline(options, flags);
  if (!opened) {
    std::cerr << "fhir-server: " << opened.error().summary() << "\n";
    return 1;
  }
  auto check = opened->app->context().store.verify_audit();
  if (!check) {
    std::cerr << "fhir-server: " << check.error().summary() << "\n";
    return 1;
  }
  if (!check->intact) {
    if (check->first_broken) std::cout << "audit trail BROKEN at record " << check->first_broken << ": " << check->problem << "\n";
    else std::cout << "audit trail BROKEN: " << check->problem << "\n";
    std::cout << check->records << " records checked intact before the failure\n";
    return 1;
  }
  std::cout << "audit trail intact: " << check->records << " records, last hash " << check->head << " (read trail: "
            << check->read_trail_head << ")\n";
  return 0;
}

// A progress bar on a terminal ("\r" redraws it); on anything else a line every 5 seconds.
class import_reporter {
 public:
  import_reporter() : terminal_(isatty(STDERR_FILENO) != 0) {}

  void operator()(const server::import_progress& p) {
    double rate = p.seconds > 0 ? static_cast<double>(p.imported) / p.seconds : 0;
    double fraction = p.bytes_total ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1;
    if (terminal_) {
      constexpr int width = 30;
      int filled = static_cast<int>(fraction * width);
      std::cerr << fmt::format("\r{} [{}{}] {:3.0f}%  {} lines, {} imported, {} rejected, {:.0f}/s   ", p.file.filename().string(),
                               std::string(static_cast<std::size_t>(filled), '#'), std::string(static_cast<std::size_t>(width - filled), '.'),
                               fraction * 100, p.lines, p.imported, p.rejected, rate)
                << std::flush;
    } else if (p.seconds - last_line_ >= 5 || fraction >= 1) {
      last_line_ = p.seconds;
      std::cerr << fmt::format("{}: {:.0f}% ({} lines, {} imported, {} rejected, {:.0f}/s)\n", p.file.string(), fraction * 100, p.lines,
                               p.imported, p.rejected, rate);
    }
  }
  // A rejected line, printed as it is found (above the bar on a terminal).
  void rejected(const server::import_line_error& e) {
    std::cerr << fmt::format("{}{}:{}: {}\n", terminal_ ? "\r\033[K" : "", e.file.string(), e.line, e.message);
  }
  ~import_reporter() {
    if (terminal_) std::cerr << "\n";
  }

 private:
  bool terminal_;
  double last_line_ = -5;
};

int import_files(const server::cli::command& cmd) {
  auto opened = open_offline(cmd.serve, cmd.validation);
  if (!opened) {
    std::cerr << "fhir-server: " << opened.error().summary() << "\n";
    return 1;
  }
  std::vector<std::filesystem::path> inputs(cmd.files.begin(), cmd.files.end());
  fhir::result<server::import_summary> imported = fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, "not run", "import");
  {
    import_reporter report;
    imported = server::import_ndjson(opened->app->context(), inputs,
                                     {.batch = cmd.import_batch,
                                      .restart = cmd.import_restart,
                                      .controller = cmd.import_organization,
                                      .on_progress = std::ref(report),
                                      .on_rejected = [&report](const server::import_line_error& e) { report.rejected(e); }});
  }
  if (!imported) {
    std::cerr << "fhir-server: " << imported.error().summary() << "\n";
    return 1;
  }
  const auto& s = *imported;
  std::size_t written = s.created + s.updated + s.unchanged;
  std::cout << fmt::format("imported {} files, {} lines: {} created, {} updated, {} unchanged, {} rejected{} in {:.1f} s ({:.0f} resources/s)\n",
                           s.files, s.lines, s.created, s.updated, s.unchanged, s.rejected,
                           s.resumed_files ? fmt::format(" ({} files resumed; {} lines rejected before)", s.resumed_files, s.rejected_before_resume)
                                           : "",
                           s.seconds,
                           s.seconds > 0 ? static_cast<double>(written) / s.seconds : 0);
  return s.rejected ? 1 : 0;
}

int backup(const server::cli::serve_options& options, const std::string& to) {
  auto copied = store::backup_database(options.database, to);
  if (!copied) {
    std::cerr << "fhir-server: " << copied.error().summary() << "\n";
    return 1;
  }
  std::cout << fmt::format("backup of {} written to {}: {} pages, {} bytes in {:.2f} s, integrity check ok\n", options.database, to,
                           copied->pages, copied->bytes, copied->seconds);
  return 0;
}

// Each connection holds a file descriptor: a server sized by a soft limit of 1,024 (a common default)
// would refuse connections long before memory or CPU ran short. The hard limit is the system's word.
void raise_open_file_limit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur >= files.rlim_max) return;
  files.rlim_cur = files.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &files) != 0) server::log::warning("could not raise the limit on open files");
}

int serve(const server::cli::serve_options& options, const server::cli::validation_flags& flags) {
  server::log::level level;
  if (!server::log::parse_level(options.log_level, level)) {
    std::cerr << "fhir-server: unknown log level '" << options.log_level << "'\n";
    return 2;
  }
  server::log::set_level(level);
  server::log::format format = server::log::format::text;
  server::log::parse_format(options.log_format, format);  // checked by the option parser
  server::log::set_format(format);
  bool dev = options.auth == "dev";
  if (dev && !is_loopback(options.host)) {
    std::cerr << "fhir-server: --auth dev accepts unsigned identities and is only allowed on a loopback address "
                 "(127.0.0.1, ::1, localhost), not "
              << options.host << "\n";
    return 2;
  }
  bool tls = !options.tls_cert.empty();
  if (!dev && !tls && !options.plain_http) {
    std::cerr << "fhir-server: bearer tokens must not travel in clear: give --tls-cert and --tls-key, or --plain-http "
                 "(behind a TLS-terminating proxy)\n";
    return 2;
  }

  auto setup = load_validation(flags);
  if (!setup) {
    std::cerr << "fhir-server: " << setup.error().summary() << "\n";
    return 1;
  }
  const auto& definitions = *setup->definitions;
  std::unique_ptr<server::application> app;
  raise_open_file_limit();
  server::http::server_options http_options{
      .host = options.host == "localhost" ? "127.0.0.1" : options.host,
      .port = options.port,
      .io_threads = options.threads,
      .workers = options.workers,
      .max_body = options.max_body,
      .header_timeout_s = options.header_timeout_s,
      .max_connections = options.max_connections,
      .max_pending = options.max_pending,
      .on_hangup =
          [&app] {
            if (!app) return;
            if (auto reloaded = app->reload_keys(); !reloaded)
              server::log::error("SIGHUP: the JWKS was not reloaded, the current keys stay in use: {}", reloaded.error().summary());
            else
              server::log::info("SIGHUP: JWKS reloaded");
          },
      .tls_cert = options.tls_cert,
      .tls_key = options.tls_key,
  };
  std::optional<server::http::server> http;
  try {
    http.emplace(http_options, [&app](const server::http::request& r) { return app->handle(r); });
    http->listen();
  } catch (const std::exception& e) {
    std::cerr << "fhir-server: " << e.what() << "\n";
    return 1;
  }
  std::string host_for_url = options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  std::string scheme = tls ? "https" : "http";
  std::string base_url = options.base_url.empty()
                             ? scheme + "://" + host_for_url + ":" + std::to_string(http->port()) + "/fhir"
                             : options.base_url;
  if (options.base_url.empty())
    server::log::warning("no --base-url: {} is this server's base URL, and absolute references are taken for its own only under it "
                         "(a different base at the next start reindexes them); give the public base URL in production",
                         base_url);

  auto opened = server::application::open(
      definitions, server::application_options{.database_path = options.database, .base_url = base_url,
                                               .software_version = version, .validation = setup->options,
                                               .default_page_size = options.default_count, .max_page_size = options.max_count,
                                               .conditional_delete_multiple = options.conditional_delete_multiple,
                                               .skip_unchanged_updates = options.skip_unchanged_updates,
                                               .auth = {.mode = dev ? server::auth::auth_mode::dev : server::auth::auth_mode::jwt,
                                                        .jwks_path = options.jwks,
                                                        .issuers = options.issuers,
                                                        .audience = options.audience,
                                                        .access_policy_path = options.access_policy},
                                               .break_glass_length = fhir::epoch_ms{options.break_glass_hours} * 3600 * 1000,
                                               .ndoo_max_age = fhir::epoch_ms{options.ndoo_max_age_days} * 86'400'000,
                                               .export_directory = options.export_dir,
                                               .export_retention = fhir::epoch_ms{options.export_hours} * 3'600'000,
                                               .import_sources = options.import_sources,
                                               .import_directory = options.import_dir,
                                               .import_ca_file = options.import_ca,
                                               .import_max_bytes = std::uintmax_t{options.import_max_mb} << 20,
                                               .stale_feed_age = fhir::epoch_ms{options.stale_feed_hours} * 3'600'000});
  if (!opened) {
    std::cerr << "fhir-server: " << opened.error().summary() << "\n";
    return 1;
  }
  app = std::move(*opened);

  for (const std::string& dir : options.load_directories) {
    auto loaded = server::load_directory(app->context(), dir);
    if (!loaded) {
      std::cerr << "fhir-server: --load " << dir << ": " << loaded.error().summary() << "\n";
      return 1;
    }
    server::log::info("loaded {}: {} files, {} created, {} updated, {} unchanged", dir, loaded->files,
                      loaded->created, loaded->updated, loaded->unchanged);
  }

  server::log::info("database {}, {} resource types, auth {}, {}", options.database, definitions.resource_types().size(),
                    options.auth, tls ? "TLS" : "plain HTTP");
  if (dev) {
    server::log::warning("DEVELOPMENT MODE: requests without a token act as a development user holding every role; "
                         "'Authorization: Bearer dev.<base64url(claims JSON)>' simulates any identity. Never use it with real data.");
    server::log::warning("try: curl {}/Patient   or, as a GP clinician: curl -H \"Authorization: Bearer dev.$(printf '%s' "
                         "'{{\"sub\":\"555000000123\",\"org_ods\":\"GP1\",\"scope\":\"user/*.cruds\",\"nhs_role\":{{\"role_code\":\"R8000\"}},"
                         "\"purpose_of_use\":[\"TREAT\"]}}' | basenc --base64url -w0 | tr -d =)\" {}/Patient",
                         base_url, base_url);
  }
  std::printf("listening on %s://%s:%u/fhir\n", scheme.c_str(), host_for_url.c_str(), static_cast<unsigned>(http->port()));
  std::fflush(stdout);
  http->run();
  server::log::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = server::cli::parse(argc, argv);
  if (!parsed.parsed) {
    std::cerr << "fhir-server: " << parsed.error << "\n";
    return 2;
  }
  const auto& cmd = *parsed.parsed;
  try {
    switch (cmd.what) {
      case server::cli::command::kind::help: std::cout << server::cli::usage(); return 0;
      case server::cli::command::kind::version: std::cout << "fhir-server " << version << " (FHIR 4.0.1)\n"; return 0;
      case server::cli::command::kind::validate: return validate(cmd.files, cmd.validation);
      case server::cli::command::kind::fhirpath:
        return server::cli::run_fhirpath(cmd.expression, cmd.files.empty() ? std::string() : cmd.files[0], std::cout, std::cerr);
      case server::cli::command::kind::serve: return serve(cmd.serve, cmd.validation);
      case server::cli::command::kind::reindex: return reindex(cmd.serve, cmd.validation);
      case server::cli::command::kind::explain: return explain(cmd.serve, cmd.validation, cmd.expression);
      case server::cli::command::kind::token: return server::cli::run_token(cmd.token, std::cout, std::cerr);
      case server::cli::command::kind::audit_verify: return audit_verify(cmd.serve, cmd.validation);
      case server::cli::command::kind::backup: return backup(cmd.serve, cmd.backup_to);
      case server::cli::command::kind::import: return import_files(cmd);
      case server::cli::command::kind::jwks: return server::cli::run_jwks(cmd.token, std::cout, std::cerr);
    }
  } catch (const std::exception& e) {
    std::cerr << "fhir-server: fatal: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
