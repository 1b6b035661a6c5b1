#include "store/sqlite/checkpointer.hpp"

#include <pthread.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "store/sqlite/read_trail.hpp"

namespace store::sqlite {

checkpointer::checkpointer(const std::string& path, int database_threshold, int read_trail_threshold)
    : db_(std::make_unique<database>(path, open_options{})),
      // At least 8 frames: near the restart a checkpoint is due every eighth of a threshold.
      database_log_{"main", std::max(8, database_threshold)},
      read_trail_log_{read_trail_schema, std::max(8, read_trail_threshold)} {
  attach_read_trail(*db_, path);  // checkpoints cover both files
  db_->exec("PRAGMA synchronous = FULL");  // the checkpoint syncs the WAL before copying, the database after
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fhir-checkpoint");  // shown by top -H, perf and gdb
    loop();
  });
}

checkpointer::~checkpointer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void checkpointer::attach(database& writer) {
  writer.exec("PRAGMA wal_autocheckpoint = 0");
  sqlite3_wal_hook(writer.handle(), &checkpointer::on_commit, this);
}

checkpointer::log& checkpointer::log_of(const char* schema) {
  return std::strcmp(schema, read_trail_schema) == 0 ? read_trail_log_ : database_log_;
}

// Runs on the writer thread after every commit, with the number of frames in that database's WAL.
int checkpointer::on_commit(void* self, sqlite3* db, const char* schema, int frames) {
  auto* c = static_cast<checkpointer*>(self);
  log& wal = c->log_of(schema);
  int copied = wal.copied.load(std::memory_order_relaxed);
  if (frames < copied) wal.copied.store(copied = 0, std::memory_order_relaxed);  // the log has restarted
  if (frames >= restart_factor * wal.threshold) {
    // The log is long (or the thread far behind): checkpoint here, as SQLite's own auto-checkpoint would
    // (errors leave it for later); when everything is copied back, the next write restarts the log.
    // Not while the thread checkpoints: it holds the checkpoint lock, so this one would only be busy.
    if (c->running_.load(std::memory_order_acquire)) return SQLITE_OK;
    int log_frames = 0, done = 0;
    if (sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done) == SQLITE_OK) {
      wal.copied.store(done, std::memory_order_relaxed);
      c->checkpoints_.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (const bool nearly_long = frames >= (restart_factor - 1) * wal.threshold;
             frames - copied >= (nearly_long ? wal.threshold / 8 : wal.threshold)) {
    {
      std::lock_guard lock(c->mutex_);
      wal.due = true;
    }
    c->wake_.notify_one();
  }
  return SQLITE_OK;
}

void checkpointer::loop() {
  for (;;) {
    bool database_due = false, read_trail_due = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || database_log_.due || read_trail_log_.due; });
      if (stopping_) return;
      database_due = std::exchange(database_log_.due, false);
      read_trail_due = std::exchange(read_trail_log_.due, false);
    }
    // PASSIVE: copies what no reader still needs, without waiting for anyone; a busy database is simply
    // tried again after the next commits.
    for (auto [wal, due] : {std::pair{&database_log_, database_due}, std::pair{&read_trail_log_, read_trail_due}}) {
      if (!due) continue;
      int log_frames = 0, done = 0;
      running_.store(true, std::memory_order_release);
      if (sqlite3_wal_checkpoint_v2(db_->handle(), wal->schema, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done) == SQLITE_OK) {
        wal->copied.store(done, std::memory_order_relaxed);
        checkpoints_.fetch_add(1, std::memory_order_relaxed);
      }
      running_.store(false, std::memory_order_release);
    }
  }
}

}  // namespace store::sqlite
