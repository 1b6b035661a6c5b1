// The count behind fhir_sqlite_memory_bytes: SQLite allocates through a counting allocator (SQLite's own
// statistics are off, for their global mutex), so the count is ours to get right.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <cstdint>
#include <cstdlib>
#include <thread>

#include "store/sqlite/memory_accounting.hpp"

using store::sqlite::sqlite_heap_bytes;

TEST_CASE("SQLite's heap use is counted through allocation, reallocation and a free on another thread") {
  store::sqlite::configure_sqlite_library();
  constexpr std::int64_t mebibyte = 1 << 20;
  const std::int64_t before = sqlite_heap_bytes();
  void* block = sqlite3_malloc64(mebibyte);
  REQUIRE(block != nullptr);
  CHECK(sqlite_heap_bytes() - before >= mebibyte);
#if defined(__GLIBC__)
  // The count is the allocator's, not SQLite's: its statistics are off (they count nothing), which
  // configure_sqlite_library does only together with installing the allocator. This fails when
  // something initialised SQLite before it could.
  CHECK(sqlite3_memory_used() == 0);
#endif
  block = sqlite3_realloc64(block, 3 * mebibyte);
  REQUIRE(block != nullptr);
  CHECK(sqlite_heap_bytes() - before >= 3 * mebibyte);
  CHECK(sqlite_heap_bytes() - before < 4 * mebibyte);
  std::thread([block] { sqlite3_free(block); }).join();
  CHECK(std::llabs(sqlite_heap_bytes() - before) < 64 * 1024);
}
