// The Beast transport: the listener, graceful stop and the public server API (the session template is in
// session.hpp, compiled per stream type in plain_session.cpp and tls_session.cpp).
// Structure after Beast's advanced server examples: a listener accepting onto a strand
// per connection, a session that reads, hands the request over, and writes, in do_x/on_x pairs.
//
// Session states (one request at a time):
//   reading_header --(header ok)--> [writing 100 Continue] --> reading_body --> handling --> writing
//   writing --(keep-alive and not stopping)--> reading_header;  otherwise --> lingering --> closed
// Any read error or timeout closes the connection (after a 4xx response when the request was malformed).
// While handling (GET/HEAD on the network thread, other methods on the worker pool) the session has no
// read pending, so a pipelining client cannot make us buffer unbounded requests.
//
// Graceful stop: the acceptor closes, idle sessions (reading a header) are closed at once, busy ones close
// after their response. When the last session ends the io_context runs out of work and run() returns; a
// grace timer stops the io_context if sessions outlive shutdown_grace_s.

#include "server/http/transport.hpp"

#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "fhir/json/serialize.hpp"
#include "server/log.hpp"

namespace server::http {

response transport_error(unsigned status, fhir::issue_type type, std::string diagnostics, std::string message_id) {
  response r;
  r.status = status;
  r.set_header("Content-Type", "application/fhir+json; charset=utf-8");
  r.body = fhir::json::serialize(fhir::to_operation_outcome(
      {fhir::issue{fhir::severity::error, type, std::move(diagnostics), {}, std::move(message_id)}}));
  return r;
}

// TLS as the design asks: 1.2 at least, 1.3 preferred (negotiated whenever the client offers it), and
// for 1.2 only forward-secret AEAD suites (Mozilla's "intermediate" list).
std::unique_ptr<net::ssl::context> make_tls_context(const server_options& o) {
  if (o.tls_cert.empty()) return nullptr;
  auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 | net::ssl::context::no_sslv3 |
                   net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1 | net::ssl::context::no_compression);
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx->native_handle(),
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                              "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1)
    throw std::runtime_error("the TLS library refused the protocol or cipher settings");
  beast::error_code ec;
  ctx->use_certificate_chain_file(o.tls_cert, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot use the TLS certificate '{}': {}", o.tls_cert, ec.message()));
  ctx->use_private_key_file(o.tls_key, net::ssl::context::pem, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot use the TLS key '{}': {}", o.tls_key, ec.message()));
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    throw std::runtime_error("the TLS key does not match the certificate");
  return ctx;
}

void server::impl::do_accept() {
  acceptor.async_accept(net::make_strand(ioc), beast::bind_front_handler(&impl::on_accept, this));
}

void server::impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (stopping || !acceptor.is_open()) return;
  if (ec) {
    // Typically EMFILE: back off briefly rather than spin, then keep accepting.
    log::warning("accept failed: {}", ec.message());
    auto timer = std::make_shared<net::steady_timer>(control, std::chrono::milliseconds(100));
    timer->async_wait([this, timer](beast::error_code) { do_accept(); });
    return;
  }
  if (tls) start_tls_session(std::move(socket), *this, *tls);
  else start_plain_session(std::move(socket), *this);
  accept_when_below_ceiling();
}

// Connections beyond the limit are accepted to be told 503, but only up to a ceiling: beyond it the
// acceptor pauses (new connections wait in the kernel's backlog) until sessions end, so a flood cannot
// take the descriptors the database needs.
void server::impl::accept_when_below_ceiling() {
  if (live_sessions.load(std::memory_order_relaxed) < connection_limit + over_limit_ceiling) return do_accept();
  auto timer = std::make_shared<net::steady_timer>(control, std::chrono::milliseconds(50));
  timer->async_wait([this, timer](beast::error_code) {
    if (stopping || !acceptor.is_open()) return;
    accept_when_below_ceiling();
  });
}

void server::impl::begin_stop() {
  if (stopping.exchange(true)) return;
  log::info("stopping: finishing in-flight requests");
  beast::error_code ignored;
  acceptor.close(ignored);
  signals.cancel(ignored);
  std::vector<std::shared_ptr<session_base>> live;
  {
    std::lock_guard lock(sessions_mutex);
    for (auto& weak : sessions)
      if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live) s->request_close();
  if (!live.empty()) {
    grace_timer.expires_after(std::chrono::seconds(options.shutdown_grace_s));
    grace_timer.async_wait([this](beast::error_code ec) {
      if (ec) return;  // cancelled: every session ended in time
      log::warning("stopping: grace period over, closing remaining connections");
      ioc.stop();
    });
  }
}

void server::impl::wait_for_signals() {
  signals.async_wait([this](beast::error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP && options.on_hangup) {
      options.on_hangup();
      return wait_for_signals();
    }
    begin_stop();
  });
}

std::list<std::weak_ptr<session_base>>::iterator server::impl::register_session(const std::shared_ptr<session_base>& s) {
  std::lock_guard lock(sessions_mutex);
  live_sessions.fetch_add(1, std::memory_order_relaxed);
  return sessions.insert(sessions.end(), s);
}

std::size_t server::impl::default_connection_limit() {
  // Kept for everything but client connections: up to 32 reader connections (a database and a WAL file
  // each), the writer, the checkpointer, epoll, logs, TLS, and over-limit connections being answered.
  constexpr rlim_t reserve = 256;
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == RLIM_INFINITY) return 10000;
  return static_cast<std::size_t>(std::max<rlim_t>(16, files.rlim_cur > reserve ? files.rlim_cur - reserve : 16));
}

response overloaded(std::string_view why) {
  response r = transport_error(503, fhir::issue_type::transient, fmt::format("The server is overloaded ({}); retry later", why),
                               "server-overloaded");
  r.set_header("Retry-After", "1");
  return r;
}

void server::impl::session_ended(std::list<std::weak_ptr<session_base>>::iterator registration) {
  bool last = false;
  {
    std::lock_guard lock(sessions_mutex);
    sessions.erase(registration);
    live_sessions.fetch_sub(1, std::memory_order_relaxed);
    last = sessions.empty();
  }
  if (last && stopping) net::post(control, [this] { grace_timer.cancel(); });
}

server::server(server_options options, handler handle) : impl_(std::make_unique<impl>(std::move(options), std::move(handle))) {}

server::~server() {
  impl_->workers.join();
}

void server::listen() {
  auto& i = *impl_;
  beast::error_code ec;
  auto address = net::ip::make_address(i.options.host, ec);
  if (ec) throw std::runtime_error(fmt::format("invalid listen address '{}': {}", i.options.host, ec.message()));
  tcp::endpoint endpoint(address, i.options.port);
  i.acceptor.open(endpoint.protocol(), ec);
  if (!ec) i.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(endpoint, ec);
  if (!ec) i.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}", i.options.host, i.options.port, ec.message()));
}

std::uint16_t server::port() const { return impl_->acceptor.local_endpoint().port(); }

void server::run() {
  auto& i = *impl_;
  if (i.options.handle_signals) {
    i.signals.add(SIGINT);
    i.signals.add(SIGTERM);
    if (i.options.on_hangup) i.signals.add(SIGHUP);
    i.wait_for_signals();
  }
  i.do_accept();
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < i.io_threads; ++t)
    threads.emplace_back([&i] {
      pthread_setname_np(pthread_self(), "fhir-io");  // shown by top -H, perf and gdb (the main thread keeps its name)
      i.ioc.run();
    });
  i.ioc.run();
  for (auto& t : threads) t.join();
  i.workers.join();
}

void server::stop() {
  net::post(impl_->control, [i = impl_.get()] { i->begin_stop(); });
}

}  // namespace server::http
