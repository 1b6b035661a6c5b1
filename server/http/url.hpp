#pragma once
// Request targets: decoded path segments and query parameters (Boost.URL), and percent-encoding for the
// URLs the server writes (Location, Bundle links).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/result.hpp"

namespace server::http {

using query_params = std::vector<std::pair<std::string, std::string>>;

struct target {
  std::vector<std::string> segments;  // percent-decoded; a trailing empty segment ("/a/") is dropped
  query_params params;                // percent-decoded, in order; '+' is kept as '+', not a space
};

// Parses an origin-form request target ("/fhir/Patient?name=x"). Fails (invalid) when it is not one.
fhir::result<target> parse_target(std::string_view text);

// Percent-encodes a path segment or query component (RFC 3986 unreserved characters are kept).
std::string percent_encode(std::string_view text);

// "a=1&b=x%20y": the parameters, encoded.
std::string encode_query(const query_params& params);

// A server's base URL (--base-url): an absolute http(s) URL with a host and no user, query or fragment,
// with its scheme in lower case and no trailing slash (references are compared with it exactly, and the
// index's upgrade passes find references to reindex by their "http" scheme). nullopt when not one.
std::optional<std::string> base_url_of(std::string_view text);

}  // namespace server::http
