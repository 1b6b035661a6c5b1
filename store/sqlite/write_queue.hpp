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
//     One COMMIT and one sync of the log (invariant 5) then make all the batch's durable jobs durable.
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
//  5. Pipelined sync (when the queue has a log_sync): the database is committed with synchronous =
//     NORMAL (the commit is in the log file, not yet on the disk) and the log is synced by a thread of
//     its own while the writer runs the next batch; a durable job is acknowledged (finished()) only
//     after a sync that began after its commit (invariant 3 holds: an acknowledged write survives a
//     power cut). Measured on 2 cores: the writer spent a third of its time waiting for the disk.
//     Readers see a commit before it is synced, so nothing they read may leave the store before it is:
//     a reader calls await_durable() after its last statement, and waits (only while a batch is between
//     its COMMIT and the end of its sync: about one sync under load) until every commit it could have
//     seen is on disk. One sync runs at a time, and batches are answered in commit order. A failed sync
//     leaves it unknown what the disk holds (Linux may drop the unwritten pages and report the next
//     sync clean), so the queue stops: that batch's jobs and every later one fail, as do readers'
//     waits, until the server is restarted (SQLite's recovery then finds what the disk holds).
//
// States of a job: queued -> applying (writer thread) -> finished (finished() has run). apply() and
// fail() run on the writer thread (fail() also on the sync thread, for a failed sync); finished() on
// the writer thread, or on the sync thread for durable jobs under invariant 5, so a finished() must
// not wait for the queue (run(), a read through the store): the writer may be waiting for that thread.
// The caller's thread waits in run(), or does not wait (post).

#include <atomic>
#include <chrono>
#include <cstdint>
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

// Makes everything written to the database's write-ahead log so far durable (invariant 5); called by
// the queue's sync thread or its writer, never by both at once. Throws when the disk reports a failure.
struct log_sync {
  virtual ~log_sync() = default;
  virtual void sync() = 0;
};

// What a job, a reader or the store is told once a sync has failed (invariant 5): 500, store-sync-failed.
fhir::error sync_failure(std::string_view what = "an earlier sync failed");

class write_queue {
 public:
  // `last_written` is the newest lastUpdated already stored (invariant 4 across restarts);
  // `unsynced_schema` the attached database that jobs with durable = false write to, whose log the
  // writer syncs (invariant 3); the database's commits are synced as invariant 5 says.
  // `listener` (optional) must outlive the queue. With a `syncer`, the database's commits are synced
  // by it on a thread of the queue's (invariant 5); without, by SQLite at each commit (synchronous =
  // FULL, as the connection was opened).
  write_queue(std::unique_ptr<database> db, std::size_t max_batch, fhir::epoch_ms last_written, const char* unsynced_schema,
              transaction_listener* listener = nullptr, std::unique_ptr<log_sync> syncer = nullptr);
  // Finishes every queued job, then stops the writer thread (and the sync thread, after its last sync).
  ~write_queue();

  // Queues the job and waits until it has committed or failed. Thread-safe.
  void run(write_job& job);
  // Queues the job and returns at once; its finished() reports the outcome. Thread-safe.
  void post(std::unique_ptr<write_job> job);

  // Called by a reader after its last statement, before anything it read is used: waits until every
  // commit it could have seen is durable (invariant 5; returns at once when nothing is being synced).
  // False when a sync failed first: what was read may not be on the disk. Thread-safe; on the writer
  // thread (a durable job reading through another connection) it waits for the batches before the
  // job's; a job with durable = false must not read so (std::logic_error).
  [[nodiscard]] bool await_durable();

 private:
  // The durable jobs of one batch, waiting for the sync that makes them durable (invariant 5).
  struct unsynced_batch {
    std::uint64_t number;          // the batch's place in commit order (commits_begun_ at its COMMIT)
    bool wrote;                    // a transaction of the batch committed to the database
    std::vector<write_job*> jobs;  // to finish once synced (or fail, if the sync fails)
  };

  void enqueue(write_job* job);
  void loop();
  void sync_loop();
  void run_batch(std::deque<write_job*>& batch);
  void hand_to_sync(unsynced_batch batch);
  // Syncs the log if one of `batches` wrote, then finishes their jobs (failing them if the sync failed).
  void answer(std::deque<unsynced_batch>& batches);
  static void finish(write_job* job);
  void stop_sync_thread();
  bool sync_in_flight() const;  // invariant 5: a committed batch waits for its sync
  // Runs `jobs` in one transaction (invariant 2); false, each job failed, when it did not commit (or
  // every job reported failure). With `gathered_unsynced` (invariant 5), jobs queued while the previous
  // batch's sync runs join: durable ones `jobs`, the others that list.
  bool commit(std::vector<write_job*>& jobs, fhir::epoch_ms& now, std::vector<write_job*>* gathered_unsynced);
  // One attempt from jobs[from]: true committed, false failed; nullopt when the first job reported
  // failure, its transaction rolled back and the rest still to run.
  std::optional<bool> commit_once(std::vector<write_job*>& jobs, std::size_t from, fhir::epoch_ms& now,
                                  std::vector<write_job*>* gathered_unsynced);
  // Invariant 5: waits until no sync is in flight (false: commit now), taking the jobs queued meanwhile
  // up to max_batch; true when durable ones were added to apply. `now` moves on for them (invariant 4).
  bool gather_while_syncing(std::vector<write_job*>& durable, std::vector<write_job*>& unsynced, fhir::epoch_ms& now);
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

  // Invariant 5. A batch's number is taken just before its COMMIT, so a reader that saw the commit reads
  // a commits_begun_ at least as large; synced_through_ is the number of the last batch made durable.
  std::unique_ptr<log_sync> log_sync_;
  std::atomic<std::uint64_t> commits_begun_{0};
  std::atomic<std::uint64_t> synced_through_{0};
  std::atomic<bool> sync_failed_{false};
  std::mutex sync_mutex_;
  std::condition_variable sync_wake_;      // the sync thread: batches to sync, or stopping
  std::condition_variable synced_;         // readers in await_durable: synced_through_ moved, or a sync failed
  // Writer thread only: its read-trail transaction runs (after the batch's COMMIT, before its hand-off).
  bool in_read_trail_commit_ = false;
  std::deque<unsynced_batch> unsynced_;    // guarded by sync_mutex_
  bool sync_stopping_ = false;             // guarded by sync_mutex_
  bool answering_ = false;                 // guarded by sync_mutex_: a thread is in answer() (one at a time)
  std::thread sync_thread_;

  std::thread thread_;  // last: started once every member above is ready
};

}  // namespace store::sqlite
