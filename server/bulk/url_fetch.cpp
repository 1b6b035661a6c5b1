#include "server/bulk/url_fetch.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>

#include <fmt/format.h>

namespace server::bulk {
namespace {

// The server could not fetch (its own disk, libcurl, its CA file): the job's failure, logged, never shown.
fhir::error fetch_failed(std::string why) {
  return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, std::move(why), "fetch-failed");
}

// The source did not give the file: the input's problem, told to the client (no local detail in it).
fhir::error source_failed(std::string why) {
  return fhir::error(fhir::error_kind::unprocessable, fhir::issue_type::transient, std::move(why), "fetch-source-failed");
}

// libcurl's failures that are the server's, not the source's.
bool local_failure(CURLcode code) {
  return code == CURLE_FAILED_INIT || code == CURLE_OUT_OF_MEMORY || code == CURLE_SSL_CACERT_BADFILE || code == CURLE_WRITE_ERROR ||
         code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_SSL_ENGINE_INITFAILED;
}

// curl_global_init is not thread-safe: once, before the first transfer.
void initialise_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct transfer {
  std::FILE* file = nullptr;
  std::uintmax_t bytes = 0;
  std::uintmax_t max_bytes = 0;
  bool too_large = false;
  bool write_failed = false;
  int write_errno = 0;
  const std::atomic<bool>* cancelled = nullptr;
};

std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<transfer*>(user);
  std::size_t n = size * count;
  if (t->bytes + n > t->max_bytes) {
    t->too_large = true;
    return 0;  // stops the transfer (CURLE_WRITE_ERROR)
  }
  if (std::fwrite(data, 1, n, t->file) != n) {
    t->write_failed = true;
    t->write_errno = errno;
    return 0;
  }
  t->bytes += n;
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<transfer*>(user);
  return t->cancelled && t->cancelled->load(std::memory_order_relaxed) ? 1 : 0;  // non-zero aborts
}

struct curl_deleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct slist_deleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

fhir::result<std::uintmax_t> fetch_to_file(const std::string& url, const std::string& path, const fetch_limits& limits,
                                           const std::atomic<bool>* cancelled) {
  initialise_curl();
  // Declared before the handle, so that they outlive it (curl_easy_cleanup may still use them).
  char detail[CURL_ERROR_SIZE] = {};
  std::unique_ptr<curl_slist, slist_deleter> headers(curl_slist_append(nullptr, "Accept: application/fhir+ndjson, application/ndjson"));
  std::string partial = path + ".part";
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fetch_failed(fmt::format("cannot write {}: {}", partial, std::strerror(errno)));
  transfer t{.file = ::fdopen(fd, "wb"), .max_bytes = limits.max_bytes, .cancelled = cancelled};
  if (!t.file) {
    ::close(fd);
    return fetch_failed(fmt::format("cannot write {}: {}", partial, std::strerror(errno)));
  }
  std::unique_ptr<CURL, curl_deleter> curl(curl_easy_init());
  if (!curl) {
    std::fclose(t.file);
    return fetch_failed("cannot start a transfer (libcurl)");
  }
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "shared-care-record-fhir-server ($import)");
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // any encoding libcurl can decode (gzip)
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, limits.connect_timeout_s);
  // Slower than 1 KiB/s for the whole stall time fails (a source trickling bytes would hold the one import worker).
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, limits.stall_timeout_s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, limits.total_timeout_s);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!limits.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, limits.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);

  CURLcode code = curl_easy_perform(c);
  bool closed = std::fclose(t.file) == 0;
  int close_errno = errno;
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  auto fail = [&](fhir::error why) {
    std::error_code ec;
    std::filesystem::remove(partial, ec);
    return why;
  };
  if (t.too_large) return fail(source_failed(fmt::format("the file is larger than {} bytes", limits.max_bytes)));
  if (t.write_failed || !closed)
    return fail(fetch_failed(fmt::format("cannot write {}: {}", partial, std::strerror(t.write_failed ? t.write_errno : close_errno))));
  if (code == CURLE_ABORTED_BY_CALLBACK)
    return fail(fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, "the fetch was cancelled", "fetch-cancelled"));
  std::string said = detail[0] ? detail : curl_easy_strerror(code);
  if (code != CURLE_OK && local_failure(code)) return fail(fetch_failed(fmt::format("fetching {}: {}", url, said)));
  if (code != CURLE_OK) return fail(source_failed(said));
  if (status != 200) return fail(source_failed(fmt::format("answered HTTP {} (expected 200; redirects are not followed)", status)));
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  if (ec) return fail(fetch_failed(fmt::format("cannot write {}: {}", path, ec.message())));
  return t.bytes;
}

}  // namespace server::bulk
