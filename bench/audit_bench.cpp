// audit-bench: what auditing every read costs, as a client sees it. The server (the same application and
// HTTP transport as fhir-server, in development mode, on a fresh database holding --patients Patients)
// runs in this process once per variant per round, and wrk reads random Patients over keep-alive
// connections (bench/wrk/read-random.lua):
//   audit       every read's AuditEvent is group-committed before its answer is sent (the server as shipped:
//               reads on the network threads, the answer sent when the commit completes)
//   no-audit    no AuditEvents; reads on the network threads (the server without auditing)
// Variants alternate round by round; the table shows the median requests/s and the ratio to no-audit.
//
//   audit-bench [--seconds S] [--rounds R] [--connections N]... [--patients N] [--workers N]
//   (defaults: 10 s, 3 rounds, 16 connections, 1000 patients, the server's default workers). Needs wrk.
//   Run from the repository root.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include "profiles/definition_set.hpp"
#include "server/application.hpp"
#include "server/audit/audit_event.hpp"
#include "server/audit/audit_record_codec.hpp"
#include "server/http/http_server.hpp"
#include "bench/wrk_run.hpp"

namespace {

struct variant {
  std::string name;
  bool audit;
  bool reads_on_network_threads;
};

using round_result = bench::wrk_result;


unsigned workers = 0;  // --workers: the server's request threads (0: its default)

// The server's CPU time per request (this process: the server, not wrk), per variant, each round.
std::map<std::string, std::vector<double>> server_cpu_us;

double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

round_result measure(const variant& v, int connections, int seconds, int patients) {
  auto dir = std::filesystem::temp_directory_path() / ("audit-bench-" + std::to_string(::getpid()) + "-" + v.name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  round_result result;
  {
    fhir::validation::validation_options validation{.default_profiles = fhir::profiles::server_default_profiles()};
    auto app = server::application::open(
        fhir::profiles::r4_uk_core(),
        server::application_options{.database_path = (dir / "bench.db").string(), .base_url = "http://127.0.0.1/fhir",
                                    .validation = validation, .audit = v.audit, .auth = {.mode = server::auth::auth_mode::dev}});
    if (!app) {
      std::cerr << app.error().summary() << "\n";
      std::exit(1);
    }
    for (int i = 1; i <= patients; ++i) {
      std::string id = "p" + std::to_string(i);
      server::http::request put{.method = "PUT", .target = "/fhir/Patient/" + id,
                                .headers = {{"Content-Type", "application/fhir+json"}},
                                .body = R"({"resourceType":"Patient","id":")" + id + R"(","name":[{"family":"Bench","given":["P)" +
                                        std::to_string(i) + R"("]}],"gender":"female","birthDate":"1970-01-01"})"};
      if ((*app)->handle(put).status >= 300) {
        std::cerr << "audit-bench: loading " << id << " failed\n";
        std::exit(1);
      }
    }
    server::http::server http(
        server::http::server_options{.port = 0, .workers = workers, .handle_signals = false,
                                     .reads_on_network_threads = v.reads_on_network_threads},
        [&app](const server::http::request& r) { return (*app)->handle(r); });
    http.listen();
    std::thread serving([&] { http.run(); });
    ::setenv("PATIENTS", std::to_string(patients).c_str(), 1);  // read by bench/wrk/read-random.lua
    double cpu_before = process_cpu_seconds();
    result = bench::run_wrk("-t 2 -c " + std::to_string(connections) + " -d " + std::to_string(seconds) +
                            "s -s bench/wrk/read-random.lua http://127.0.0.1:" + std::to_string(http.port()));
    double cpu_used = process_cpu_seconds() - cpu_before;
    http.stop();
    serving.join();
    server_cpu_us[v.name].push_back(cpu_used * 1e6 / std::max(1.0, result.requests_per_second * seconds));
    if (result.failed) {
      std::cerr << "wrk saw failed requests:\n" << result.report;
      std::exit(1);
    }
    if (v.audit) {
      auto check = (*app)->context().store.verify_audit();
      if (!check || !check->intact) {
        std::cerr << "audit-bench: the audit chain does not verify\n";
        std::exit(1);
      }
      std::printf("  (%s: %lld audit records, chain intact)\n", v.name.c_str(), static_cast<long long>(check->records));
    }
  }
  std::filesystem::remove_all(dir);
  return result;
}

}  // namespace

// --parts: where an audited read's extra time goes, per record (median of 5 runs of 2000): recording the
// facts with their search keys (request thread) and appending them on the writer (100 records per unit
// of work, so the fsync is amortised away); and what rendering a stored record as an AuditEvent costs.
std::size_t benchmark_sink = 0;  // keeps the rendering from being optimised away

int parts() {
  auto dir = std::filesystem::temp_directory_path() / ("audit-bench-parts-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto app = server::application::open(fhir::profiles::r4_uk_core(),
                                       server::application_options{.database_path = (dir / "bench.db").string(),
                                                                   .base_url = "http://127.0.0.1/fhir",
                                                                   .auth = {.mode = server::auth::auth_mode::dev}});
  if (!app) return 1;
  auto& store = (*app)->context().store;
  auto caller = (*app)->context().auth->authenticate(std::nullopt, std::nullopt, 0);
  server::audit::audit_facts facts{.interaction = "read", .method = "GET", .target = "/fhir/Patient/p1", .request_id = "r",
                                   .remote_address = "127.0.0.1", .status = 200, .caller = server::audit::audited(*caller),
                                   .resources = {{"Patient", "p1", 1}}, .resource_count = 1, .patients = {"p1"},
                                   .server_url = "http://127.0.0.1/fhir", .recorded = fhir::now_ms()};
  std::vector<double> build_us, prepare_us, append_us;
  for (int run = 0; run < 5; ++run) {
    constexpr int n = 2000;
    auto t0 = std::chrono::steady_clock::now();
    std::vector<store::audit_record> prepared;
    for (int i = 0; i < n; ++i) prepared.push_back(server::audit::record_of(facts, "a" + std::to_string(run) + "-" + std::to_string(i)));
    auto t1 = std::chrono::steady_clock::now();
    // What a privacy officer's read costs instead: rendering the AuditEvent from the stored record.
    for (const auto& r : prepared) benchmark_sink += server::audit::render_record(r.json).size();
    auto t2 = std::chrono::steady_clock::now();
    for (int start = 0; start < n; start += 100)
      if (!store.transact([&](store::transaction& tx) -> fhir::result<fhir::done> {
        for (int i = start; i < start + 100; ++i)
          if (auto a = tx.append_audit(std::move(prepared[static_cast<std::size_t>(i)])); !a) return std::move(a).error();
        return fhir::done{};
      }))
        return 1;
    auto t3 = std::chrono::steady_clock::now();
    auto us = [](auto a, auto b) { return std::chrono::duration<double, std::micro>(b - a).count() / n; };
    build_us.push_back(us(t0, t1));
    prepare_us.push_back(us(t1, t2));
    append_us.push_back(us(t2, t3));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("per audit record: record the facts %.1f us (request thread), writer append %.1f us; rendering one as an AuditEvent "
              "when read: %.1f us\n", median(build_us),
              median(append_us), median(prepare_us));
  std::filesystem::remove_all(dir);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--parts") return parts();
  int seconds = 10, rounds = 3, patients = 1000;
  std::vector<int> connection_counts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atoi(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--connections" && i + 1 < argc) connection_counts.push_back(std::atoi(argv[++i]));
    else if (a == "--patients" && i + 1 < argc) patients = std::atoi(argv[++i]);
    else if (a == "--workers" && i + 1 < argc) workers = static_cast<unsigned>(std::atoi(argv[++i]));
    else {
      std::cerr << "usage: audit-bench [--seconds S] [--rounds R] [--connections N]... [--patients N] [--workers N]\n";
      return 2;
    }
  }
  if (connection_counts.empty()) connection_counts = {16};
  const std::vector<variant> variants = {{"audit", true, true}, {"no-audit", false, true}};
  for (int connections : connection_counts) {
    std::map<std::string, std::vector<round_result>> results;
    for (int round = 0; round < rounds; ++round)
      for (const variant& v : variants) results[v.name].push_back(measure(v, connections, seconds, patients));
    auto middle = [](std::vector<round_result> r) {
      std::sort(r.begin(), r.end(), [](auto& a, auto& b) { return a.requests_per_second < b.requests_per_second; });
      return r[r.size() / 2];
    };
    double baseline = middle(results["no-audit"]).requests_per_second;
    std::printf("%d connections, %d rounds of %d s, median per variant:\n", connections, rounds, seconds);
    std::printf("  %-12s %12s %10s %10s %10s %14s\n", "variant", "reads/s", "p50", "p99", "vs no-audit", "server CPU/read");
    for (const variant& v : variants) {
      round_result m = middle(results[v.name]);
      std::vector<double> cpu = server_cpu_us[v.name];
      std::sort(cpu.begin(), cpu.end());
      std::printf("  %-12s %12.0f %10s %10s %9.2fx %12.0f us\n", v.name.c_str(), m.requests_per_second, m.p50.c_str(), m.p99.c_str(),
                  m.requests_per_second / baseline, cpu[cpu.size() / 2]);
    }
    server_cpu_us.clear();
  }
  return 0;
}
