#pragma once
// The read trail: the audit records of requests that wrote nothing (reads, searches, and requests that
// failed or were denied), in a SQLite file of their own beside the database
// (`<database>-read-audit`; docs/store-schema.md, "Audit trail"; ADR 0008, third addendum).
//
// Why a file of its own: every commit to a database file makes each reader connection drop its page
// cache before its next read (SQLite cannot tell which pages changed). With the records of reads in the
// database, every read's own audit commit emptied the caches of the reads that followed it (audit-bench,
// 16 connections: audited reads ran at 0.31-0.40x of unaudited ones; with this file, and checkpoints
// no longer after every commit (checkpointer.hpp), 0.48-0.56x). Commits to this file leave the
// database's readers' caches alone.
//
// Invariants:
//  1. Only the records store::append_audit_async appends are written here; a write's record stays in
//     the database, in the write's own transaction, and so does a break-glass alert (append_audit).
//  2. The two files keep one sequence: a record's seq is one more than the highest in either file, so
//     the AuditEvents of both sort by seq in the order they were appended.
//  3. Each file chains its own records (the hash of a record covers the previous record of the same
//     file): a commit that spans both files is not atomic across them in WAL mode, so one chain across
//     both could be broken by a crash between their commits.
//  4. It is always committed with synchronous = NORMAL and synced within max_unsynced (write_queue.hpp),
//     in a transaction of its own after the database's (write_queue.hpp, invariant 3).
//  5. A database and its trail know each other (main.read_trail_link, read_trail.trail_identity): a
//     store whose trail is missing or another database's does not open (an empty trail in its place
//     would hide every read record from the verify command).

#include <string>
#include <string_view>

#include "store/sqlite/database.hpp"

namespace store::sqlite {

// The schema name the read trail is attached under, on every connection of the store.
inline constexpr const char* read_trail_schema = "read_trail";

// The read trail's file for the database at `database_path`.
std::string read_trail_path(const std::string& database_path);

// Attaches the read trail to the writer's connection, creating the file and its tables if the database
// has none yet; throws std::runtime_error when its trail is missing or another database's (invariant 5).
void attach_read_trail_for_writing(database& db, const std::string& database_path);

// Attaches the read trail to a connection that reads (or checkpoints), after the writer has attached it.
void attach_read_trail(database& db, const std::string& database_path);

}  // namespace store::sqlite
