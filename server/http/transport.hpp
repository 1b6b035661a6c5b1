#pragma once
// Internal to the HTTP transport (server/http/*.cpp only; Beast and Asio stay behind http_server.hpp):
// the server's state, what it needs of a session, and how sessions start. The session template is in
// session.hpp, instantiated once per stream type in its own translation unit (plain_session.cpp,
// tls_session.cpp) so the three heavy translation units compile in parallel.

#include <pthread.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "fhir/outcome.hpp"
#include "server/http/http_server.hpp"

namespace server::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class session_base;

// A transport-level error as an OperationOutcome response (the request never reached the router).
response transport_error(unsigned status, fhir::issue_type type, std::string diagnostics, std::string message_id);
// 503 with Retry-After: the server sheds load (too many connections or requests waiting for a worker).
response overloaded(std::string_view why);

// TLS as the design asks; null when the options name no certificate (plain HTTP).
std::unique_ptr<net::ssl::context> make_tls_context(const server_options& o);

// Names the calling worker-pool thread "fhir-worker" the first time it runs a request (the pool starts
// its threads itself), for top -H, perf and gdb.
inline void name_worker_thread() {
  thread_local bool named = false;
  if (named) return;
  pthread_setname_np(pthread_self(), "fhir-worker");
  named = true;
}

struct server::impl {
  impl(server_options o, handler h)
      : options(std::move(o)),
        handle(std::move(h)),
        io_threads(options.io_threads ? options.io_threads : std::max(1u, std::thread::hardware_concurrency())),
        ioc(static_cast<int>(io_threads)),
        control(net::make_strand(ioc)),
        acceptor(control),
        signals(control),
        grace_timer(control),
        worker_count(options.workers ? options.workers : std::max(16u, 8 * std::max(1u, std::thread::hardware_concurrency()))),
        workers(worker_count),
        connection_limit(options.max_connections ? options.max_connections : default_connection_limit()),
        pending_limit(options.max_pending ? options.max_pending : 8 * std::size_t{worker_count}),
        tls(make_tls_context(options)) {}

  void do_accept();
  void accept_when_below_ceiling();
  // How many connections beyond the limit may be open at once, being answered 503.
  static constexpr std::size_t over_limit_ceiling = 64;
  void on_accept(beast::error_code ec, tcp::socket socket);
  void begin_stop();
  void wait_for_signals();
  // Sessions register when they start and deregister when they end (begin_stop closes them).
  std::list<std::weak_ptr<session_base>>::iterator register_session(const std::shared_ptr<session_base>& s);
  void session_ended(std::list<std::weak_ptr<session_base>>::iterator registration);
  // True when the session just registered is beyond the connection limit (it answers 503 and closes).
  bool over_connection_limit() const { return live_sessions.load(std::memory_order_relaxed) > connection_limit; }
  // The soft limit on open files less a reserve (database, WAL, logs, the acceptor), at least 16.
  static std::size_t default_connection_limit();

  server_options options;
  handler handle;
  unsigned io_threads;
  // Declared before the io_context: sessions destroyed with it still deregister here.
  std::mutex sessions_mutex;
  std::list<std::weak_ptr<session_base>> sessions;  // guarded by sessions_mutex
  std::atomic<std::size_t> live_sessions{0};
  std::atomic<bool> stopping{false};

  net::io_context ioc;
  // The acceptor, the signal set and the grace timer are only touched on this strand: accepting,
  // stopping and the last session's exit may otherwise race on several network threads.
  net::strand<net::io_context::executor_type> control;
  tcp::acceptor acceptor;
  net::signal_set signals;
  net::steady_timer grace_timer;
  unsigned worker_count;
  net::thread_pool workers;
  std::size_t connection_limit;
  std::size_t pending_limit;
  std::atomic<std::size_t> pending{0};  // requests posted to the workers that no worker has started yet
  std::unique_ptr<net::ssl::context> tls;  // null: plain HTTP
};

// What the server needs of a session whatever its stream: closing it on a graceful stop.
class session_base {
 public:
  virtual ~session_base() = default;
  virtual void request_close() = 0;
};

// Start a session on an accepted connection (each defined in its own translation unit).
void start_plain_session(tcp::socket&& socket, server::impl& owner);
void start_tls_session(tcp::socket&& socket, server::impl& owner, net::ssl::context& tls);

}  // namespace server::http
