#pragma once
// Running wrk from a benchmark and reading its report: shared by the HTTP benchmarks.

#include <cstdio>
#include <cstdlib>
#include <string>

namespace bench {

// One wrk run: requests per second and the latency percentiles as wrk prints them ("3.21ms").
struct wrk_result {
  double requests_per_second = 0;
  std::string p50, p99;
  bool failed = false;  // wrk saw non-2xx answers or socket errors
  std::string report;   // wrk's whole report, for diagnosis
};

// stdout of a shell command.
inline std::string run_command(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

// The value after `label` on its line of wrk's report ("Requests/sec:   812.34", "     99%    3.21ms").
inline std::string field(const std::string& report, const std::string& label) {
  auto at = report.find(label);
  if (at == std::string::npos) return "";
  at += label.size();
  while (at < report.size() && report[at] == ' ') ++at;
  auto end = report.find_first_of(" \n", at);
  return report.substr(at, end - at);
}

// Runs `wrk --latency` with these arguments (connections, duration, script, URL ...) and reads the report.
inline wrk_result run_wrk(const std::string& arguments) {
  wrk_result r;
  r.report = run_command("wrk --latency " + arguments + " 2>&1");
  r.failed = r.report.find("Non-2xx") != std::string::npos || r.report.find("Socket errors") != std::string::npos;
  r.requests_per_second = std::atof(field(r.report, "Requests/sec:").c_str());
  r.p50 = field(r.report, " 50%");
  r.p99 = field(r.report, " 99%");
  return r;
}

}  // namespace bench
