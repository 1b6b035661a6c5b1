#pragma once
// Fetching a file over HTTP(S) into a local file (libcurl): what $import reads its NDJSON inputs with.
// Certificates are verified (the system's CAs, or the operator's CA file), redirects are not followed
// (a redirect could lead outside the allowed sources: it is reported as the answer it is), only http
// and https are spoken, and a transfer that stalls, grows beyond its limit or is cancelled stops.

#include <atomic>
#include <cstdint>
#include <string>

#include "fhir/result.hpp"

namespace server::bulk {

struct fetch_limits {
  std::uintmax_t max_bytes = std::uintmax_t{4} << 30;  // a larger file fails the fetch
  long connect_timeout_s = 30;
  long stall_timeout_s = 120;  // slower than 1 KiB/s for this long: the fetch fails
  long total_timeout_s = 6 * 3600;  // the longest one fetch may take
  std::string ca_file;         // trusted CAs (PEM) instead of the system's; empty: the system's
};

// Fetches `url` into `path` (created 0600; replaced only when the whole body arrived: written to
// `path`.part first). Returns the bytes fetched. Fails `unprocessable` when the source did not give the
// file (the status it answered, the network or TLS error, too large): a reason fit for the client; and
// `fault` when the server could not (its disk, libcurl, its CA file) or the fetch was cancelled.
fhir::result<std::uintmax_t> fetch_to_file(const std::string& url, const std::string& path, const fetch_limits& limits,
                                           const std::atomic<bool>* cancelled);

}  // namespace server::bulk
