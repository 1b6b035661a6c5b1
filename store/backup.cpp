#include "store/backup.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "store/sqlite/database.hpp"
#include "store/sqlite/read_trail.hpp"

namespace store {

namespace {

fhir::error backup_failure(std::string what) {
  return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, std::move(what), "backup-failed");
}

// The file's bytes on stable storage (SQLite syncs its journal, not a backup target closed without one).
bool sync_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  bool ok = fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// Removes the partial copy and SQLite's files beside it unless dismissed (the copy took its name).
class partial_files {
 public:
  explicit partial_files(std::string path) : path_(std::move(path)) { remove_all(); }
  ~partial_files() {
    if (!dismissed_) remove_all();
  }
  void dismiss() { dismissed_ = true; }
  const std::string& path() const { return path_; }

 private:
  void remove_all() const {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path_ + suffix, ec);
  }
  std::string path_;
  bool dismissed_ = false;
};

}  // namespace

namespace {

// Copies one SQLite file (one consistent snapshot) to `partial`, folds its log in, checks and syncs it;
// returns its page count.
fhir::result<std::int64_t> copy_checked(const std::string& from, const partial_files& partial) {
  std::int64_t pages = 0;
  try {
    sqlite::database source(from, {.read_only = true, .busy_timeout_ms = 10000});
    sqlite::database target(partial.path(), {.busy_timeout_ms = 10000});
    sqlite3_backup* copy = sqlite3_backup_init(target.handle(), "main", source.handle(), "main");
    if (!copy) return backup_failure(fmt::format("cannot start the backup: {}", sqlite3_errmsg(target.handle())));
    // -1: every page in one step, so in one read transaction of the source: a consistent snapshot that
    // a server committing meanwhile neither blocks nor restarts. Busy only while another connection
    // holds an exclusive lock (a checkpoint truncating the log): retried for up to a minute.
    int rc;
    for (int attempt = 0; (rc = sqlite3_backup_step(copy, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED; ++attempt) {
      if (attempt == 1200) break;
      sqlite3_sleep(50);
    }
    pages = sqlite3_backup_pagecount(copy);
    sqlite3_backup_finish(copy);
    if (rc != SQLITE_DONE) return backup_failure(fmt::format("the backup of {} failed: {}", from, sqlite3_errstr(rc)));
    // The copy keeps the source's WAL mode; fold its log into the file so that one file is the copy.
    target.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    auto check = target.cached("PRAGMA integrity_check");
    std::string answer = check->step() ? std::string(check->column_text(0)) : "no answer";
    if (answer != "ok") return backup_failure(fmt::format("the copy of {} failed its integrity check: {}", from, answer));
  } catch (const sqlite::sqlite_error& e) {
    return backup_failure(e.what());
  }
  if (!sync_file(partial.path())) return backup_failure(fmt::format("cannot sync {}", partial.path()));
  return pages;
}

// Gives the checked copy its name: link() fails when `to` exists (created meanwhile), so it is never
// overwritten. Then the partial name goes.
fhir::result<fhir::done> name_copy(partial_files& partial, const std::string& to) {
  if (::link(partial.path().c_str(), to.c_str()) != 0)
    return backup_failure(fmt::format("cannot name the copy {}: {}", to, std::strerror(errno)));
  partial.dismiss();
  std::error_code ec;
  std::filesystem::remove(partial.path(), ec);
  for (const char* suffix : {"-wal", "-shm", "-journal"}) std::filesystem::remove(partial.path() + suffix, ec);
  return fhir::done{};
}

}  // namespace

fhir::result<backup_report> backup_database(const std::string& from, const std::string& to) {
  auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  // The read trail (the audit records of requests that wrote nothing) is a file beside the database; a
  // database from before it has none.
  const std::string trail_from = sqlite::read_trail_path(from), trail_to = sqlite::read_trail_path(to);
  const bool has_trail = std::filesystem::exists(trail_from, ec);
  if (!std::filesystem::exists(from, ec)) return backup_failure(fmt::format("no database at {}", from));
  if (std::filesystem::exists(to, ec)) return backup_failure(fmt::format("{} exists: a backup never overwrites a file", to));
  if (std::filesystem::exists(trail_to, ec))  // the trail is named first: an interrupted backup leaves it alone
    return backup_failure(fmt::format("{} exists without {}: a backup to this name was interrupted; remove it and back up again",
                                      trail_to, to));
  partial_files partial(to + ".partial"), trail_partial(trail_to + ".partial");

  backup_report report;
  auto pages = copy_checked(from, partial);
  if (!pages) return std::move(pages).error();
  report.pages = *pages;
  if (has_trail) {
    auto trail_pages = copy_checked(trail_from, trail_partial);
    if (!trail_pages) return std::move(trail_pages).error();
    report.pages += *trail_pages;
    // The read trail is named first: a backup whose database has its name is complete.
    if (auto named = name_copy(trail_partial, trail_to); !named) return std::move(named).error();
  }
  if (auto named = name_copy(partial, to); !named) {
    if (has_trail) std::filesystem::remove(trail_to, ec);
    return std::move(named).error();
  }
  // The new names are durable once the directory is synced.
  sync_file(std::filesystem::absolute(to).parent_path().string());
  report.bytes = static_cast<std::int64_t>(std::filesystem::file_size(to, ec));
  if (has_trail) report.bytes += static_cast<std::int64_t>(std::filesystem::file_size(trail_to, ec));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace store
