#pragma once
// The HTTP/1.1 transport: an asynchronous Boost.Beast server. This header is all the rest of the server
// sees of it; Beast and Asio stay inside server/http (http_server.cpp, and the session template of
// session.hpp compiled per stream type in plain_session.cpp and tls_session.cpp).
//
// Plain HTTP and HTTPS share one session template (TLS adds a handshake under the header deadline).
// Each connection reads one request at a time (header first, so an oversized body is refused with 413
// before it is read), runs the handler, and writes the response on the connection's strand once the
// response's `after` completion (its audit record's commit) has completed. Safe methods
// may run on the network threads (reads_on_network_threads); others run on a pool of worker threads because they may wait
// for the database writer. Timeouts bound every read and write, so a slow
// client (one byte a second) holds no worker. Keep-alive and HEAD are supported; pipelined requests are
// served in order.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/http/message.hpp"

namespace server::http {

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;   // 0: the system picks a free port (see port())
  unsigned io_threads = 0;     // 0: one per core
  unsigned workers = 0;        // threads running handlers; 0: 8 per core, at least 16
  std::size_t max_body = 16 * 1024 * 1024;
  std::size_t max_header = 64 * 1024;  // request line + headers
  unsigned header_timeout_s = 30;      // to receive a whole request header (also the keep-alive idle limit)
  unsigned body_timeout_s = 120;
  unsigned write_timeout_s = 60;
  unsigned shutdown_grace_s = 30;      // in-flight requests get this long to finish on stop()
  bool handle_signals = true;          // SIGINT and SIGTERM start a graceful stop
  // GET and HEAD run on the network threads (no thread hand-off): they never wait for the database
  // writer (a read's audit record commits asynchronously: response::after). false: on the workers.
  bool reads_on_network_threads = true;
  // Load shedding (answers 503 with Retry-After rather than letting queues and memory grow without
  // bound). A connection accepted beyond max_connections gets 503 once its request header has arrived,
  // then is closed (it has 1 s to send it, and /health, /ready and /metrics are answered anyway, so probes
  // do not fail under load); at most 64 such connections are open at once, beyond that the acceptor
  // waits. 0: the process's file-descriptor limit less a reserve of 256 for the database and the rest.
  // A request that would wait for a worker behind max_pending others already waiting gets 503 at once
  // (the connection stays open); 0: 8 per worker. GET and HEAD on the network threads are not queued (see above).
  std::size_t max_connections = 0;
  std::size_t max_pending = 0;
  std::function<void()> on_hangup;     // with handle_signals: called on SIGHUP (reload keys), on the control strand
  // HTTPS: PEM certificate chain and private key; both empty for plain HTTP. TLS 1.2 minimum, 1.3
  // preferred, forward-secret AEAD cipher suites only. Bad files make the constructor throw.
  std::string tls_cert;
  std::string tls_key;
};

// Handlers must not throw for expected failures; an exception escaping one becomes a 500 response.
using handler = std::function<response(const request&)>;

class server {
 public:
  server(server_options options, handler handle);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds and listens. Throws std::runtime_error when the address cannot be bound.
  void listen();
  // The bound port (after listen()).
  std::uint16_t port() const;
  // Serves until stop() (or a signal, if enabled), then returns once in-flight requests have finished.
  void run();
  // Starts a graceful stop: no new connections, idle connections closed, in-flight requests finished.
  // Thread-safe; may be called from a handler.
  void stop();

  struct impl;  // opaque: defined in transport.hpp, where the Beast types live

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace server::http
