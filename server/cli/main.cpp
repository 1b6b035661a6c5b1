// fhir-server: the command-line entry point.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <arpa/inet.h>

#include "fhir/definitions/r4.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "server/application.hpp"
#include "server/cli/fhirpath_command.hpp"
#include "server/cli/options.hpp"
#include "server/http/http_server.hpp"
#include "server/loader.hpp"
#include "server/log.hpp"

namespace {

constexpr const char* version = "0.1.0";

// Development mode has no authentication, so it must not be reachable from another machine.
bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

int validate(const std::vector<std::string>& files) {
  fhir::validation::resource_validator validator(fhir::definitions::r4());
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
    if (auto parsed = fhir::json::parse(text.str())) issues = validator.validate(*parsed);
    else issues = parsed.error().issues();
    all_valid &= !fhir::has_errors(issues);
    std::cout << "# " << file << "\n" << fhir::json::serialize_pretty(fhir::to_operation_outcome(issues)) << "\n";
  }
  return all_valid ? 0 : 1;
}

int serve(const server::cli::serve_options& options) {
  server::log::level level;
  if (!server::log::parse_level(options.log_level, level)) {
    std::cerr << "fhir-server: unknown log level '" << options.log_level << "'\n";
    return 2;
  }
  server::log::set_level(level);
  if (options.auth == "dev" && !is_loopback(options.host)) {
    std::cerr << "fhir-server: --auth dev has no authentication and is only allowed on a loopback address "
                 "(127.0.0.1, ::1, localhost), not "
              << options.host << "\n";
    return 2;
  }

  const auto& definitions = fhir::definitions::r4();
  std::unique_ptr<server::application> app;
  server::http::server_options http_options{
      .host = options.host == "localhost" ? "127.0.0.1" : options.host,
      .port = options.port,
      .io_threads = options.threads,
      .workers = options.workers,
      .max_body = options.max_body,
  };
  server::http::server http(http_options, [&app](const server::http::request& r) { return app->handle(r); });
  try {
    http.listen();
  } catch (const std::exception& e) {
    std::cerr << "fhir-server: " << e.what() << "\n";
    return 1;
  }
  std::string host_for_url = options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  std::string base_url = options.base_url.empty()
                             ? "http://" + host_for_url + ":" + std::to_string(http.port()) + "/fhir"
                             : options.base_url;

  auto opened = server::application::open(
      definitions, server::application_options{.database_path = options.database, .base_url = base_url,
                                               .software_version = version});
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

  server::log::info("database {}, {} resource types, auth {}", options.database,
                    definitions.resource_types().size(), options.auth);
  std::printf("listening on http://%s:%u/fhir\n", host_for_url.c_str(), static_cast<unsigned>(http.port()));
  std::fflush(stdout);
  http.run();
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
      case server::cli::command::kind::validate: return validate(cmd.files);
      case server::cli::command::kind::fhirpath:
        return server::cli::run_fhirpath(cmd.expression, cmd.files.empty() ? std::string() : cmd.files[0], std::cout, std::cerr);
      case server::cli::command::kind::serve: return serve(cmd.serve);
    }
  } catch (const std::exception& e) {
    std::cerr << "fhir-server: fatal: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
