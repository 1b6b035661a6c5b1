// The plain-TCP instantiation of the session template (its own translation unit: see transport.hpp).
#include "server/http/session.hpp"

namespace server::http {

void start_plain_session(tcp::socket&& socket, server::impl& owner) { start_session<plain_stream>(std::move(socket), owner); }

}  // namespace server::http
