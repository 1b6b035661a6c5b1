#pragma once
// A deliberately small blocking HTTP/1.1 client over a TCP socket, for integration tests: it lets tests
// send exactly the bytes they want (including malformed ones) and read exactly what comes back.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fhir::testing {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_reply {
  int status = 0;
  header_list headers;
  std::string body;
  std::string header(std::string_view name) const;  // case-insensitive; empty when absent
};

// TLS for a connection: the server certificate is verified against `ca_file` (a self-signed test
// certificate is its own CA); `max_version` caps the protocol (e.g. TLS 1.1, to see it refused).
struct tls_client {
  std::string ca_file;
  int max_version = 0;  // an OpenSSL TLS*_VERSION constant; 0: the library's newest
};

class http_connection {
 public:
  // Connects to 127.0.0.1:port; reads time out after `timeout_ms`. With `tls`, completes a TLS handshake
  // first (throws when it fails).
  explicit http_connection(std::uint16_t port, int timeout_ms = 30000, const tls_client* tls = nullptr);
  ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  // Sends a request (Host and Content-Length added) and reads the reply. Throws on connection failure.
  http_reply request(std::string_view method, std::string_view target, std::string_view body = {},
                     const header_list& headers = {});

  void send_raw(std::string_view bytes);
  // Reads one reply; nullopt when the server closed the connection (or the read timed out) first.
  std::optional<http_reply> read_reply(bool head = false);
  // True when the server closes the connection within `timeout_ms` (reading and discarding data).
  bool closed_within(int timeout_ms);
  // The negotiated protocol of a TLS connection ("TLSv1.3"); empty for plain TCP.
  std::string tls_version() const;

 private:
  bool fill();  // reads more into buffer_; false on EOF or error

  int fd_ = -1;
  void* ssl_ctx_ = nullptr;  // SSL_CTX* and SSL* (OpenSSL types kept out of this header)
  void* ssl_ = nullptr;
  std::string buffer_;
};

// One request on a fresh connection.
http_reply http_request(std::uint16_t port, std::string_view method, std::string_view target,
                        std::string_view body = {}, const header_list& headers = {}, const tls_client* tls = nullptr);

}  // namespace fhir::testing
