#include "tests/support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <stdexcept>

namespace fhir::testing {
namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

std::string http_reply::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

http_connection::http_connection(std::uint16_t port, int timeout_ms, const tls_client* tls) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd_);
    fd_ = -1;
    throw std::runtime_error("connect failed");
  }
  if (!tls) return;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ssl_ctx_ = ctx;
  if (tls->max_version) SSL_CTX_set_max_proto_version(ctx, tls->max_version);
  else SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_security_level(ctx, 0);  // let the test offer old protocols, to see the server refuse them
  SSL_CTX_load_verify_locations(ctx, tls->ca_file.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(ctx);
  ssl_ = ssl;
  SSL_set_fd(ssl, fd_);
  SSL_set1_host(ssl, "127.0.0.1");
  if (SSL_connect(ssl) != 1) {
    // The destructor does not run for a constructor that throws: release everything here.
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ssl_ = ssl_ctx_ = nullptr;
    close(fd_);
    fd_ = -1;
    throw std::runtime_error("TLS handshake failed");
  }
}

http_connection::~http_connection() {
  if (ssl_) SSL_free(static_cast<SSL*>(ssl_));
  if (ssl_ctx_) SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
  if (fd_ >= 0) close(fd_);
}

std::string http_connection::tls_version() const { return ssl_ ? SSL_get_version(static_cast<SSL*>(ssl_)) : ""; }

void http_connection::send_raw(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ssl_ ? SSL_write(static_cast<SSL*>(ssl_), bytes.data(), static_cast<int>(bytes.size()))
                     : send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed");
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool http_connection::fill() {
  char buf[16384];
  ssize_t n = ssl_ ? SSL_read(static_cast<SSL*>(ssl_), buf, sizeof buf) : recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return false;
  buffer_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::optional<http_reply> http_connection::read_reply(bool head) {
  std::size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) return std::nullopt;
  std::string head_text = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);

  http_reply reply;
  std::size_t line_end = head_text.find("\r\n");
  std::string status_line = head_text.substr(0, line_end);
  if (status_line.size() < 12) return std::nullopt;
  reply.status = std::stoi(status_line.substr(9, 3));
  std::size_t pos = line_end == std::string::npos ? head_text.size() : line_end + 2;
  while (pos < head_text.size()) {
    std::size_t next = head_text.find("\r\n", pos);
    std::string line = head_text.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      reply.headers.emplace_back(line.substr(0, colon), value);
    }
    if (next == std::string::npos) break;
    pos = next + 2;
  }
  if (reply.status == 100) return read_reply(head);  // interim response
  std::string length = reply.header("Content-Length");
  std::size_t n = head || length.empty() ? 0 : std::stoul(length);
  while (buffer_.size() < n)
    if (!fill()) return std::nullopt;
  reply.body = buffer_.substr(0, n);
  buffer_.erase(0, n);
  return reply;
}

http_reply http_connection::request(std::string_view method, std::string_view target, std::string_view body,
                                    const header_list& headers) {
  std::string text = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    text += k + ": " + v + "\r\n";
    has_type |= iequals(k, "Content-Type");
  }
  if (!body.empty()) {
    if (!has_type) text += "Content-Type: application/fhir+json\r\n";
    text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  text += "\r\n";
  text += body;
  send_raw(text);
  auto reply = read_reply(method == "HEAD");
  if (!reply) throw std::runtime_error("no reply to " + std::string(method) + " " + std::string(target));
  return *reply;
}

bool http_connection::closed_within(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (poll(&p, 1, std::max(1, left)) <= 0) continue;
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
  return false;
}

http_reply http_request(std::uint16_t port, std::string_view method, std::string_view target, std::string_view body,
                        const header_list& headers, const tls_client* tls) {
  http_connection c(port, 30000, tls);
  return c.request(method, target, body, headers);
}

}  // namespace fhir::testing
