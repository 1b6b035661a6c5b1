#include "store/sqlite/reader_pool.hpp"

#include "store/sqlite/read_trail.hpp"

namespace store::sqlite {

reader_pool::reader_pool(std::string path, std::size_t max_connections)
    : path_(std::move(path)), max_(std::max<std::size_t>(1, max_connections)) {}

reader_pool::lease reader_pool::acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
  if (!idle_.empty()) {
    auto db = std::move(idle_.back());
    idle_.pop_back();
    return lease(*this, std::move(db));
  }
  ++open_;
  lock.unlock();
  try {
    auto db = std::make_unique<database>(path_, open_options{.read_only = true});
    db->exec("PRAGMA query_only = ON");
    attach_read_trail(*db, path_);
    return lease(*this, std::move(db));
  } catch (...) {
    std::lock_guard relock(mutex_);
    --open_;
    available_.notify_one();
    throw;
  }
}

void reader_pool::give_back(std::unique_ptr<database> db) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(db));
  }
  available_.notify_one();
}

}  // namespace store::sqlite
