#pragma once
// One connection's session, over plain TCP or TLS (one template: TLS adds the handshake and close_notify).
// Internal to the HTTP transport; see http_server.cpp for the session states.

#include <array>
#include <list>
#include <optional>

#include "fhir/time.hpp"
#include "server/http/response_body.hpp"
#include "server/http/transport.hpp"
#include "server/log.hpp"

namespace server::http {

inline constexpr std::string_view server_name = "shcr-fhir";

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
    over_limit_ = owner_.over_connection_limit();
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

  // Liveness, readiness and metrics are answered even beyond the connection limit: an orchestrator must
  // not take an overloaded server for a dead one.
  static bool is_probe(std::string_view target) {
    std::string_view path = target.substr(0, target.find('?'));
    return path == "/health" || path == "/ready" || path == "/metrics";
  }
  beast::tcp_stream& tcp_() { return beast::get_lowest_layer(stream_); }

  // The TLS handshake shares the header's deadline: a client that never completes it is cut off.
  void do_handshake() {
    tcp_().expires_after(over_limit_ ? std::chrono::seconds(1) : std::chrono::seconds(owner_.options.header_timeout_s));
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
    // One deadline for the whole header, not per byte: a client sending a byte a second is cut off. A
    // connection beyond the limit gets a short one: it is only to be told 503.
    tcp_().expires_after(over_limit_ ? std::chrono::seconds(1) : std::chrono::seconds(owner_.options.header_timeout_s));
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
    if (over_limit_ && !is_probe(header.target())) return send(overloaded("too many connections"), true);
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

    // Shed load rather than queue without bound: the worker pool's queue is the one place requests wait,
    // and at most pending_limit wait there.
    if (owner_.pending.fetch_add(1, std::memory_order_relaxed) >= owner_.pending_limit) {
      owner_.pending.fetch_sub(1, std::memory_order_relaxed);
      return send(overloaded("too many requests waiting"), !keep_alive_);
    }
    auto guard = net::make_work_guard(owner_.ioc);  // run() must not return while a handler is in flight
    net::post(owner_.workers, [self = this->shared_from_this(), req = std::move(req), guard = std::move(guard)]() mutable {
      self->owner_.pending.fetch_sub(1, std::memory_order_relaxed);  // no longer waiting
      name_worker_thread();
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
    if (!res.file.empty()) return send_file(std::move(res), close_after);
    auto msg = make_message(res, close_after);
    if (head_)
      msg->content_length(res.body.size());  // what a GET would send, and no body
    else {
      msg->body().text = std::move(res.body);
      msg->prepare_payload();
    }
    write(std::move(msg), close_after);
  }

  // A body read from disk as it is sent (bulk export files can be larger than memory should hold).
  void send_file(response res, bool close_after) {
    bhttp::file_body::value_type file;
    beast::error_code ec;
    file.open(res.file.c_str(), beast::file_mode::scan, ec);
    if (ec) {
      log::error("cannot open {} to send it: {}", res.file, ec.message());
      return send(transport_error(404, fhir::issue_type::not_found, "The file is no longer available", "file-unavailable"), close_after);
    }
    std::uint64_t size = file.size();
    auto msg = make_message(res, close_after);
    if (head_) {
      msg->content_length(size);
      return write(std::move(msg), close_after);
    }
    msg->body().file = std::move(file);
    msg->prepare_payload();
    // The write deadline grows with the file (at least 1 MiB/s), so a large download is not cut off.
    write(std::move(msg), close_after, static_cast<unsigned>(size >> 20));
  }

  using message = bhttp::response<response_body>;

  std::shared_ptr<message> make_message(const response& res, bool close_after) {
    auto msg = std::make_shared<message>(static_cast<bhttp::status>(res.status), 11);
    msg->set(bhttp::field::server, server_name);
    msg->set(bhttp::field::date, fhir::format_http_date(fhir::now_ms()));
    for (const header& h : res.headers) msg->insert(h.name, h.value);
    msg->keep_alive(!close_after);
    return msg;
  }

  void write(std::shared_ptr<message> msg, bool close_after, unsigned extra_seconds = 0) {
    tcp_().expires_after(std::chrono::seconds(owner_.options.write_timeout_s + extra_seconds));
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
  bool over_limit_ = false;  // accepted beyond the connection limit: answers 503 and closes
  bool head_ = false;
  bool keep_alive_ = true;
  bool handshake_done_ = false;
  bool tls_closing_ = false;
  std::array<char, 8192> discard_{};
  std::size_t discarded_ = 0;
};

// Creates, registers and starts a session on `socket`.
template <typename Stream, typename... TlsContext>
void start_session(tcp::socket&& socket, server::impl& owner, TlsContext&... tls) {
  auto s = std::make_shared<session<Stream>>(std::move(socket), owner, tls...);
  s->start(owner.register_session(s));
}

}  // namespace server::http
