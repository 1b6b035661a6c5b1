#pragma once
// HTTP messages as the rest of the server sees them: plain structs, no Beast types, so that routing and
// interactions compile fast and can be tested without a network.

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace server::http {

struct header {
  std::string name;
  std::string value;
};

// Case-insensitive ASCII comparison, as HTTP field names require.
bool iequals(std::string_view a, std::string_view b);

struct request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // origin-form: "/fhir/Patient/1?_pretty=true"
  std::vector<header> headers;
  std::string body;
  std::string remote_address;

  // The first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> header_value(std::string_view name) const;
};

class completion;

struct response {
  unsigned status = 200;
  std::vector<header> headers;
  std::string body;
  // When set, the body is this file's content, sent from disk as it is read (bulk export files), and
  // `body` is ignored. A file that cannot be opened is answered 404.
  std::string file;
  // When set, the response may be sent only once this completes (its audit record has committed); the
  // completion may replace it (503 when the record could not be written). See completion below.
  std::shared_ptr<completion> after;

  // Replaces any header named `name`.
  void set_header(std::string_view name, std::string value);
  std::optional<std::string_view> header_value(std::string_view name) const;
};

// Something a response waits for before it is sent, and that happens on another thread (a group
// commit). The transport registers a callback and holds no thread meanwhile; callers that may block
// use settle(). complete() and on_complete() are each called once, in either order, from any threads.
class completion {
 public:
  using callback = std::function<void(std::optional<response> replacement)>;
  // nullopt: send the response as it is.
  void complete(std::optional<response> replacement);
  // Runs `then` when complete (at once, on this thread, if it already is; else on complete()'s thread).
  void on_complete(callback then);

 private:
  std::mutex mutex_;
  bool completed_ = false;
  std::optional<response> replacement_;
  callback then_;
};

// Waits for `r.after` (if any) and applies its replacement.
void settle(response& r);

// The reason phrase of a status code ("Not Found").
std::string_view reason_phrase(unsigned status);

}  // namespace server::http
