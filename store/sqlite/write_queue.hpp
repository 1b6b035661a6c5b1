#pragma once
// The single writer of a SQLite store: one connection, one thread, and group commit.
//
// Design (invariants numbered for reference in comments):
//  1. Only the writer thread writes to the database; callers hand it jobs and block until their job's
//     transaction has committed (or failed). So writes never contend for SQLite's lock inside the process,
//     and no "database is locked" error can come from our own writes.
//  2. The writer takes every job queued (up to max_batch) and runs its durable jobs in ONE transaction,
//     then the others (durable = false, below) in a second one: each job inside its own SAVEPOINT, so a
//     job whose apply() reports failure is rolled back to its savepoint alone; the others commit. The
//     transaction's first job has none: if it fails, the transaction is rolled back and begins again
//     without it. (Jobs marked not isolated run without one; if they throw, their transaction fails.)
//     One COMMIT (one fsync with synchronous = FULL) then makes all the batch's durable jobs durable.
//  3. A job is acknowledged only after its transaction's COMMIT has returned: a caller that sees success
//     knows its write is on disk. If BEGIN or COMMIT fails, every job of that transaction fails and
//     nothing of it is stored.
//     Exception, by choice of the job (durable = false: the audit records of requests that wrote
//     nothing, which the store writes only to a database attached with synchronous = NORMAL, the read
//     trail: read_trail.hpp): such a job's commit survives a killed process at once but reaches the disk
//     (survives power loss) when the writer next syncs its log: max_unsynced after the first commit of
//     such a job at the latest (a failed sync is tried again max_unsynced later). Their transaction is
//     separate because one spanning two files is not atomic across them in WAL mode.
//  4. Timestamps are assigned by the writer and never decrease in commit order, even if the wall clock
//     steps back: history ordered by commit order is also ordered by lastUpdated.
//
// States of a job: queued -> applying (writer thread) -> finished (finished() has run). apply(), fail()
// and finished() run on the writer thread; the caller's thread waits in run(), or does not wait (post).

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "fhir/outcome.hpp"
#include "fhir/time.hpp"
#include "store/sqlite/database.hpp"

namespace store::sqlite {

struct write_job {
  // Posted jobs are deleted by the queue through this type (they may be derived: the audit append).
  virtual ~write_job() = default;
  // Does the job's work inside the open transaction; returns false when the job's outcome is a failure,
  // in which case its changes are rolled back (to its savepoint; the transaction's first job with the
  // whole transaction, which then runs again without it: invariant 2). `now` is the batch's timestamp.
  std::function<bool(database& db, fhir::epoch_ms now)> apply;
  // Reports that the job's work is not stored (an exception in apply, or the batch failed to commit).
  std::function<void(fhir::error)> fail;
  // Runs once the batch has committed or failed, after apply/fail; the job is not touched afterwards.
  std::function<void()> finished;
  bool owned_by_queue = false;  // set by post(): the queue deletes the job when it is finished
  // False for jobs whose apply() cannot fail on its own (an audit append): no savepoint around it (two
  // statements fewer), and an exception in it fails the whole batch instead of the job alone.
  bool isolated = true;
  // False: acknowledged once committed to the log file, synced to disk within max_unsynced (invariant 3);
  // the job must write only to databases attached with synchronous = NORMAL.
  bool durable = true;
};

// Told, on the writer thread, when a transaction begins, when work is rolled back and when a batch is
// done, by whoever keeps facts about the database in memory across jobs (the audit trail's tail:
// audit_log.hpp): they must not survive a rollback that undid them, nor miss another process's commits.
struct transaction_listener {
  virtual ~transaction_listener() = default;
  // After BEGIN, before the transaction's first job.
  virtual void began(database& db) = 0;
  // A job's savepoint, or the whole transaction, was rolled back (or failed to commit).
  virtual void rolled_back() = 0;
  // After each batch's transactions, before its jobs' finished(); outside any transaction. An
  // exception is ignored (the next batch calls again).
  virtual void batch_done(database& db) = 0;
};

// How long a commit of non-durable jobs may stay unsynced under continuous load.
inline constexpr std::chrono::milliseconds max_unsynced{50};

class write_queue {
 public:
  // `last_written` is the newest lastUpdated already stored (invariant 4 across restarts);
  // `unsynced_schema` the attached database that jobs with durable = false write to, whose log the
  // writer syncs (invariant 3); the others are committed with synchronous = FULL and need no sync.
  // `listener` (optional) must outlive the queue.
  write_queue(std::unique_ptr<database> db, std::size_t max_batch, fhir::epoch_ms last_written, const char* unsynced_schema,
              transaction_listener* listener = nullptr);
  // Finishes every queued job, then stops the writer thread.
  ~write_queue();

  // Queues the job and waits until it has committed or failed. Thread-safe.
  void run(write_job& job);
  // Queues the job and returns at once; its finished() reports the outcome. Thread-safe.
  void post(std::unique_ptr<write_job> job);

 private:
  void enqueue(write_job* job);
  void loop();
  void run_batch(std::deque<write_job*>& batch);
  // Runs `jobs` in one transaction (invariant 2); false, each job failed, when it did not commit (or
  // every job reported failure).
  bool commit(std::span<write_job* const> jobs, fhir::epoch_ms now);
  // One attempt: true committed, false failed; nullopt when the first job reported failure, its
  // transaction rolled back and the rest still to run.
  std::optional<bool> commit_once(std::span<write_job* const> jobs, fhir::epoch_ms now);
  void sync_log();

  std::unique_ptr<database> db_;
  std::size_t max_batch_;
  const char* unsynced_schema_;
  transaction_listener* listener_;
  fhir::epoch_ms last_written_;  // writer thread only
  // Writer thread only: when the first commit not yet synced to disk was made.
  std::optional<std::chrono::steady_clock::time_point> unsynced_since_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<write_job*> queue_;  // guarded by mutex_
  bool stopping_ = false;         // guarded by mutex_
  bool writer_waiting_ = false;   // guarded by mutex_: the writer is blocked in wake_.wait
  std::thread thread_;
};

}  // namespace store::sqlite
