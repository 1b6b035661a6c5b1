// Fuzz target: raw bytes on a connection to the real HTTP transport, in this process, on loopback, in
// front of the application. The input is sent whole, the write side is shut, and the answer is read
// until the server closes: whatever arrives, the server must answer or close, never crash, never
// hang, never answer 500. (A 500 is seen where the handler returns it or throws: the answer's bytes
// cannot be searched for "500", since diagnostics may echo what the request said.)

#include <arpa/inet.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "fuzz/fuzz_application.hpp"
#include "fuzz/targets.hpp"
#include "server/http/http_server.hpp"

namespace fhir::fuzz {

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "http target: %s (errno %d: %s)\n", what, errno, std::strerror(errno));
  __builtin_trap();
}

// Set by the handler when the application answers 500 (an internal error) or throws.
std::atomic<bool> internal_error{false};

// Started once and never stopped: the process ends with the fuzzer.
std::uint16_t server_port() {
  static const std::uint16_t port = [] {
    server::http::server_options options{.port = 0,
                                         .io_threads = 1,
                                         .workers = 2,
                                         .max_body = 1024 * 1024,
                                         .header_timeout_s = 5,
                                         .body_timeout_s = 5,
                                         .write_timeout_s = 5,
                                         .handle_signals = false};
    auto* transport = new server::http::server(options, [](const server::http::request& r) {
      try {
        server::http::response answer = fuzz_application().handle(r);
        if (answer.status == 500) internal_error = true;
        return answer;
      } catch (...) {
        internal_error = true;
        throw;
      }
    });
    transport->listen();
    std::thread([transport] { transport->run(); }).detach();
    return transport->port();
  }();
  return port;
}

}  // namespace

void http_target(std::string_view input) {
  std::uint16_t port = server_port();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) finding("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // libFuzzer's watchdog signal can interrupt a blocking call: connect() then completes on its own
  // (wait for it), and send() and recv() are retried.
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINTR) finding("connect() failed");
    pollfd connecting{.fd = fd, .events = POLLOUT, .revents = 0};
    int status = 0;
    socklen_t length = sizeof status;
    while (poll(&connecting, 1, 20000) < 0 && errno == EINTR) {
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &status, &length) != 0 || status != 0) finding("connect() failed");
  }
  // Longer than every deadline of the transport (5 s here): no answer by then is a hang.
  timeval patience{.tv_sec = 20, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &patience, sizeof patience);

  // The server may stop reading (a refused body) and close: a failed send is then expected.
  std::size_t sent = 0;
  while (sent < input.size()) {
    ssize_t n = send(fd, input.data() + sent, input.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  shutdown(fd, SHUT_WR);

  std::string answer;
  char buffer[16384];
  for (;;) {
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      answer.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) finding("the server neither answered nor closed");
    break;  // closed (or reset after a refused body)
  }
  // Closed with a reset rather than a FIN: hundreds of thousands of connections would otherwise leave as
  // many TIME_WAIT entries on loopback and exhaust the ephemeral ports (connect() then fails).
  linger reset{.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  close(fd);
  if (internal_error.exchange(false)) finding("a 500 answer (or an exception) from the application");
}

}  // namespace fhir::fuzz
