#pragma once
// A SQLite VFS that wraps the platform's default one and coalesces the writer's appends to the write-ahead
// log into one write per commit.
//
// Why: SQLite writes each WAL frame as two system calls (a 24-byte header, then the page), and a commit
// that indexes resources for search dirties tens of pages. Measured on a 2-core VM, those calls (kernel
// entry, and a partial-page update for every header) were a quarter of the writer thread's time. Written
// as one contiguous buffer, the kernel copies each page once.
//
// Durability is unchanged: buffered frames reach the file as soon as a transaction's commit frame has
// been written (SQLite writes all of a commit's frames, then syncs when synchronous = FULL, then
// publishes the commit in the wal-index), before every xSync, read, truncate, unlock and file control;
// a rewrite of frames already written (SQLite's checksum rewrite after a spill) goes straight through.
// So a commit is in the file before any reader can see it, with or without a sync (the writer commits
// the read trail, attached through the same VFS, with synchronous = NORMAL: read_trail.hpp).
// Every other file (the database, read-only handles, journals) passes straight through.

#include <cstdint>

namespace store::sqlite {

// The VFS's name, for sqlite3_open_v2. Registered (once, thread-safely) by this call.
const char* coalescing_vfs_name();

// How many writes the VFS has made to write-ahead logs opened for writing, in this process (tests:
// one per commit is the point of it).
std::uint64_t coalescing_vfs_wal_writes();

}  // namespace store::sqlite
