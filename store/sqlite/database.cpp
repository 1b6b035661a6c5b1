#include "store/sqlite/database.hpp"
#include "store/sqlite/memory_accounting.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

namespace store::sqlite {
namespace {

[[noreturn]] void fail(sqlite3* db, int code, std::string_view what) {
  throw sqlite_error(code, fmt::format("{}: {} ({})", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(code), code));
}

}  // namespace

bool sqlite_error::is_busy() const {
  int primary = code_ & 0xFF;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

statement::statement(sqlite3* db, std::string_view sql) : db_(db) {
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) fail(db, rc, fmt::format("prepare `{}`", sql));
}

statement::~statement() { sqlite3_finalize(stmt_); }

statement& statement::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

statement& statement::bind(int index, std::string_view text) {
  // SQLITE_TRANSIENT: SQLite copies the text, so callers may pass temporaries.
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

statement& statement::bind_static(int index, std::string_view text) {
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

statement& statement::bind_blob(int index, std::string_view bytes) {
  int rc = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

statement& statement::bind_real(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

statement& statement::bind_null(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

bool statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, rc, fmt::format("step `{}`", sqlite3_sql(stmt_)));
}

void statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t statement::column_int64(int index) const { return sqlite3_column_int64(stmt_, index); }

std::string_view statement::column_text(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  int size = sqlite3_column_bytes(stmt_, index);
  return text ? std::string_view(text, static_cast<std::size_t>(size)) : std::string_view();
}

std::string_view statement::column_blob(int index) const {
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt_, index));
  int size = sqlite3_column_bytes(stmt_, index);
  return bytes ? std::string_view(bytes, static_cast<std::size_t>(size)) : std::string_view();
}

double statement::column_double(int index) const { return sqlite3_column_double(stmt_, index); }

column_kind statement::column_type(int index) const {
  switch (sqlite3_column_type(stmt_, index)) {
    case SQLITE_INTEGER: return column_kind::integer;
    case SQLITE_FLOAT: return column_kind::real;
    case SQLITE_TEXT: return column_kind::text;
    case SQLITE_BLOB: return column_kind::blob;
    default: return column_kind::null;
  }
}

bool statement::column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

database::database(const std::string& path, const open_options& options) {
  configure_sqlite_library();
  int flags = SQLITE_OPEN_NOMUTEX | (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, options.vfs);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw sqlite_error(rc, fmt::format("cannot open {}: {}", path, message));
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, options.busy_timeout_ms);
  exec(fmt::format("PRAGMA cache_size = -{}", options.cache_size_kib));
  exec("PRAGMA temp_store = MEMORY");
}

database::~database() {
  // Statements must be finalized before the connection closes, or sqlite3_close fails and leaks it.
  statements_.clear();
  dynamic_statements_.clear();
  oversized_statement_.reset();
  sqlite3_close(db_);
}

void database::exec(std::string_view sql) {
  std::string text(sql);
  char* message = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string m = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw sqlite_error(rc, fmt::format("exec `{}`: {}", text.substr(0, 80), m));
  }
}

void database::attach(const std::string& file, const char* schema) {
  {
    statement attach(db_, fmt::format("ATTACH DATABASE ?1 AS {}", schema));
    attach.bind(1, file);
    attach.run();
  }
  statements_.clear();
  dynamic_statements_.clear();
  oversized_statement_.reset();
}

statement_use database::cached(const char* sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) it = statements_.emplace(sql, std::make_unique<statement>(db_, sql)).first;
  return statement_use(*it->second);
}

statement_use database::prepared(const std::string& sql) {
  constexpr std::size_t max_shapes = 512;
  // A long statement (a search of many values) is kept only until the next: 512 of them could hold
  // gigabytes. A caller holds at most one dynamic statement at a time, so one slot serves.
  constexpr std::size_t max_cached_length = 16 * 1024;
  if (sql.size() > max_cached_length) {
    oversized_statement_ = std::make_unique<statement>(db_, sql);
    return statement_use(*oversized_statement_);
  }
  auto it = dynamic_statements_.find(sql);
  if (it == dynamic_statements_.end()) {
    // Statements in use are never evicted: a caller holds at most one dynamic statement at a time.
    if (dynamic_statements_.size() >= max_shapes) dynamic_statements_.clear();
    it = dynamic_statements_.emplace(sql, std::make_unique<statement>(db_, sql)).first;
  }
  return statement_use(*it->second);
}

void database::sync_journal(const char* schema) {
  sqlite3_file* journal = nullptr;
  if (sqlite3_file_control(db_, schema, SQLITE_FCNTL_JOURNAL_POINTER, &journal) != SQLITE_OK || !journal || !journal->pMethods) return;
  if (int rc = journal->pMethods->xSync(journal, SQLITE_SYNC_NORMAL); rc != SQLITE_OK)
    throw sqlite_error(rc, fmt::format("syncing the write-ahead log of {} failed", schema));
}

std::int64_t database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int database::changes() const { return sqlite3_changes(db_); }

// Cached statements: the writer begins and commits thousands of transactions a second, and exec()
// would compile each statement every time.
transaction::transaction(database& db) : db_(db) { db_.cached("BEGIN IMMEDIATE")->run(); }

transaction::~transaction() { rollback(); }

void transaction::rollback() {
  if (!open_) return;
  open_ = false;
  try {
    db_.cached("ROLLBACK")->run();
  } catch (const std::exception&) {
    // A failed COMMIT may already have rolled back (or the statement could not be prepared: out of
    // memory); nothing more can be done.
  }
}

void transaction::commit() {
  db_.cached("COMMIT")->run();
  open_ = false;
}

}  // namespace store::sqlite
