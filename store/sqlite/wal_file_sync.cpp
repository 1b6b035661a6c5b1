#include "store/sqlite/wal_file_sync.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace store::sqlite {
namespace {

[[noreturn]] void throw_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

// `what` and `path` name the failure (built only then: a sync runs hundreds of times a second).
void sync_descriptor(int fd, const char* what, const std::string& path) {
  while (::fdatasync(fd) != 0)
    if (errno != EINTR) throw_errno(what + path);
}

}  // namespace

wal_file_sync::wal_file_sync(std::string log_path) : log_path_(std::move(log_path)) { open_log(); }

wal_file_sync::~wal_file_sync() {
  if (fd_ >= 0) ::close(fd_);
}

void wal_file_sync::open_log() {
  fd_ = ::open(log_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw_errno("opening " + log_path_ + " to sync it");
  // SQLite created the log, and syncs its directory entry at the log's first sync: with synchronous =
  // NORMAL that may not come before a commit is acknowledged, so the entry is synced here.
  std::string directory = std::filesystem::path(log_path_).parent_path().string();
  int dir = ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) throw_errno("opening the directory of " + log_path_);
  try {
    sync_descriptor(dir, "syncing the directory of ", log_path_);
  } catch (...) {
    ::close(dir);
    throw;
  }
  ::close(dir);
}

void wal_file_sync::sync() {
  sync_descriptor(fd_, "syncing ", log_path_);
}

}  // namespace store::sqlite
