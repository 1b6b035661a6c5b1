// The TLS instantiation of the session template (its own translation unit: see transport.hpp).
#include "server/http/session.hpp"

namespace server::http {

void start_tls_session(tcp::socket&& socket, server::impl& owner, net::ssl::context& tls) {
  start_session<tls_stream>(std::move(socket), owner, tls);
}

}  // namespace server::http
