#pragma once
// HTTP messages as the rest of the server sees them: plain structs, no Beast types, so that routing and
// interactions compile fast and can be tested without a network.

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

struct response {
  unsigned status = 200;
  std::vector<header> headers;
  std::string body;

  // Replaces any header named `name`.
  void set_header(std::string_view name, std::string value);
  std::optional<std::string_view> header_value(std::string_view name) const;
};

// The reason phrase of a status code ("Not Found").
std::string_view reason_phrase(unsigned status);

}  // namespace server::http
