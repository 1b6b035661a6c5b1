#pragma once
// A SQLite VFS that wraps the platform's default one and coalesces the writer's appends to the write-ahead
// log into one write per commit.
//
// Why: SQLite writes each WAL frame as two system calls (a 24-byte header, then the page), and a commit
// that indexes resources for search dirties tens of pages. Measured on a 2-core VM, those calls (kernel
// entry, and a partial-page update for every header) were a quarter of the writer thread's time. Written
// as one contiguous buffer, the kernel copies each page once.
//
// Durability is unchanged: buffered frames reach the file before every xSync, which SQLite issues on the
// WAL at each commit when synchronous = FULL, before it publishes the commit in the wal-index. The store
// therefore opens databases with this VFS only under synchronous = FULL (see sqlite_store.cpp): with a
// weaker setting a commit could be published while its frames were still in the buffer.
// Every other file (the database, read-only handles, journals) passes straight through.

namespace store::sqlite {

// The VFS's name, for sqlite3_open_v2. Registered (once, thread-safely) by this call.
const char* coalescing_vfs_name();

}  // namespace store::sqlite
