#pragma once
// How SQLite's heap use is counted, process-wide. SQLite's own memory statistics
// (SQLITE_CONFIG_MEMSTATUS) take one global mutex around every allocation and free; with the writer,
// the checkpointer and the request threads all in SQLite, that mutex was contended (futex calls in every
// thread). Instead SQLite allocates through a small counting allocator (malloc underneath) whose counts
// are per-thread shards of relaxed atomics: no lock. The total is exact at rest; read while allocations
// are in flight it can be off by the blocks moving between shards meanwhile (a gauge's precision).

#include <cstdint>

namespace store::sqlite {

// Installs the counting allocator and turns SQLite's statistics off. Must run before SQLite initialises;
// idempotent. If something initialised SQLite first (a test opening a file directly), SQLite keeps its
// own allocator and statistics, and sqlite_heap_bytes reads those.
void configure_sqlite_library();

// Bytes SQLite holds from the heap now, all connections (never negative).
std::int64_t sqlite_heap_bytes();

}  // namespace store::sqlite
