// validation-bench: validations per second (one thread) of resources read from files, as the server
// validates every write (R4 + our UK Core definitions, UK Core profiles by default), against the R4-only
// baseline measured in the same run, and what validation adds to the cost of a create.
//
//   validation-bench [--seconds S] [--rounds R] [--creates N] [--profile-server] FILE.json...
//   (--profile-server: only the server variant, to profile with perf)
//   validation-bench --create-only indexed|unindexed [--threads N] [--creates N] FILE.json
//   (only timed creates of one variant, to run under perf or strace)
//
// Each measurement alternates its variants round by round and reports the median rate of the rounds, so
// that drift (frequency scaling, other load) hits every variant alike.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include <unistd.h>

#include "fhir/definitions/r4.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/resource.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "fhir/validation/structural_validator.hpp"
#include "profiles/definition_set.hpp"
#include "fhir/search/indexer.hpp"
#include "fhir/search/search_parameters.hpp"
#include "server/application.hpp"

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Rates (per second) of each variant: `rounds` rounds, each running every variant for `seconds`.
std::vector<double> rates(const std::vector<std::function<void()>>& variants, double seconds, int rounds) {
  std::vector<std::vector<double>> samples(variants.size());
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t v = 0; v < variants.size(); ++v) {
      auto start = std::chrono::steady_clock::now();
      std::size_t n = 0;
      double elapsed = 0;
      while (elapsed < seconds) {
        for (int i = 0; i < 50; ++i) variants[v]();
        n += 50;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      samples[v].push_back(static_cast<double>(n) / elapsed);
    }
  }
  std::vector<double> out;
  for (auto& s : samples) out.push_back(median(s));
  return out;
}

// Creates through the application (routing, parsing, validation, search indexing when `indexed`, durable
// store), per second, from `threads` threads at once (the writer commits concurrent creates together).
double create_rate(const fhir::definitions::registry& defs, const fhir::validation::validation_options& options,
                   const std::string& body, std::string_view type, int creates, bool indexed = true, int threads = 1) {
  auto dir = std::filesystem::temp_directory_path() / ("validation-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  double rate = 0;
  {
    auto app = server::application::open(
        defs, server::application_options{.database_path = (dir / "bench.db").string(), .base_url = "http://bench/fhir",
                                          .validation = options, .search_index = indexed,
                                          .audit = false, .auth = {.mode = server::auth::auth_mode::dev}});
    if (!app) {
      std::cerr << app.error().summary() << "\n";
      std::exit(1);
    }
    server::http::request request{.method = "POST", .target = "/fhir/" + std::string(type),
                                  .headers = {{"Content-Type", "application/fhir+json"}, {"Prefer", "return=minimal"}},
                                  .body = body, .remote_address = "127.0.0.1"};
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] {
        for (int i = t; i < creates; i += threads) {
          auto response = (*app)->handle(request);
          if (response.status != 201) {
            std::cerr << "create failed: " << response.status << " " << response.body << "\n";
            std::exit(1);
          }
        }
      });
    for (auto& w : workers) w.join();
    rate = creates / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::filesystem::remove_all(dir);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  double seconds = 1;
  int rounds = 5;
  int creates = 0;
  bool profile_server = false;  // only run the server variant, for perf
  std::string create_only;      // "indexed" or "unindexed": only time creates, for perf and strace
  int threads_only = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--creates" && i + 1 < argc) creates = std::atoi(argv[++i]);
    else if (a == "--profile-server" ) profile_server = true;
    else if (a == "--create-only" && i + 1 < argc) create_only = argv[++i];
    else if (a == "--threads" && i + 1 < argc) threads_only = std::atoi(argv[++i]);
    else files.push_back(a);
  }
  const auto& r4 = fhir::definitions::r4();
  const auto& uk = fhir::profiles::r4_uk_core();
  fhir::validation::validation_options server_options{.default_profiles = fhir::profiles::server_default_profiles()};
  fhir::validation::resource_validator baseline(r4);
  fhir::validation::resource_validator server(uk, server_options);

  std::printf("%-44s %10s %10s %10s %10s %8s %8s\n", "file (validations/s, median)", "parse", "structure", "R4 base", "server",
              "us/valid", "issues");
  for (const auto& file : files) {
    std::string text = read(file);
    auto parsed = fhir::json::parse(text);
    if (!parsed) {
      std::cerr << file << ": " << parsed.error().summary() << "\n";
      return 1;
    }
    std::size_t issues = server.validate(*parsed).size();
    if (!create_only.empty()) {
      auto without_id = *parsed;
      without_id.erase("id");
      double rate = create_rate(uk, server_options, fhir::json::serialize(without_id), fhir::resource_type_of(*parsed),
                                creates > 0 ? creates : 2000, create_only == "indexed", threads_only);
      std::printf("%s: %s creates, %d thread(s): %.0f/s\n", file.c_str(), create_only.c_str(), threads_only, rate);
      continue;
    }
    if (profile_server) {
      auto only = rates({[&] { (void)server.validate(*parsed); }}, seconds, rounds);
      std::printf("%s: server %.0f/s\n", file.c_str(), only[0]);
      continue;
    }
    auto r = rates({[&] { (void)fhir::json::parse(text); },
                    [&] { (void)fhir::validation::validate_structure(r4, *parsed); },
                    [&] { (void)baseline.validate(*parsed); },
                    [&] { (void)server.validate(*parsed); }},
                   seconds, rounds);
    std::string name = file.substr(file.find_last_of('/') + 1);
    std::printf("%-44s %10.0f %10.0f %10.0f %10.0f %8.1f %8zu\n", name.c_str(), r[0], r[1], r[2], r[3], 1e6 / r[3], issues);

    {
      // Search index extraction (every search parameter of the type evaluated), per second.
      static const fhir::search::search_parameters parameters(uk);
      static const fhir::search::indexer indexer(parameters, {});
      std::size_t rows = 0;
      auto extracted = indexer.extract(*parsed);
      rows = extracted.strings.size() + extracted.tokens.size() + extracted.dates.size() + extracted.numbers.size() +
             extracted.quantities.size() + extracted.references.size() + extracted.uris.size() + extracted.composites.size();
      auto x = rates({[&] { (void)indexer.extract(*parsed); }}, seconds, rounds);
      std::printf("  search index: %.0f extractions/s (%.1f us), %zu rows\n", x[0], 1e6 / x[0], rows);
    }
    if (creates > 0) {
      std::string body = text;
      auto without_id = *parsed;
      without_id.erase("id");
      body = fhir::json::serialize(without_id);
      double create = create_rate(uk, server_options, body, fhir::resource_type_of(*parsed), creates);
      double validate_us = 1e6 / r[3], create_us = 1e6 / create;
      std::printf("  creates: %.0f/s (%.1f us each); validation %.1f us = %.1f%% of a create, %.1f%% added to a create without it\n",
                  create, create_us, validate_us, 100 * validate_us / create_us, 100 * validate_us / (create_us - validate_us));
      // What search indexing costs a create: sequential (one fsync each) and 8 threads (group commit),
      // alternating indexed and unindexed runs, medians of 3.
      for (int threads : {1, 8}) {
        std::vector<double> with, without;
        for (int round = 0; round < 3; ++round) {
          with.push_back(create_rate(uk, server_options, body, fhir::resource_type_of(*parsed), creates, true, threads));
          without.push_back(create_rate(uk, server_options, body, fhir::resource_type_of(*parsed), creates, false, threads));
        }
        std::sort(with.begin(), with.end());
        std::sort(without.begin(), without.end());
        std::printf("  creates, %d thread%s: %.0f/s indexed, %.0f/s without the search index (%.2fx)\n", threads,
                    threads == 1 ? "" : "s", with[1], without[1], with[1] / without[1]);
      }
    }
  }
  return 0;
}
