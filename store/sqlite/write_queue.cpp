#include "store/sqlite/write_queue.hpp"

#include <pthread.h>

#include <algorithm>
#include <future>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace store::sqlite {
namespace {

fhir::error storage_error(const std::exception& e) {
  const auto* sql = dynamic_cast<const sqlite_error*>(&e);
  if (sql && sql->is_busy())
    return fhir::error(fhir::error_kind::busy, fhir::issue_type::transient,
                       "The database is busy; retry the request", "store-busy");
  return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception,
                     fmt::format("storage failure: {}", e.what()), "store-fault");
}

}  // namespace

// Invariant 5: what the writer, a reader and the waiting jobs are told once a sync has failed.
fhir::error sync_failure(std::string_view what) {
  return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception,
                     fmt::format("storage failure: the database's log could not be synced to disk ({}); whether the "
                                 "latest writes are stored is unknown, and the server takes no more requests that "
                                 "use the database until it is restarted",
                                 what),
                     "store-sync-failed");
}

write_queue::write_queue(std::unique_ptr<database> db, std::size_t max_batch, fhir::epoch_ms last_written, const char* unsynced_schema,
                         transaction_listener* listener, std::unique_ptr<log_sync> syncer)
    : db_(std::move(db)),
      max_batch_(std::max<std::size_t>(1, max_batch)),
      unsynced_schema_(unsynced_schema),
      listener_(listener),
      last_written_(last_written),
      log_sync_(std::move(syncer)) {
  if (log_sync_) {
    db_->exec("PRAGMA main.synchronous = NORMAL");  // invariant 5: the sync thread makes commits durable
    sync_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "fhir-log-sync");
      sync_loop();
    });
  }
  try {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "fhir-writer");  // shown by top -H, perf and gdb
      loop();
    });
  } catch (...) {
    stop_sync_thread();  // a joinable thread must not be destroyed
    throw;
  }
}

void write_queue::stop_sync_thread() {
  if (!sync_thread_.joinable()) return;
  {
    std::lock_guard lock(sync_mutex_);
    sync_stopping_ = true;
  }
  sync_wake_.notify_all();
  sync_thread_.join();
}

write_queue::~write_queue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();  // every queued job has run; the durable ones may still wait for their sync
  stop_sync_thread();
}

void write_queue::run(write_job& job) {
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  job.finished = [&done] { done.set_value(); };
  enqueue(&job);
  finished.wait();
}

void write_queue::post(std::unique_ptr<write_job> job) {
  job->owned_by_queue = true;
  enqueue(job.release());
}

void write_queue::enqueue(write_job* job) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(job);
    wake = writer_waiting_;  // a busy writer takes the job with its next batch: no system call to wake it
  }
  if (wake) wake_.notify_one();
}

void write_queue::loop() {
  for (;;) {
    std::deque<write_job*> batch;
    {
      std::unique_lock lock(mutex_);
      auto ready = [&] { return stopping_ || !queue_.empty(); };
      // Unsynced commits (invariant 3) reach the disk max_unsynced after the first of them, busy or idle
      // (syncing sooner when idle would hold the writer while the next requests queue).
      if (unsynced_since_ && std::chrono::steady_clock::now() >= *unsynced_since_ + max_unsynced) {
        lock.unlock();
        sync_log();
        continue;
      }
      writer_waiting_ = true;
      if (unsynced_since_) wake_.wait_until(lock, *unsynced_since_ + max_unsynced, ready);
      else wake_.wait(lock, ready);
      writer_waiting_ = false;
      if (!ready()) continue;  // the sync is due
      if (queue_.empty()) {  // stopping, and everything queued is done
        lock.unlock();
        if (unsynced_since_) sync_log();
        return;
      }
      std::size_t n = std::min(queue_.size(), max_batch_);
      batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    run_batch(batch);
  }
}

void write_queue::sync_log() {
  try {
    db_->sync_journal(unsynced_schema_);
    unsynced_since_.reset();
  } catch (const std::exception&) {
    // The commits stay in the file (they survive a killed process); the sync is tried again after
    // another max_unsynced, and a durable commit meanwhile reports the disk's failure if it persists.
    unsynced_since_ = std::chrono::steady_clock::now();
  }
}

void write_queue::run_batch(std::deque<write_job*>& batch) {
  if (sync_failed_.load()) {  // invariant 5: the queue has stopped
    for (write_job* job : batch) {
      job->fail(sync_failure());
      finish(job);
    }
    return;
  }
  fhir::epoch_ms now = std::max(fhir::now_ms(), last_written_);  // invariant 4
  // Durable jobs commit first, in a transaction of their own; the others (which write only to databases
  // committed with synchronous = NORMAL) in a second one after it. A transaction spanning two files in
  // WAL mode is not atomic across them: one that failed in its second file's commit would have stored
  // the first file's writes while reporting them failed (invariant 3).
  std::vector<write_job*> durable, unsynced;
  for (write_job* job : batch) (job->durable ? durable : unsynced).push_back(job);
  // Invariant 5: the batch commits once the previous one's sync is done, and takes the jobs queued
  // meanwhile into its open transaction: one sync at a time, and batches as large as with SQLite's own.
  std::vector<write_job*>* gathered_unsynced = log_sync_ ? &unsynced : nullptr;
  bool wrote = false;
  if (!durable.empty() && commit(durable, now, gathered_unsynced)) {
    last_written_ = now;
    wrote = true;
  }
  // The number its COMMIT took; a batch that committed nothing takes the last one: its jobs may have read that.
  const std::uint64_t number = commits_begun_.load();
  in_read_trail_commit_ = true;  // await_durable(): its jobs must not read through readers
  const bool trail_committed = !unsynced.empty() && commit(unsynced, now, nullptr);
  in_read_trail_commit_ = false;
  if (trail_committed) {
    last_written_ = now;
    if (!unsynced_since_) unsynced_since_ = std::chrono::steady_clock::now();
  }
  if (listener_) {
    try {
      listener_->batch_done(*db_);
    } catch (const std::exception&) {
      // A figure the hook could not read stays as it was; the next batch tries again.
    }
  }
  if (!log_sync_) {
    for (write_job* job : batch) finish(job);
    return;
  }
  // Invariant 5: the read trail's jobs are answered now (their log is synced apart: invariant 3); the
  // durable jobs once a sync has made this batch durable, failed or not (a failure may have read what
  // is not yet on disk), while the writer goes on with the next batch.
  for (write_job* job : unsynced) finish(job);  // before an idle writer's own sync, which they need not wait for
  hand_to_sync(unsynced_batch{.number = number, .wrote = wrote, .jobs = std::move(durable)});
}

void write_queue::finish(write_job* job) {
  auto finished = std::move(job->finished);
  if (job->owned_by_queue) delete job;
  if (finished) finished();
}

void write_queue::hand_to_sync(unsynced_batch batch) {
  bool idle = false;  // no job is queued: the writer would only wait for the next
  {
    std::lock_guard lock(mutex_);
    idle = queue_.empty();
  }
  std::deque<unsynced_batch> own;
  {
    std::lock_guard lock(sync_mutex_);
    unsynced_.push_back(std::move(batch));
    // An idle writer syncs itself (with every batch still waiting, in order): handing the sync to the
    // other thread costs two thread wake-ups, which on a busy 2-core machine took longer than the sync.
    // Not while the sync thread answers earlier batches: answers go one at a time, in commit order.
    if (idle && !answering_) {
      own.swap(unsynced_);
      answering_ = true;
    }
  }
  if (!own.empty()) answer(own);
  else sync_wake_.notify_one();
}

void write_queue::sync_loop() {
  for (;;) {
    std::deque<unsynced_batch> batches;
    {
      std::unique_lock lock(sync_mutex_);
      sync_wake_.wait(lock, [&] { return !answering_ && (sync_stopping_ || !unsynced_.empty()); });
      if (unsynced_.empty()) return;  // stopping, and every batch is answered
      batches.swap(unsynced_);        // one sync serves every batch committed before it begins
      answering_ = true;
    }
    answer(batches);
  }
}

void write_queue::answer(std::deque<unsynced_batch>& batches) {
  std::optional<fhir::error> failure;
  if (sync_failed_.load()) {
    failure = sync_failure();
  } else if (std::any_of(batches.begin(), batches.end(), [](const unsynced_batch& b) { return b.wrote; })) {
    try {
      log_sync_->sync();
    } catch (const std::exception& e) {
      failure = sync_failure(e.what());
    }
  }
  {
    std::lock_guard lock(sync_mutex_);
    if (failure) sync_failed_.store(true);
    else synced_through_.store(batches.back().number);  // answers go in commit order: it only grows
  }
  synced_.notify_all();
  {
    std::lock_guard lock(mutex_);  // the writer may wait for this sync to commit its batch
  }
  wake_.notify_all();
  for (unsynced_batch& b : batches)
    for (write_job* job : b.jobs) {
      if (failure) job->fail(*failure);
      finish(job);
    }
  {
    std::lock_guard lock(sync_mutex_);
    answering_ = false;  // only now: callers are answered in commit order too
  }
  sync_wake_.notify_one();  // batches handed meanwhile
}

bool write_queue::sync_in_flight() const {
  // A batch is numbered at its COMMIT and answered once synced: a number above the last answered one is
  // a commit waiting for its sync (or a failed COMMIT's, answered without one at once).
  return !sync_failed_.load() && synced_through_.load() < commits_begun_.load();
}

bool write_queue::await_durable() {
  if (!log_sync_) return true;
  const std::uint64_t seen = commits_begun_.load();
  // Every commit the reader could have seen is numbered so far (a batch is numbered just before its
  // COMMIT). A job's read on the writer thread (a unit of work reads through a reader connection:
  // consent rules) sees the batches before its own, all handed to the sync already: it waits for them.
  // Only a read-trail job, after its batch's database COMMIT, could see a batch not yet handed, whose
  // sync would wait for the writer: such jobs must not read through readers.
  // (The flag is the writer thread's own: read only there, so readers on other threads never race on it.)
  if (std::this_thread::get_id() == thread_.get_id() && in_read_trail_commit_)
    throw std::logic_error("a job of the read trail read the database through a reader connection (write_queue.hpp, invariant 5)");
  if (synced_through_.load() >= seen) return true;   // the usual case: nothing is waiting for the disk
  std::unique_lock lock(sync_mutex_);
  synced_.wait(lock, [&] { return synced_through_.load() >= seen || sync_failed_.load(); });
  return synced_through_.load() >= seen;
}

bool write_queue::commit(std::vector<write_job*>& jobs, fhir::epoch_ms& now, std::vector<write_job*>* gathered_unsynced) {
  for (std::size_t from = 0; from < jobs.size(); ++from)
    if (std::optional<bool> committed = commit_once(jobs, from, now, gathered_unsynced)) return *committed;
  return false;  // every job's apply() reported failure
}

std::optional<bool> write_queue::commit_once(std::vector<write_job*>& jobs, std::size_t from, fhir::epoch_ms& now,
                                             std::vector<write_job*>* gathered_unsynced) {
  try {
    transaction tx(*db_);
    if (listener_) listener_->began(*db_);
    // `jobs` grows while the previous batch's sync runs (gather_while_syncing): the loop reads its size anew.
    for (std::size_t i = from;; ++i) {
      if (i == jobs.size() && !(gathered_unsynced && gather_while_syncing(jobs, *gathered_unsynced, now))) break;
      write_job* job = jobs[i];
      if (!job->isolated) {
        if (!job->apply(*db_, now)) throw std::logic_error("a write job without a savepoint reported failure");
        continue;
      }
      // The transaction's first job needs no savepoint: rolling the transaction back undoes its work and
      // nothing else. A savepoint is not free: SQLite copies each page changed inside one into a
      // statement journal (once per savepoint), which for a transaction Bundle of 100 entries, often
      // alone in its batch, cost a sixth of its ingest rate (issue 6's note). Between the rollback and
      // the next BEGIN the write lock is free: another process (an offline import) may take it.
      const bool first = i == from;
      if (!first) db_->cached("SAVEPOINT job")->run();
      bool ok = false;
      try {
        ok = job->apply(*db_, now);
      } catch (const std::exception& e) {
        job->fail(storage_error(e));
      }
      if (first && !ok) {
        tx.rollback();
        if (listener_) listener_->rolled_back();
        return std::nullopt;  // the other jobs begin again without it
      }
      if (!ok) {
        db_->cached("ROLLBACK TO job")->run();
        if (listener_) listener_->rolled_back();
      }
      if (!first) db_->cached("RELEASE job")->run();
    }
    if (gathered_unsynced) {  // invariant 5
      // A sync failed while this batch gathered: the queue has stopped, and nothing more is committed.
      if (sync_failed_.load()) throw std::runtime_error("an earlier sync failed");
      // Numbered before the commit can be seen: a reader who sees it reads at least this number.
      commits_begun_.fetch_add(1);
    }
    tx.commit();  // invariant 3: acknowledged only after this returns (and, under invariant 5, a sync)
    return true;
  } catch (const std::exception& e) {
    if (listener_) listener_->rolled_back();  // tx's destructor has rolled back what COMMIT did not
    const bool stopped = sync_failed_.load();  // set only under invariant 5
    for (std::size_t i = from; i < jobs.size(); ++i) jobs[i]->fail(stopped ? sync_failure() : storage_error(e));
    return false;
  }
}

bool write_queue::gather_while_syncing(std::vector<write_job*>& durable, std::vector<write_job*>& unsynced, fhir::epoch_ms& now) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!sync_in_flight()) return false;  // commit now
    const std::size_t taken = durable.size() + unsynced.size();
    if (taken < max_batch_ && !queue_.empty()) {
      const std::size_t before = durable.size();
      for (std::size_t n = std::min(queue_.size(), max_batch_ - taken); n > 0; --n) {
        write_job* job = queue_.front();
        queue_.pop_front();
        (job->durable ? durable : unsynced).push_back(job);
      }
      if (durable.size() > before) {
        now = std::max(now, fhir::now_ms());  // their lastUpdated is not older than their arrival
        return true;                          // to apply in the open transaction
      }
      continue;
    }
    writer_waiting_ = true;
    wake_.wait(lock, [&] { return !sync_in_flight() || (!queue_.empty() && durable.size() + unsynced.size() < max_batch_); });
    writer_waiting_ = false;
  }
}

}  // namespace store::sqlite
