#include "store/sqlite/checkpointer.hpp"

#include <sqlite3.h>

namespace store::sqlite {

checkpointer::checkpointer(const std::string& path, int threshold)
    : db_(std::make_unique<database>(path, open_options{})), threshold_(threshold) {
  db_->exec("PRAGMA synchronous = FULL");  // the checkpoint syncs the WAL before copying, the database after
  thread_ = std::thread([this] { loop(); });
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

// Runs on the writer thread after every commit, with the number of frames in the WAL.
int checkpointer::on_commit(void* self, sqlite3* db, const char* schema, int frames) {
  auto* c = static_cast<checkpointer*>(self);
  if (frames >= 8 * c->threshold_) {
    // Far behind: bound the WAL here, as SQLite's own auto-checkpoint would (errors leave it for later).
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (frames >= c->threshold_) {
    {
      std::lock_guard lock(c->mutex_);
      c->due_ = true;
    }
    c->wake_.notify_one();
  }
  return SQLITE_OK;
}

void checkpointer::loop() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || due_; });
      if (stopping_) return;
      due_ = false;
    }
    // PASSIVE: copies what no reader still needs, without waiting for anyone; a busy database is simply
    // tried again after the next commits.
    sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
}

}  // namespace store::sqlite
