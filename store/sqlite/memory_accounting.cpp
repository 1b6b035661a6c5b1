#include "store/sqlite/memory_accounting.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#define SHCR_COUNTING_ALLOCATOR 1
#endif

namespace store::sqlite {
namespace {

#if SHCR_COUNTING_ALLOCATOR

// Each thread adds to one shard (its own cache line), chosen round-robin on its first allocation; memory
// freed on another thread than the one that took it makes one shard's figure negative, never the sum.
struct alignas(64) shard {
  std::atomic<std::int64_t> bytes{0};
};
std::array<shard, 16> shards;
std::atomic<unsigned> next_shard{0};
std::atomic<bool> counting{false};

std::atomic<std::int64_t>& thread_shard() {
  thread_local std::atomic<std::int64_t>& mine = shards[next_shard.fetch_add(1, std::memory_order_relaxed) % shards.size()].bytes;
  return mine;
}

std::int64_t usable(void* p) { return static_cast<std::int64_t>(malloc_usable_size(p)); }

void* x_malloc(int bytes) {
  void* p = std::malloc(static_cast<std::size_t>(bytes));
  if (p) thread_shard().fetch_add(usable(p), std::memory_order_relaxed);
  return p;
}

void x_free(void* p) {
  if (!p) return;
  thread_shard().fetch_sub(usable(p), std::memory_order_relaxed);
  std::free(p);
}

// SQLite calls xRealloc with a block it allocated and a size greater than zero.
void* x_realloc(void* p, int bytes) {
  std::int64_t before = usable(p);
  void* moved = std::realloc(p, static_cast<std::size_t>(bytes));
  if (moved) thread_shard().fetch_add(usable(moved) - before, std::memory_order_relaxed);
  return moved;
}

int x_size(void* p) { return p ? static_cast<int>(malloc_usable_size(p)) : 0; }
int x_roundup(int bytes) { return (bytes + 7) & ~7; }
int x_init(void*) { return SQLITE_OK; }
void x_shutdown(void*) {}

void install() {
  static const sqlite3_mem_methods methods{x_malloc, x_free, x_realloc, x_size, x_roundup, x_init, x_shutdown, nullptr};
  // Both fail with SQLITE_MISUSE once SQLite is initialised; then SQLite's own allocator and counts stay.
  if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK) return;
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  counting.store(true);
}

#else

void install() {}

#endif

}  // namespace

void configure_sqlite_library() {
  static std::once_flag once;
  std::call_once(once, install);
}

std::int64_t sqlite_heap_bytes() {
#if SHCR_COUNTING_ALLOCATOR
  if (counting.load()) {
    std::int64_t total = 0;
    for (const shard& each : shards) total += each.bytes.load(std::memory_order_relaxed);
    return std::max<std::int64_t>(total, 0);  // shards read one by one, while a block moves between two
  }
#endif
  return sqlite3_memory_used();
}

}  // namespace store::sqlite
