#pragma once
// A thin RAII layer over the SQLite C API, private to store/. Failures throw sqlite_error: inside the
// store they are unexpected (I/O errors, a full disk, corruption) and store.cpp turns them into
// fhir::error values (fault or busy) at its boundary.
//
// A database object is used by one thread at a time (connections are opened SQLITE_OPEN_NOMUTEX); its
// prepared statements are cached and reused.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace store::sqlite {

class sqlite_error : public std::runtime_error {
 public:
  sqlite_error(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }
  // SQLITE_BUSY or SQLITE_LOCKED: another connection holds a lock longer than the busy timeout.
  bool is_busy() const;

 private:
  int code_;
};

enum class column_kind { integer, real, text, blob, null };

class statement {
 public:
  statement(sqlite3* db, std::string_view sql);
  ~statement();
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  statement& bind(int index, std::int64_t value);
  statement& bind(int index, std::string_view text);
  // Binds text without copying it: `text` must stay valid until the statement is stepped and reset.
  statement& bind_static(int index, std::string_view text);
  statement& bind_real(int index, double value);
  statement& bind_blob(int index, std::string_view bytes);
  statement& bind_null(int index);

  // Advances to the next row: true when a row is available, false when done.
  bool step();
  // Runs a statement that returns no rows.
  void run() { step(); }
  void reset();

  std::int64_t column_int64(int index) const;
  std::string_view column_text(int index) const;
  std::string_view column_blob(int index) const;
  double column_double(int index) const;
  column_kind column_type(int index) const;
  bool column_is_null(int index) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a cached statement (and clears its bindings) when the scope ends, whatever happens.
class statement_use {
 public:
  explicit statement_use(statement& s) : s_(s) {}
  ~statement_use() { s_.reset(); }
  statement_use(const statement_use&) = delete;
  statement_use& operator=(const statement_use&) = delete;
  statement* operator->() { return &s_; }
  statement& operator*() { return s_; }

 private:
  statement& s_;
};

struct open_options {
  bool read_only = false;
  int busy_timeout_ms = 5000;
  std::int64_t cache_size_kib = 64 * 1024;
  // The SQLite VFS to open with; nullptr: the platform's default (see coalescing_vfs.hpp).
  const char* vfs = nullptr;
};

class database {
 public:
  database(const std::string& path, const open_options& options);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  void exec(std::string_view sql);
  // ATTACHes `file` as `schema`, and drops every cached statement: a statement compiled before covers
  // only the databases present then (a cached BEGIN IMMEDIATE would not lock the attached one).
  void attach(const std::string& file, const char* schema);
  // A prepared statement cached for the life of the connection; `sql` must be a string literal or
  // otherwise outlive the connection (its address is the cache key).
  statement_use cached(const char* sql);
  // A prepared statement cached by its text, for SQL built at run time (searches): one per query
  // shape, since values are always bound. The cache is bounded; the oldest shapes are dropped.
  statement_use prepared(const std::string& sql);
  // Syncs the write-ahead log of one database of this connection ("main" or an attached schema) to disk,
  // after commits made with synchronous = NORMAL.
  void sync_journal(const char* schema);
  std::int64_t last_insert_rowid() const;
  int changes() const;
  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<statement>> statements_;
  std::unordered_map<std::string, std::unique_ptr<statement>> dynamic_statements_;
  std::unique_ptr<statement> oversized_statement_;  // the last prepared() statement too long to cache
};

// Runs `BEGIN IMMEDIATE` and rolls back on scope exit unless commit() or rollback() was called.
class transaction {
 public:
  explicit transaction(database& db);
  ~transaction();
  void commit();
  // Rolls back now; an error is swallowed as in the destructor (SQLite may already have rolled back).
  void rollback();

 private:
  database& db_;
  bool open_ = true;
};

}  // namespace store::sqlite
