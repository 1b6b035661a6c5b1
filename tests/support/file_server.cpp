#include "tests/support/file_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace fhir::testing {

file_server::file_server() {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) throw std::runtime_error("file_server: socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || ::listen(listener_, 16) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw std::runtime_error("file_server: bind");
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { run(); });
}

file_server::~file_server() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    held_.clear();
  }
  released_.notify_all();
  thread_.join();
  ::close(listener_);
}

std::string file_server::origin() const { return "http://127.0.0.1:" + std::to_string(port_); }

void file_server::serve(const std::string& path, std::string body) {
  std::lock_guard lock(mutex_);
  bodies_[path] = std::move(body);
}

void file_server::redirect(const std::string& path, std::string location) {
  std::lock_guard lock(mutex_);
  redirects_[path] = std::move(location);
}

void file_server::hold(const std::string& path) {
  std::lock_guard lock(mutex_);
  held_ = path;
}

void file_server::release() {
  {
    std::lock_guard lock(mutex_);
    held_.clear();
  }
  released_.notify_all();
}

int file_server::requests(const std::string& path) const {
  std::lock_guard lock(mutex_);
  auto it = requests_.find(path);
  return it == requests_.end() ? 0 : it->second;
}

void file_server::run() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    pollfd ready{.fd = listener_, .events = POLLIN, .revents = 0};
    if (::poll(&ready, 1, 50) <= 0) continue;
    int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    answer(connection);
    ::close(connection);
  }
}

void file_server::answer(int connection) {
  std::string request;
  char buffer[4096];
  while (request.find("\r\n\r\n") == std::string::npos) {
    pollfd readable{.fd = connection, .events = POLLIN, .revents = 0};
    if (::poll(&readable, 1, 5000) <= 0) return;
    ssize_t n = ::recv(connection, buffer, sizeof(buffer), 0);
    if (n <= 0) return;
    request.append(buffer, static_cast<std::size_t>(n));
  }
  std::size_t start = request.find(' ') + 1;
  std::string path = request.substr(start, request.find(' ', start) - start);
  std::string head, body;
  {
    std::unique_lock lock(mutex_);
    ++requests_[path];
    released_.wait(lock, [&] { return stopping_ || held_ != path; });
    if (auto r = redirects_.find(path); r != redirects_.end()) {
      head = "HTTP/1.1 302 Found\r\nLocation: " + r->second + "\r\n";
    } else if (auto b = bodies_.find(path); b != bodies_.end()) {
      head = "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+ndjson\r\n";
      body = b->second;
    } else {
      head = "HTTP/1.1 404 Not Found\r\n";
    }
  }
  std::string reply = head + "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  std::size_t sent = 0;
  while (sent < reply.size()) {
    ssize_t n = ::send(connection, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace fhir::testing
