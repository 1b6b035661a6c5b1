#include "tests/support/server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fhir::testing {
namespace {

std::vector<char*> argv_of(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// Starts `args` with its stdout on `out_fd` and its stderr on `err_fd` (or, when -1, on the log file
// `err_path`); closes `unused_fd` in the child.
pid_t spawn(std::vector<std::string> args, int out_fd, int err_fd, const std::string& err_path, int unused_fd) {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out_fd, STDOUT_FILENO);
    if (err_fd < 0) err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
    close(unused_fd);
    close(out_fd);
    auto argv = argv_of(args);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string server_binary() {
  const char* override_path = std::getenv("FHIR_SERVER_BINARY");
  return override_path ? override_path : FHIR_SERVER_BINARY;
}

server_process::server_process(std::string database, std::vector<std::string> args) {
  log_path_ = database + ".log";
  std::vector<std::string> full = {server_binary(), "serve", "--db", database, "--port", "0"};
  // Development mode unless the test chooses its authentication (it starts with --auth).
  if (std::find(args.begin(), args.end(), "--auth") == args.end()) full.insert(full.end(), {"--auth", "dev"});
  full.insert(full.end(), args.begin(), args.end());
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  pid_ = spawn(full, out[1], -1, log_path_, out[0]);
  close(out[1]);
  stdout_fd_ = out[0];

  std::string text;
  constexpr std::string_view listening = "listening on ";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) > 0) {
      char buf[512];
      ssize_t n = read(stdout_fd_, buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
      // "listening on http://HOST:PORT/fhir\n" (or https://)
      auto start = text.find(listening);
      auto end = start == std::string::npos ? start : text.find("/fhir\n", start);
      if (end != std::string::npos) {
        auto colon = text.rfind(':', end);
        port_ = static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1, end - colon - 1)));
        return;
      }
    }
  }
  kill();
  throw std::runtime_error("fhir-server did not start: " + text + "\n" + log());
}

server_process::~server_process() {
  if (running()) kill();
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

std::string server_process::base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/fhir"; }

int server_process::wait() {
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return exit_status(status);
}

int server_process::stop() {
  ::kill(pid_, SIGTERM);
  return wait();
}

void server_process::kill() {
  ::kill(pid_, SIGKILL);
  wait();
}

std::string server_process::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

run_result run_server_command(const std::vector<std::string>& args) {
  std::vector<std::string> full = {server_binary()};
  full.insert(full.end(), args.begin(), args.end());
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = spawn(full, out[1], out[1], {}, out[0]);
  close(out[1]);
  std::string output;
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) output.append(buf, static_cast<std::size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {exit_status(status), output};
}

}  // namespace fhir::testing
