#include "store/backup.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

namespace store {

namespace {

struct connection_closer {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using connection = std::unique_ptr<sqlite3, connection_closer>;

fhir::error backup_failure(std::string what) {
  return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, std::move(what), "backup-failed");
}

fhir::result<connection> open(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  connection db(raw);
  if (rc != SQLITE_OK)
    return backup_failure(fmt::format("cannot open {}: {}", path, raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  sqlite3_busy_timeout(db.get(), 10000);
  return db;
}

// The file's bytes on stable storage (SQLite syncs its journal, not a backup target closed without one).
bool sync_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  bool ok = fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::string integrity(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) != SQLITE_OK) return sqlite3_errmsg(db);
  std::string answer = sqlite3_step(st) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : sqlite3_errmsg(db);
  sqlite3_finalize(st);
  return answer;
}

}  // namespace

fhir::result<backup_report> backup_database(const std::string& from, const std::string& to) {
  auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  if (!std::filesystem::exists(from, ec)) return backup_failure(fmt::format("no database at {}", from));
  if (std::filesystem::exists(to, ec)) return backup_failure(fmt::format("{} exists: a backup never overwrites a file", to));
  const std::string partial = to + ".partial";
  std::filesystem::remove(partial, ec);

  auto source = open(from, SQLITE_OPEN_READONLY);
  if (!source) return std::move(source).error();
  backup_report report;
  {
    auto target = open(partial, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (!target) return std::move(target).error();
    sqlite3_backup* copy = sqlite3_backup_init(target->get(), "main", source->get(), "main");
    if (!copy) return backup_failure(fmt::format("cannot start the backup: {}", sqlite3_errmsg(target->get())));
    // -1: every page in one step, so in one read transaction of the source: a consistent snapshot that
    // a server committing meanwhile neither blocks nor restarts.
    int rc;
    while ((rc = sqlite3_backup_step(copy, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(50);
    report.pages = sqlite3_backup_pagecount(copy);
    sqlite3_backup_finish(copy);
    if (rc != SQLITE_DONE) {
      std::string why = sqlite3_errstr(rc);
      target->reset();
      std::filesystem::remove(partial, ec);
      return backup_failure(fmt::format("the backup of {} failed: {}", from, why));
    }
    // The copy keeps the source's WAL mode; fold its log into the file so that one file is the backup.
    sqlite3_exec(target->get(), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    std::string check = integrity(target->get());
    if (check != "ok") {
      target->reset();
      std::filesystem::remove(partial, ec);
      return backup_failure(fmt::format("the copy failed its integrity check: {}", check));
    }
  }
  std::filesystem::remove(partial + "-wal", ec);
  std::filesystem::remove(partial + "-shm", ec);
  if (!sync_file(partial)) return backup_failure(fmt::format("cannot sync {}", partial));
  std::filesystem::rename(partial, to, ec);
  if (ec) return backup_failure(fmt::format("cannot rename {} to {}: {}", partial, to, ec.message()));
  // The rename itself is durable once the directory is synced.
  std::filesystem::path directory = std::filesystem::absolute(to).parent_path();
  sync_file(directory.string());
  report.bytes = static_cast<std::int64_t>(std::filesystem::file_size(to, ec));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace store
