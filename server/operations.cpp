#include "server/operations.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "fhir/time.hpp"
#include "server/consent/break_glass.hpp"
#include "server/dashboard/assets.hpp"
#include "server/metrics.hpp"

namespace server {

namespace {

http::response json_answer(unsigned status, std::string body) {
  http::response r{.status = status, .headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}}, .body = std::move(body)};
  return r;
}

// Resident memory of this process, from /proc (0 where there is none).
std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return pages_resident * sysconf(_SC_PAGESIZE);
}

std::int64_t open_files() {
  std::error_code ec;
  std::int64_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) ++n;
  return n;
}

void gauge(std::string& out, std::string_view name, std::string_view help, double value, std::string_view type = "gauge") {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  append_sample(out, name, {}, value);
}

http::response render_metrics(const context& ctx) {
  std::string out;
  if (ctx.metrics) ctx.metrics->render(out);
  if (auto figures = ctx.store.statistics()) {
    gauge(out, "fhir_sqlite_database_bytes", "Size of the SQLite database file and its read trail.", static_cast<double>(figures->database_bytes));
    gauge(out, "fhir_sqlite_wal_bytes", "Size of the SQLite write-ahead logs (database and read trail).", static_cast<double>(figures->wal_bytes));
    gauge(out, "fhir_sqlite_page_cache_bytes", "Page-cache memory SQLite took from the heap (SQLITE_STATUS_PAGECACHE_OVERFLOW; without each cache's first bulk allocation).", static_cast<double>(figures->page_cache_bytes));
    gauge(out, "fhir_sqlite_memory_bytes", "All memory SQLite holds.", static_cast<double>(figures->sqlite_memory_bytes));
    gauge(out, "fhir_sqlite_checkpoints_total", "Write-ahead-log checkpoints (database and read trail) since start-up.",
          static_cast<double>(figures->checkpoints), "counter");
  }
  if (ctx.break_glass) {
    gauge(out, "fhir_break_glass_sessions_open", "Emergency (break-glass) sessions open now.",
          static_cast<double>(ctx.break_glass->open_count(fhir::now_ms())));
    gauge(out, "fhir_break_glass_declared_total", "Emergencies declared since start-up.", static_cast<double>(ctx.break_glass->declared()),
          "counter");
  }
  gauge(out, "process_resident_memory_bytes", "Resident memory of the server process.", static_cast<double>(resident_bytes()));
  gauge(out, "process_open_fds", "Open file descriptors (connections, database files, logs).", static_cast<double>(open_files()));
  http::response r{.status = 200,
                   .headers = {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}, {"Cache-Control", "no-store"}},
                   .body = std::move(out)};
  return r;
}

// The dashboard's files. The page and its script come from this server only (CSP: no inline script, no
// other origin), are not framed, and are not cached (a new server version brings new files).
http::response dashboard_file(std::string_view content_type, std::string body) {
  return http::response{.status = 200,
                        .headers = {{"Content-Type", std::string(content_type)},
                                    {"Cache-Control", "no-store"},
                                    {"X-Content-Type-Options", "nosniff"},
                                    {"X-Frame-Options", "DENY"},
                                    {"Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"}},
                        .body = std::move(body)};
}

std::optional<http::response> dashboard_endpoint(std::string_view path) {
  if (path == "/dashboard") return dashboard_file("text/html; charset=utf-8", std::string(dashboard::page()));
  if (path == "/dashboard.js") return dashboard_file("text/javascript; charset=utf-8", std::string(dashboard::script()));
  if (path == "/dashboard.css") return dashboard_file("text/css; charset=utf-8", std::string(dashboard::style()));
  return std::nullopt;
}

}  // namespace

std::optional<http::response> operations_endpoint(const context& ctx, const http::request& request) {
  std::string_view target = request.target;
  std::string_view path = target.substr(0, target.find('?'));
  bool dashboard = path == "/dashboard" || path == "/dashboard.js" || path == "/dashboard.css";
  if (path != "/health" && path != "/ready" && path != "/metrics" && !dashboard) return std::nullopt;
  if (request.method != "GET" && request.method != "HEAD") {
    http::response r = json_answer(405, R"({"status":"fail","output":"only GET and HEAD"})");
    r.set_header("Allow", "GET, HEAD");
    return r;
  }
  if (dashboard) return dashboard_endpoint(path);
  if (path == "/health") return json_answer(200, R"({"status":"pass"})");
  if (path == "/ready") {
    auto figures = ctx.store.statistics();
    if (figures) return json_answer(200, R"({"status":"pass"})");
    http::response r = json_answer(503, R"({"status":"fail","output":"the database cannot be read"})");
    r.set_header("Retry-After", "5");
    return r;
  }
  return render_metrics(ctx);
}

}  // namespace server
