#pragma once
// Runs the real fhir-server binary for integration tests: on port 0 (the server picks a free port and
// prints it), with a database of the test's choosing. Its stderr goes to a log file kept for diagnosis.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fhir::testing {

std::string server_binary();

class server_process {
 public:
  // Starts `fhir-server serve --db DB --port 0 ARGS...` and waits (up to 60 s) for its "listening on" line.
  server_process(std::string database, std::vector<std::string> args = {});
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  std::uint16_t port() const { return port_; }
  std::string base_url() const;
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // SIGTERM, then waits; returns the exit status (or 128 + signal).
  int stop();
  // SIGKILL, then waits.
  void kill();
  // The server's stderr so far.
  std::string log() const;

 private:
  int wait();

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string log_path_;
};

// Runs fhir-server with `args` to completion; returns its exit status and combined output.
struct run_result {
  int status;
  std::string output;
};
run_result run_server_command(const std::vector<std::string>& args);

}  // namespace fhir::testing
