#include <catch2/catch.hpp>

#include <string>

#include "store/sqlite/coalescing_vfs.hpp"
#include "store/sqlite/database.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

using store::sqlite::database;

std::unique_ptr<database> open_writer(const std::string& path) {
  auto db = std::make_unique<database>(path, store::sqlite::open_options{.vfs = store::sqlite::coalescing_vfs_name()});
  db->exec("PRAGMA journal_mode = WAL");
  db->exec("PRAGMA synchronous = FULL");
  return db;
}

std::int64_t scalar(database& db, const char* sql) {
  auto st = db.cached(sql);
  REQUIRE(st->step());
  return st->column_int64(0);
}

// Rows of `size` bytes whose content depends on their number, so a misplaced or torn page shows up.
void insert_rows(database& db, int first, int count, int size) {
  store::sqlite::transaction tx(db);
  for (int i = first; i < first + count; ++i) {
    auto st = db.cached("INSERT INTO t(n, body) VALUES (?1, printf('%.*c', ?2, char(65 + ?1 % 26)))");
    st->bind(1, i).bind(2, size).run();
  }
  tx.commit();
}

}  // namespace

TEST_CASE("coalescing VFS: a transaction larger than one write and than the buffer is stored whole", "[store][vfs]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("big.db");
  {
    auto writer = open_writer(path);
    writer->exec("CREATE TABLE t(n INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    // ~6 MB in one commit: more than the unix VFS writes in one call (128 KiB) and than the 4 MiB buffer.
    insert_rows(*writer, 0, 300, 20000);
    // Another connection on the default VFS sees the commit as soon as it is acknowledged.
    database reader(path, store::sqlite::open_options{.read_only = true});
    CHECK(scalar(reader, "SELECT count(*) FROM t") == 300);
    CHECK(scalar(reader, "SELECT count(*) FROM t WHERE body = printf('%.*c', 20000, char(65 + n % 26))") == 300);
  }
  database reopened(path, store::sqlite::open_options{});
  CHECK(scalar(reopened, "SELECT count(*) FROM t WHERE length(body) = 20000 AND substr(body, 1, 1) = char(65 + n % 26)") == 300);
  auto check = reopened.cached("PRAGMA integrity_check");
  REQUIRE(check->step());
  CHECK(check->column_text(0) == "ok");
}

TEST_CASE("coalescing VFS: many small commits, read back between them and after checkpoints", "[store][vfs]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("small.db");
  auto writer = open_writer(path);
  writer->exec("PRAGMA wal_autocheckpoint = 50");  // checkpoints read the WAL back through the buffered file
  writer->exec("CREATE TABLE t(n INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  database reader(path, store::sqlite::open_options{.read_only = true});
  for (int batch = 0; batch < 200; ++batch) {
    insert_rows(*writer, batch * 7, 7, 900);
    // The writer reads its own pages (some only in the WAL), and so does another connection.
    REQUIRE(scalar(*writer, "SELECT count(*) FROM t") == (batch + 1) * 7);
    REQUIRE(scalar(reader, "SELECT count(*) FROM t WHERE body = printf('%.*c', 900, char(65 + n % 26))") == (batch + 1) * 7);
  }
  writer->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  CHECK(scalar(reader, "SELECT count(*) FROM t") == 1400);
  auto check = writer->cached("PRAGMA integrity_check");
  REQUIRE(check->step());
  CHECK(check->column_text(0) == "ok");
}

TEST_CASE("coalescing VFS: after the log restarts, each commit is still one write", "[store][vfs]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("restart.db");
  auto writer = open_writer(path);
  writer->exec("PRAGMA wal_autocheckpoint = 0");  // this test checkpoints by hand
  writer->exec("CREATE TABLE t(n INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  for (int i = 0; i < 60; ++i) insert_rows(*writer, i * 7, 7, 900);  // a log of ~180 frames
  // Every frame copied back: the next transaction writes a new log from its beginning, over the old one.
  writer->exec("PRAGMA wal_checkpoint(PASSIVE)");
  const std::uint64_t before = store::sqlite::coalescing_vfs_wal_writes();
  constexpr int commits = 20;
  for (int i = 0; i < commits; ++i) insert_rows(*writer, 420 + i * 7, 7, 900);  // 2-3 frames each
  // One write per commit, plus the new log's header (synced on its own with synchronous = FULL), where
  // frame by frame would be ~120.
  CHECK(store::sqlite::coalescing_vfs_wal_writes() - before <= commits + 1);
  CHECK(scalar(*writer, "SELECT count(*) FROM t WHERE body = printf('%.*c', 900, char(65 + n % 26))") == 420 + commits * 7);
}

// Not the VFS, but the same layer (store/sqlite/database.hpp): the writer caches BEGIN IMMEDIATE, and a
// statement compiled before an ATTACH covers only the databases present then.
TEST_CASE("a transaction begun after ATTACH write-locks the attached file too", "[store][database]") {
  fhir::testing::temp_dir dir;
  database db(dir.file("main.db"), store::sqlite::open_options{});
  {
    store::sqlite::transaction compiled(db);  // compiles and caches BEGIN IMMEDIATE before the ATTACH
    compiled.commit();
  }
  db.attach(dir.file("attached.db"), "attached");
  db.exec("CREATE TABLE attached.t(x)");
  store::sqlite::transaction tx(db);
  database other(dir.file("attached.db"), store::sqlite::open_options{.busy_timeout_ms = 0});
  CHECK_THROWS_AS(other.exec("BEGIN IMMEDIATE"), store::sqlite::sqlite_error);  // held by tx from its start
}
