// The Beast transport. Structure after Beast's advanced server examples: a listener accepting onto a strand
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

#include "server/http/http_server.hpp"

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

#include <array>
#include <atomic>
#include <list>
#include <mutex>
#include <thread>

#include "fhir/json/serialize.hpp"
#include "fhir/outcome.hpp"
#include "fhir/time.hpp"
#include "server/log.hpp"

namespace server::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::string_view server_name = "shcr-fhir";

// A transport-level error as an OperationOutcome response (the request never reached the router).
response transport_error(unsigned status, fhir::issue_type type, std::string diagnostics, std::string message_id) {
  response r;
  r.status = status;
  r.set_header("Content-Type", "application/fhir+json; charset=utf-8");
  r.body = fhir::json::serialize(fhir::to_operation_outcome(
      {fhir::issue{fhir::severity::error, type, std::move(diagnostics), {}, std::move(message_id)}}));
  return r;
}

}  // namespace

class session_base;

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
        workers(options.workers ? options.workers : std::max(16u, 8 * std::max(1u, std::thread::hardware_concurrency()))),
        tls(make_tls_context(options)) {}

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void begin_stop();
  void wait_for_signals();
  void session_ended(std::list<std::weak_ptr<session_base>>::iterator registration);

  server_options options;
  handler handle;
  unsigned io_threads;
  // Declared before the io_context: sessions destroyed with it still deregister here.
  std::mutex sessions_mutex;
  std::list<std::weak_ptr<session_base>> sessions;  // guarded by sessions_mutex
  std::atomic<bool> stopping{false};

  net::io_context ioc;
  // The acceptor, the signal set and the grace timer are only touched on this strand: accepting,
  // stopping and the last session's exit may otherwise race on several network threads.
  net::strand<net::io_context::executor_type> control;
  tcp::acceptor acceptor;
  net::signal_set signals;
  net::steady_timer grace_timer;
  net::thread_pool workers;
  std::unique_ptr<net::ssl::context> tls;  // null: plain HTTP
};

// What the server needs of a session whatever its stream: closing it on a graceful stop.
class session_base {
 public:
  virtual ~session_base() = default;
  virtual void request_close() = 0;
};

using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// One connection, over plain TCP or TLS (the same code path; TLS adds the handshake).
template <typename Stream>
class session : public session_base, public std::enable_shared_from_this<session<Stream>> {
  static constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

 public:
  template <typename... TlsContext>
  session(tcp::socket&& socket, server::impl& owner, TlsContext&... tls) : stream_(std::move(socket), tls...), owner_(owner) {
    beast::error_code ec;
    auto endpoint = socket_().remote_endpoint(ec);
    if (!ec) remote_ = endpoint.address().to_string();
  }

  ~session() { owner_.session_ended(registration_); }

  void start(std::list<std::weak_ptr<session_base>>::iterator registration) {
    registration_ = registration;
    if constexpr (is_tls)
      net::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::do_handshake, this->shared_from_this()));
    else
      net::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::do_read_header, this->shared_from_this()));
  }

  // Thread-safe: closes the connection on its strand if no request is in progress (graceful stop).
  void request_close() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (!self->busy_) self->close();
    });
  }

 private:
  tcp::socket& socket_() { return beast::get_lowest_layer(stream_).socket(); }
  beast::tcp_stream& tcp_() { return beast::get_lowest_layer(stream_); }

  // The TLS handshake shares the header's deadline: a client that never completes it is cut off.
  void do_handshake() {
    tcp_().expires_after(std::chrono::seconds(owner_.options.header_timeout_s));
    stream_.async_handshake(net::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return self->close();
      self->handshake_done_ = true;
      self->do_read_header();
    });
  }

  void do_read_header() {
    busy_ = false;
    head_ = false;
    keep_alive_ = true;
    if (owner_.stopping) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(owner_.options.max_header));
    parser_->body_limit(owner_.options.max_body);
    // One deadline for the whole header, not per byte: a client sending a byte a second is cut off.
    tcp_().expires_after(std::chrono::seconds(owner_.options.header_timeout_s));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&session::on_read_header, this->shared_from_this()));
  }

  void on_read_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    busy_ = true;
    const auto& header = parser_->get();
    head_ = header.method() == bhttp::verb::head;  // early error responses must know it too
    keep_alive_ = header.keep_alive();
    if (auto length = parser_->content_length(); length && *length > owner_.options.max_body)
      return send(too_large(), true);
    if (parser_->is_done()) return dispatch_request();
    auto expect = header[bhttp::field::expect];
    if (!expect.empty()) {
      if (!iequals(expect, "100-continue"))
        return send(transport_error(417, fhir::issue_type::not_supported, "Only 'Expect: 100-continue' is supported",
                                    "http-expect"),
                    true);
      static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
      tcp_().expires_after(std::chrono::seconds(owner_.options.write_timeout_s));
      return net::async_write(stream_, net::buffer(continue_line.data(), continue_line.size()),
                              beast::bind_front_handler(&session::on_continue_sent, this->shared_from_this()));
    }
    do_read_body();
  }

  void on_continue_sent(beast::error_code ec, std::size_t) {
    if (ec) return close();
    do_read_body();
  }

  void do_read_body() {
    tcp_().expires_after(std::chrono::seconds(owner_.options.body_timeout_s));
    bhttp::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&session::on_read_body, this->shared_from_this()));
  }

  void on_read_body(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    dispatch_request();
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return send(too_large(), true);
    if (ec == bhttp::error::header_limit)
      return send(transport_error(431, fhir::issue_type::too_long,
                                  fmt::format("The request line and headers exceed {} bytes", owner_.options.max_header),
                                  "http-header-too-large"),
                  true);
    // A malformed request gets a 400; a connection that ends, times out or fails is just closed.
    bool malformed = ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
                     ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
    if (!malformed) return close();
    send(transport_error(400, fhir::issue_type::structure, fmt::format("Malformed HTTP request: {}", ec.message()),
                         "http-malformed"),
         true);
  }

  response too_large() const {
    return transport_error(413, fhir::issue_type::too_long,
                           fmt::format("The request body exceeds the limit of {} bytes", owner_.options.max_body),
                           "http-body-too-large");
  }

  void dispatch_request() {
    busy_ = true;
    tcp_().expires_never();  // the handler may take a while; the write gets its own deadline
    auto message = parser_->release();
    parser_.reset();

    auto req = std::make_shared<request>();
    req->method = std::string(message.method_string());
    req->target = std::string(message.target());
    req->remote_address = remote_;
    req->headers.reserve(static_cast<std::size_t>(std::distance(message.begin(), message.end())));
    for (const auto& field : message) req->headers.push_back(header{std::string(field.name_string()), std::string(field.value())});
    req->body = std::move(message.body());

    // Requests that may wait for the database writer (writes) run on the worker pool so the network
    // threads stay free. GET and HEAD never wait for it (a read's audit record commits asynchronously,
    // see respond), so they run right here, saving two thread hand-offs (reads_on_network_threads).
    if ((message.method() == bhttp::verb::get || head_) && owner_.options.reads_on_network_threads)
    {
      response res = invoke(*req);
      if (!res.after) return send(std::move(res), !keep_alive_);  // already on the connection's strand
      return respond(std::move(res));
    }

    auto guard = net::make_work_guard(owner_.ioc);  // run() must not return while a handler is in flight
    net::post(owner_.workers, [self = this->shared_from_this(), req = std::move(req), guard = std::move(guard)]() mutable {
      self->respond(self->invoke(*req));
    });
  }

  // Sends the handler's response on the connection's strand, from any thread; a response that waits for
  // something (its audit record's group commit: response::after) is sent when that completes, and no
  // thread waits meanwhile.
  void respond(response res) {
    auto guard = net::make_work_guard(owner_.ioc);  // run() must not return while a response is pending
    auto send_on_strand = [self = this->shared_from_this(), guard](response r) mutable {
      net::post(self->stream_.get_executor(), [self, r = std::move(r), guard = std::move(guard)]() mutable {
        self->send(std::move(r), !self->keep_alive_);
      });
    };
    if (!res.after) return send_on_strand(std::move(res));
    std::shared_ptr<completion> after = std::move(res.after);
    after->on_complete([send_on_strand, res = std::move(res)](std::optional<response> replacement) mutable {
      send_on_strand(replacement ? std::move(*replacement) : std::move(res));
    });
  }

  response invoke(const request& req) {
    try {
      return owner_.handle(req);
    } catch (const std::exception& e) {
      log::error("unhandled exception for {} {}: {}", req.method, req.target, e.what());
      return transport_error(500, fhir::issue_type::exception, "Internal server error", "internal-error");
    }
  }

  void send(response res, bool close_after) {
    close_after = close_after || owner_.stopping;
    if (head_) {
      auto msg = std::make_shared<bhttp::response<bhttp::empty_body>>(static_cast<bhttp::status>(res.status), 11);
      fill(*msg, res, close_after);
      msg->content_length(res.body.size());
      write(std::move(msg), close_after);
    } else {
      auto msg = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(res.status), 11);
      fill(*msg, res, close_after);
      msg->body() = std::move(res.body);
      msg->prepare_payload();
      write(std::move(msg), close_after);
    }
  }

  template <typename Message>
  void fill(Message& msg, const response& res, bool close_after) {
    msg.set(bhttp::field::server, server_name);
    msg.set(bhttp::field::date, fhir::format_http_date(fhir::now_ms()));
    for (const header& h : res.headers) msg.insert(h.name, h.value);
    msg.keep_alive(!close_after);
  }

  template <typename Message>
  void write(std::shared_ptr<Message> msg, bool close_after) {
    tcp_().expires_after(std::chrono::seconds(owner_.options.write_timeout_s));
    bhttp::async_write(stream_, *msg,
                       [self = this->shared_from_this(), msg, close_after](beast::error_code ec, std::size_t) {
                         self->on_write(close_after, ec);
                       });
  }

  void on_write(bool close_after, beast::error_code ec) {
    if (ec) return close();
    if (close_after) return linger_then_close();
    do_read_header();
  }

  // Closing a socket with unread request bytes makes the kernel send a reset, which can destroy the
  // response we just wrote before the client reads it (RFC 9112 section 9.6). So: stop sending, read
  // and discard what the client still sends for a short while (bounded in time and bytes), then close.
  void linger_then_close() {
    if constexpr (is_tls) return close();  // close_notify, then the client closes its side
    beast::error_code ignored;
    socket_().shutdown(tcp::socket::shutdown_send, ignored);
    tcp_().expires_after(std::chrono::seconds(2));
    discarded_ = 0;
    do_discard();
  }

  void do_discard() {
    stream_.async_read_some(net::buffer(discard_), [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
      self->discarded_ += n;
      constexpr std::size_t max_discard = 4 * 1024 * 1024;
      if (ec || self->discarded_ > max_discard) return self->close();
      self->do_discard();
    });
  }

  // TLS connections end with close_notify (bounded by a short deadline), so the client can tell the end
  // of the stream from a truncation.
  void close() {
    if constexpr (is_tls) {
      if (handshake_done_ && !tls_closing_) {
        tls_closing_ = true;
        tcp_().expires_after(std::chrono::seconds(2));
        return stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->close_tcp(); });
      }
    }
    close_tcp();
  }

  void close_tcp() {
    beast::error_code ignored;
    socket_().shutdown(tcp::socket::shutdown_send, ignored);
    tcp_().close();
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  server::impl& owner_;
  std::string remote_;
  std::list<std::weak_ptr<session_base>>::iterator registration_;
  bool busy_ = false;
  bool head_ = false;
  bool keep_alive_ = true;
  bool handshake_done_ = false;
  bool tls_closing_ = false;
  std::array<char, 8192> discard_{};
  std::size_t discarded_ = 0;
};

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
  auto register_and_start = [this](auto s) {
    std::list<std::weak_ptr<session_base>>::iterator registration;
    {
      std::lock_guard lock(sessions_mutex);
      registration = sessions.insert(sessions.end(), s);
    }
    s->start(registration);
  };
  if (tls) register_and_start(std::make_shared<session<tls_stream>>(std::move(socket), *this, *tls));
  else register_and_start(std::make_shared<session<plain_stream>>(std::move(socket), *this));
  do_accept();
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

void server::impl::session_ended(std::list<std::weak_ptr<session_base>>::iterator registration) {
  bool last = false;
  {
    std::lock_guard lock(sessions_mutex);
    sessions.erase(registration);
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
  for (unsigned t = 1; t < i.io_threads; ++t) threads.emplace_back([&i] { i.ioc.run(); });
  i.ioc.run();
  for (auto& t : threads) t.join();
  i.workers.join();
}

void server::stop() {
  net::post(impl_->control, [i = impl_.get()] { i->begin_stop(); });
}

}  // namespace server::http
