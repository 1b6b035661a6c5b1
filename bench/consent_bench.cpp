// consent-bench: what consent enforcement costs, as a client sees it (issue 8: at least 80% of the
// throughput without it). One database of --patients Patients with --per-patient Observations each, all
// written by a GP practice; every tenth patient has an active shcr-optout. A hospital clinician (not the
// data's controller, so every answer is decided) reads it with wrk (bench/wrk/consent-mix.lua): half reads
// of a random Observation, half searches of a random patient's Observations. The server (the same
// application and HTTP transport as fhir-server, development mode, auditing on) runs in this process
// once per variant per round, on the same database:
//   consent     enforcement on (the server as shipped)
//   no-consent  enforcement off (the same server without it)
// Variants alternate round by round; the table shows the median requests/s and the ratio to no-consent.
// With consent on, the opted-out tenth of reads answer 404 and their searches come back empty: counted,
// not errors.
//
//   consent-bench [--seconds S] [--rounds R] [--connections N] [--patients N] [--per-patient N]
//   (defaults: 10 s, 3 rounds, 16 connections, 1000 patients, 3 Observations each). Needs wrk.
//   Run from the repository root.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "fhir/base64.hpp"
#include "profiles/definition_set.hpp"
#include "server/application.hpp"
#include "server/http/http_server.hpp"
#include "bench/wrk_run.hpp"

namespace {

struct options {
  int seconds = 10, rounds = 3, connections = 16, patients = 1000, per_patient = 3;
};

std::string dev_token(const std::string& claims) { return "Bearer dev." + fhir::base64url_encode(claims); }

const std::string gp = dev_token(R"({"sub":"555000000001","org_ods":"GP1","scope":"user/*.cruds","nhs_role":{"role_code":"R8000"},"purpose_of_use":["TREAT"]})");
const std::string hospital =
    dev_token(R"({"sub":"555000000002","org_ods":"ACU1","scope":"user/*.rs","nhs_role":{"role_code":"R8000"},"purpose_of_use":["TREAT"]})");
const std::string admin = dev_token(
    R"({"sub":"555000000003","org_ods":"ICB1","scope":"user/*.cruds","nhs_role":{"role_code":"SHCR-CONSENT-ADMIN"},"purpose_of_use":["PATADMIN"]})");

server::application_options app_options(const std::filesystem::path& db, bool consent) {
  return server::application_options{.database_path = db.string(), .base_url = "http://127.0.0.1/fhir",
                                     .validation = {.default_profiles = fhir::profiles::server_default_profiles()},
                                     .consent = consent, .auth = {.mode = server::auth::auth_mode::dev}};
}

void require(const server::application& app, server::http::request request, const char* what) {
  auto response = app.handle(request);
  if (response.status >= 300) {
    std::cerr << "consent-bench: " << what << " failed: " << response.status << " " << response.body.substr(0, 500) << "\n";
    std::exit(1);
  }
}

// The data, written once: patients and their Observations in transactions of 100 patients, then the
// opt-outs of every tenth patient.
void load(const std::filesystem::path& db, const options& o) {
  auto app = server::application::open(fhir::profiles::r4_uk_core(), app_options(db, true));
  if (!app) {
    std::cerr << app.error().summary() << "\n";
    std::exit(1);
  }
  for (int first = 1; first <= o.patients; first += 100) {
    std::string entries;
    auto add = [&](const std::string& type, const std::string& id, const std::string& body) {
      if (!entries.empty()) entries += ",";
      entries += R"({"resource":)" + body + R"(,"request":{"method":"PUT","url":")" + type + "/" + id + R"("}})";
    };
    for (int p = first; p < first + 100 && p <= o.patients; ++p) {
      std::string pid = "p" + std::to_string(p);
      add("Patient", pid, R"({"resourceType":"Patient","id":")" + pid + R"(","name":[{"family":"Bench","given":["P)" + std::to_string(p) +
                              R"("]}],"gender":"female","birthDate":"1970-01-01"})");
      for (int k = 1; k <= o.per_patient; ++k) {
        std::string oid = "o" + std::to_string(p) + "-" + std::to_string(k);
        add("Observation", oid, R"({"resourceType":"Observation","id":")" + oid + R"(","status":"final",
          "code":{"coding":[{"system":"http://snomed.info/sct","code":"75367002"}]},"subject":{"reference":"Patient/)" + pid + R"("},
          "effectiveDateTime":"2026-0)" + std::to_string(1 + k % 9) + R"(-01"})");
      }
    }
    require(**app, {.method = "POST", .target = "/fhir", .headers = {{"Content-Type", "application/fhir+json"}, {"Authorization", gp}},
                    .body = R"({"resourceType":"Bundle","type":"transaction","entry":[)" + entries + "]}"},
            "loading");
  }
  for (int p = 10; p <= o.patients; p += 10) {
    std::string pid = "p" + std::to_string(p);
    require(**app, {.method = "PUT", .target = "/fhir/Consent/optout-" + pid,
                    .headers = {{"Content-Type", "application/fhir+json"}, {"Authorization", admin}},
                    .body = R"({"resourceType":"Consent","id":"optout-)" + pid + R"(","status":"active",
      "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
      "category":[{"coding":[{"system":"https://shared-care-record.github.io/fhir/CodeSystem/consent-kind","code":"shcr-optout"}]}],
      "patient":{"reference":"Patient/)" + pid + R"("},"policy":[{"uri":"https://example.org/opt-out"}],"provision":{"type":"deny"}})"},
            "an opt-out");
  }
}

struct round_result {
  bench::wrk_result wrk;
  long long not_found = 0;  // hidden reads (404), by design with consent on
};

round_result measure(const std::filesystem::path& db, bool consent, const options& o) {
  auto app = server::application::open(fhir::profiles::r4_uk_core(), app_options(db, consent));
  if (!app) {
    std::cerr << app.error().summary() << "\n";
    std::exit(1);
  }
  server::http::server http(server::http::server_options{.port = 0, .handle_signals = false, .reads_on_network_threads = true},
                            [&app](const server::http::request& r) { return (*app)->handle(r); });
  http.listen();
  std::thread serving([&] { http.run(); });
  ::setenv("PATIENTS", std::to_string(o.patients).c_str(), 1);
  ::setenv("PER_PATIENT", std::to_string(o.per_patient).c_str(), 1);
  ::setenv("AUTH", hospital.c_str(), 1);
  round_result r;
  r.wrk = bench::run_wrk("-t 2 -c " + std::to_string(o.connections) + " -d " + std::to_string(o.seconds) +
                         "s -s bench/wrk/consent-mix.lua http://127.0.0.1:" + std::to_string(http.port()));
  http.stop();
  serving.join();
  r.not_found = std::atoll(bench::field(r.wrk.report, "Non-2xx or 3xx responses:").c_str());
  bool socket_errors = r.wrk.report.find("Socket errors") != std::string::npos;
  // Without consent nothing is hidden: any non-2xx is an error. With it, about a tenth of the reads
  // (half the requests) are 404.
  if (socket_errors || (!consent && r.not_found > 0) || r.wrk.requests_per_second <= 0) {
    std::cerr << "consent-bench: wrk saw errors:\n" << r.wrk.report;
    std::exit(1);
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--seconds") o.seconds = next();
    else if (a == "--rounds") o.rounds = next();
    else if (a == "--connections") o.connections = next();
    else if (a == "--patients") o.patients = next();
    else if (a == "--per-patient") o.per_patient = next();
    else {
      std::cerr << "usage: consent-bench [--seconds S] [--rounds R] [--connections N] [--patients N] [--per-patient N]\n";
      return 2;
    }
  }
  auto dir = std::filesystem::temp_directory_path() / ("consent-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto db = dir / "bench.db";
  load(db, o);
  std::map<bool, std::vector<round_result>> results;
  for (int round = 0; round < o.rounds; ++round)
    for (bool consent : {true, false}) results[consent].push_back(measure(db, consent, o));
  auto middle = [](std::vector<round_result> r) {
    std::sort(r.begin(), r.end(), [](auto& a, auto& b) { return a.wrk.requests_per_second < b.wrk.requests_per_second; });
    return r[r.size() / 2];
  };
  double baseline = middle(results[false]).wrk.requests_per_second;
  std::printf("%d patients (%d opted out), %d Observations each; %d connections, %d rounds of %d s, median per variant:\n", o.patients,
              o.patients / 10, o.per_patient, o.connections, o.rounds, o.seconds);
  std::printf("  %-12s %12s %10s %10s %12s %14s\n", "variant", "requests/s", "p50", "p99", "vs no-consent", "404 (hidden)");
  for (bool consent : {true, false}) {
    round_result m = middle(results[consent]);
    std::printf("  %-12s %12.0f %10s %10s %11.2fx %14lld\n", consent ? "consent" : "no-consent", m.wrk.requests_per_second,
                m.wrk.p50.c_str(), m.wrk.p99.c_str(), m.wrk.requests_per_second / baseline, m.not_found);
  }
  std::printf("  rounds (requests/s):");
  for (bool consent : {true, false}) {
    std::printf(" %s", consent ? "consent" : "no-consent");
    for (const auto& r : results[consent]) std::printf(" %.0f", r.wrk.requests_per_second);
  }
  std::printf("\n");
  std::filesystem::remove_all(dir);
  return 0;
}
