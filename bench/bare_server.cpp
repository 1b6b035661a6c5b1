// bare-http-server: the baseline for the HTTP benchmark. A Boost.Beast server that answers every request
// with the same fixed body, on the same number of threads as fhir-server, with keep-alive. Comparing
// fhir-server's read rate with this one's tells how much of the HTTP layer's speed the server keeps.
//
//   bare-http-server PORT BODY_BYTES [THREADS]

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, const std::string& body) : stream_(std::move(socket)), body_(body) {}
  void run() { net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); }); }

 private:
  void read() {
    request_ = {};
    http::async_read(stream_, buffer_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      self->write();
    });
  }
  void write() {
    auto res = std::make_shared<http::response<http::string_body>>(http::status::ok, 11);
    res->set(http::field::content_type, "application/fhir+json; charset=utf-8");
    res->keep_alive(request_.keep_alive());
    res->body() = body_;
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec || !res->keep_alive()) return;
      self->read();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  const std::string& body_;
};

void accept(tcp::acceptor& acceptor, net::io_context& ioc, const std::string& body) {
  acceptor.async_accept(net::make_strand(ioc), [&](beast::error_code ec, tcp::socket socket) {
    if (!ec) std::make_shared<session>(std::move(socket), body)->run();
    accept(acceptor, ioc, body);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: bare-http-server PORT BODY_BYTES [THREADS]\n";
    return 2;
  }
  auto port = static_cast<unsigned short>(std::stoi(argv[1]));
  std::string body(static_cast<std::size_t>(std::stoul(argv[2])), 'x');
  unsigned threads = argc > 3 ? static_cast<unsigned>(std::stoi(argv[3])) : std::thread::hardware_concurrency();
  net::io_context ioc(static_cast<int>(threads));
  tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  accept(acceptor, ioc, body);
  std::cout << "listening on http://127.0.0.1:" << port << "/" << std::endl;
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
}
