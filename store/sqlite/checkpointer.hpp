#pragma once
// Background checkpoints of the write-ahead logs (the database's and the read trail's). SQLite's default
// has the writer copy WAL pages back into the database file itself, after the commit that crosses 1,000
// pages, while every queued write waits. Here a thread with its own connection runs PASSIVE checkpoints
// instead (they never block the writer or readers), so that work runs on another core; measured on 2
// cores, transaction ingest is 15-20% faster.
//
// A checkpoint is due when `threshold` frames have been added since the last one copied back, not when
// the log holds `threshold` frames. Under continuous writes the log rarely restarts by itself (SQLite
// restarts it only when a write begins after every frame was copied back, and the writer commits again
// while a checkpoint runs), so counting the whole log made every commit start a checkpoint of a few
// frames, two syncs each (measured: 4,158 checkpoints in 8 s of audited reads, a fifth of the server's
// CPU). So the log restarts by the writer's own checkpoint once it holds restart_factor x threshold
// frames (or a long reader pinned old frames), unless the thread is checkpointing at that moment: from
// 3 x threshold on, the thread checkpoints every eighth of a threshold, so the writer's checkpoint finds
// little left to copy. (While a checkpoint's syncs run, commits go on: the log can grow past 4 x.)

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "store/sqlite/database.hpp"

namespace store::sqlite {

class checkpointer {
 public:
  // `path`: the database file; a checkpoint starts when a log holds `threshold` frames not yet copied
  // back (at least 8), a threshold per log (sqlite_options).
  checkpointer(const std::string& path, int database_threshold, int read_trail_threshold);
  ~checkpointer();
  checkpointer(const checkpointer&) = delete;
  checkpointer& operator=(const checkpointer&) = delete;

  // Turns off the writer's automatic checkpoints and reports its commits to this checkpointer. The
  // writer must not outlive it.
  void attach(database& writer);

  // Checkpoints completed since the store opened (by this thread and by the writer), for operators.
  std::int64_t checkpoints() const { return checkpoints_.load(std::memory_order_relaxed); }

 private:
  // One write-ahead log: the database's ("main") or the read trail's.
  struct log {
    log(const char* schema_name, int frames) : schema(schema_name), threshold(frames) {}
    const char* schema;
    int threshold;
    // Frames copied back by the last checkpoint (written by this thread, read by the writer's hook);
    // reset by the hook when the log has restarted.
    std::atomic<int> copied{0};
    bool due = false;  // guarded by mutex_
  };

  static constexpr int restart_factor = 4;

  static int on_commit(void* self, struct sqlite3* db, const char* schema, int frames);
  log& log_of(const char* schema);
  void loop();

  std::unique_ptr<database> db_;
  log database_log_;
  log read_trail_log_;
  std::atomic<std::int64_t> checkpoints_{0};  // completed (SQLITE_OK), by the thread or the writer
  std::atomic<bool> running_{false};          // the thread is checkpointing (the writer then does not)
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace store::sqlite
