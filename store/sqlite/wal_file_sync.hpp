#pragma once
// Syncs a database's write-ahead log to disk for the write queue (write_queue.hpp, invariant 5), from its
// sync thread or its writer. It uses a descriptor of its own: the writer's connection (and SQLite's file
// object) must not be used from two threads at once, and fdatasync on any descriptor of a file makes
// every write made to it before the call durable.

#include <string>

#include "store/sqlite/write_queue.hpp"

namespace store::sqlite {

class wal_file_sync final : public log_sync {
 public:
  // `log_path`: the log as SQLite names it (sqlite3_filename_wal: symbolic links resolved), which the
  // writer's connection keeps (it is deleted only when the last connection closes). Opened here, so the
  // descriptor is older than any write it syncs; throws std::system_error when it cannot be.
  explicit wal_file_sync(std::string log_path);
  ~wal_file_sync() override;
  wal_file_sync(const wal_file_sync&) = delete;
  wal_file_sync& operator=(const wal_file_sync&) = delete;

  // Throws std::system_error when the log cannot be opened or synced.
  void sync() override;

 private:
  void open_log();

  std::string log_path_;
  int fd_ = -1;
};

}  // namespace store::sqlite
