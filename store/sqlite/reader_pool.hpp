#pragma once
// Read connections for a SQLite store in WAL mode: readers never block the writer nor each other.
// Connections are opened on demand up to a maximum and reused; a caller waits when all are in use.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/sqlite/database.hpp"

namespace store::sqlite {

class reader_pool {
 public:
  reader_pool(std::string path, std::size_t max_connections);

  // A connection lent to one caller; returned to the pool when the lease ends.
  class lease {
   public:
    lease(reader_pool& pool, std::unique_ptr<database> db) : pool_(pool), db_(std::move(db)) {}
    ~lease() { pool_.give_back(std::move(db_)); }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    database& operator*() { return *db_; }
    database* operator->() { return db_.get(); }

   private:
    reader_pool& pool_;
    std::unique_ptr<database> db_;
  };

  // Thread-safe. Throws sqlite_error when a new connection cannot be opened.
  lease acquire();

 private:
  void give_back(std::unique_ptr<database> db);

  std::string path_;
  std::size_t max_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<database>> idle_;  // guarded by mutex_
  std::size_t open_ = 0;                         // guarded by mutex_
};

}  // namespace store::sqlite
