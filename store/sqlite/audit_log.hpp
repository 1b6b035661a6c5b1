#pragma once
// The audit trail in SQLite (schema version 4; docs/store-schema.md, "Audit trail"): one row per
// AuditEvent in append order, chained by SHA-256, plus its search keys (store/audit_record.hpp), in the
// database (writes) and in the read trail beside it (reads: read_trail.hpp); reads and searches see both.
// Appending, reading, searching and verifying; the search answers store::audit_search_parameters.

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fhir/result.hpp"
#include "store/audit_record.hpp"
#include "store/sqlite/database.hpp"
#include "store/sqlite/write_queue.hpp"
#include "store/store.hpp"

namespace store::sqlite {

// Where a record is appended: the database (a write's record, in the write's own transaction) or the
// read trail (the record of a read: read_trail.hpp).
enum class audit_file { database, read_trail };

// Where the chains end: the highest seq of both files and each file's last hash, kept in memory by the
// writer so an append need not read them back (three B-tree seeks per record) and the committed-through
// figure below needs no query after each batch. Writer thread only, but for committed_through(). What
// it knows is dropped when a
// rollback may have undone appends (a job's savepoint or a whole transaction) and when another
// connection, such as an offline import in another process, committed to either file (PRAGMA
// data_version, read at the start of each transaction while the writer holds both files' write locks);
// it is then read again from the files.
class audit_tail : public transaction_listener {
 public:
  using digest = std::array<unsigned char, 32>;

  void began(database& db) override;
  void rolled_back() override { known_.reset(); }
  void batch_done(database& db) override { publish(db); }

  // Publishes the highest seq committed in both files as committed_through(): after each batch, and
  // once by the store before its writer starts. Outside a transaction.
  void publish(database& db);
  // The figure searches and history bound their first page by (below). Any thread.
  std::int64_t committed_through() const { return committed_through_.load(std::memory_order_acquire); }

 private:
  friend void append_audit_record(database& db, audit_tail& tail, const audit_record& record, audit_file file);
  struct ends {
    std::int64_t highest_seq = 0;
    digest last_hash[2]{};  // by audit_file; zeros before a file's first record
  };
  ends& known(database& db);

  std::optional<ends> known_;
  std::int64_t data_version_[2]{-1, -1};  // by audit_file: as last read
  std::atomic<std::int64_t> committed_through_{0};
};

// Appends `record` to `file` (inside the writer's open transaction): its seq follows the highest of
// both files, its hash the last record of `file`.
void append_audit_record(database& db, audit_tail& tail, const audit_record& record, audit_file file);

// The AuditEvent with this id, as a resource version (version 1, lastUpdated = recorded), rendered.
std::optional<resource_version> read_audit_record(database& db, std::string_view id, const audit_renderer& render);

// Searches and history see the records of both files, from snapshots a reader takes one after the
// other. A batch commits its database transaction, then its read-trail one; so a snapshot can hold a
// record of one file and miss a lower seq of the other, committed in between. So their first page is
// bounded by `committed_through`: the highest seq committed in both files, which the writer publishes
// after each batch and the caller reads before its read transaction begins. Every seq up to it is then
// in the snapshots; later ones never join the pages (as records appended after the first page).

// AuditEvent search (request.query.types == {"AuditEvent"}): newest first unless _sort=date, keyset
// pages on the append order. Unsupported parameters, modifiers, chains and includes fail invalid.
fhir::result<search_page> search_audit_trail(database& db, const search_request& request, const audit_renderer& render,
                                             std::int64_t committed_through);

// AuditEvent/_history: every record (each is its only version), newest first.
fhir::result<history_page> audit_history(database& db, const history_request& request, const audit_renderer& render,
                                         std::int64_t committed_through);

// Recomputes every link of both chains in order and names the first record that fails; also checks
// that each record's search columns and keys are those of the AuditEvent it renders, and that no seq is
// in both files.
audit_check verify_audit_trail(database& db, const audit_renderer& render);

// Schema 3 -> 4: moves the AuditEvents stored as resources (with their chain links, hashes unchanged)
// into the trail, and removes them and the old chain table. Runs inside the migration's transaction.
void move_audit_events_into_trail(database& db);

}  // namespace store::sqlite
