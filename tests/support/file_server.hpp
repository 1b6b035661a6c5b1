#pragma once
// A small HTTP/1.1 file server on 127.0.0.1 for tests of what the server fetches ($import): it serves
// the bodies it is given by path (404 for others), answers a redirect where asked, can hold a path's
// answer until released, and counts the requests of each path. One connection at a time, each closed
// after its answer.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace fhir::testing {

class file_server {
 public:
  file_server();   // listens on an ephemeral port
  ~file_server();  // stops (releasing any held answer) and joins
  file_server(const file_server&) = delete;
  file_server& operator=(const file_server&) = delete;

  // "http://127.0.0.1:PORT"
  std::string origin() const;

  void serve(const std::string& path, std::string body);
  void redirect(const std::string& path, std::string location);
  // Requests of `path` wait (the connection open, nothing sent) until release().
  void hold(const std::string& path);
  void release();
  // How many requests asked for `path`.
  int requests(const std::string& path) const;

 private:
  void run();
  void answer(int connection);

  int listener_ = -1;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable released_;
  std::map<std::string, std::string> bodies_, redirects_;
  std::map<std::string, int> requests_;
  std::string held_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fhir::testing
