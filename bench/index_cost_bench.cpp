// index-cost-bench: what search indexing costs a create as a client sees it. The server (the same
// application and HTTP transport as fhir-server, on a fresh database) runs in this process twice per round,
// once indexing every write for search and once without the search index, and wrk drives durable creates
// of varied UK Core Patients (bench/wrk/create-varied.lua) over HTTP keep-alive connections against each.
// Variants alternate round by round; the table shows the median requests/s per variant and their ratio.
// Auditing is off in both, so the ratio is the resource's own indexing (audit-bench measures the audit).
//
//   index-cost-bench [--seconds S] [--rounds R] [--connections N]... [--script FILE.lua]
//   (defaults: 10 s, 3 rounds, 1 and 8 connections, bench/wrk/create-varied.lua)
//
// Needs wrk (apt-get install wrk). Run from the repository root.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "profiles/definition_set.hpp"
#include "server/application.hpp"
#include "server/http/http_server.hpp"
#include "bench/wrk_run.hpp"

namespace {

using round_result = bench::wrk_result;


round_result measure(bool indexed, int connections, int seconds, const std::string& script) {
  auto dir = std::filesystem::temp_directory_path() /
             ("index-cost-bench-" + std::to_string(::getpid()) + (indexed ? "-indexed" : "-unindexed"));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  round_result result;
  {
    fhir::validation::validation_options validation{.default_profiles = fhir::profiles::server_default_profiles()};
    auto app = server::application::open(
        fhir::profiles::r4_uk_core(),
        server::application_options{.database_path = (dir / "bench.db").string(), .base_url = "http://127.0.0.1/fhir",
                                    .validation = validation, .search_index = indexed,
                                    // The audit record's own cost (and its index rows) is audit-bench's subject.
                                    .audit = false, .auth = {.mode = server::auth::auth_mode::dev}});
    if (!app) {
      std::cerr << app.error().summary() << "\n";
      std::exit(1);
    }
    server::http::server http(server::http::server_options{.port = 0, .handle_signals = false},
                              [&app](const server::http::request& r) { return (*app)->handle(r); });
    http.listen();
    std::thread serving([&] { http.run(); });
    result = bench::run_wrk("-t " + std::to_string(connections < 2 ? 1 : 2) + " -c " + std::to_string(connections) + " -d " +
                            std::to_string(static_cast<int>(seconds)) + "s -s " + script + " http://127.0.0.1:" +
                            std::to_string(http.port()) + "/fhir/Patient");
    http.stop();
    serving.join();
    if (result.failed) {
      std::cerr << "wrk saw failed requests:\n" << result.report;
      std::exit(1);
    }
  }
  std::filesystem::remove_all(dir);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 10;
  int rounds = 3;
  std::vector<int> connection_counts;
  std::string script = "bench/wrk/create-varied.lua";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atoi(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--connections" && i + 1 < argc) connection_counts.push_back(std::atoi(argv[++i]));
    else if (a == "--script" && i + 1 < argc) script = argv[++i];
    else {
      std::cerr << "usage: index-cost-bench [--seconds S] [--rounds R] [--connections N]... [--script FILE.lua]\n";
      return 2;
    }
  }
  if (connection_counts.empty()) connection_counts = {1, 8};
  if (!std::filesystem::exists(script)) {
    std::cerr << "index-cost-bench: " << script << " not found (run from the repository root)\n";
    return 2;
  }
  std::printf("%-12s %14s %10s %10s %14s %10s %10s %8s\n", "connections", "indexed /s", "p50", "p99", "without /s",
              "p50", "p99", "ratio");
  for (int connections : connection_counts) {
    std::vector<round_result> with, without;
    for (int round = 0; round < rounds; ++round) {
      with.push_back(measure(true, connections, seconds, script));
      without.push_back(measure(false, connections, seconds, script));
    }
    auto middle = [](std::vector<round_result> v) {
      std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.requests_per_second < b.requests_per_second; });
      return v[v.size() / 2];
    };
    round_result a = middle(with), b = middle(without);
    std::printf("%-12d %14.0f %10s %10s %14.0f %10s %10s %7.2fx\n", connections, a.requests_per_second, a.p50.c_str(),
                a.p99.c_str(), b.requests_per_second, b.p50.c_str(), b.p99.c_str(),
                a.requests_per_second / b.requests_per_second);
  }
  return 0;
}
