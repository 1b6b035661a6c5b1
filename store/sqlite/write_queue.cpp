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

write_queue::write_queue(std::unique_ptr<database> db, std::size_t max_batch, fhir::epoch_ms last_written, const char* unsynced_schema,
                         transaction_listener* listener)
    : db_(std::move(db)),
      max_batch_(std::max<std::size_t>(1, max_batch)),
      unsynced_schema_(unsynced_schema),
      listener_(listener),
      last_written_(last_written) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fhir-writer");  // shown by top -H, perf and gdb
    loop();
  });
}

write_queue::~write_queue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
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
  fhir::epoch_ms now = std::max(fhir::now_ms(), last_written_);  // invariant 4
  // Durable jobs commit first, in a transaction of their own; the others (which write only to databases
  // committed with synchronous = NORMAL) in a second one after it. A transaction spanning two files in
  // WAL mode is not atomic across them: one that failed in its second file's commit would have stored
  // the first file's writes while reporting them failed (invariant 3).
  std::vector<write_job*> durable, unsynced;
  for (write_job* job : batch) (job->durable ? durable : unsynced).push_back(job);
  if (!durable.empty() && commit(durable, now)) last_written_ = now;
  if (!unsynced.empty() && commit(unsynced, now)) {
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
  for (write_job* job : batch) {
    auto finished = std::move(job->finished);
    if (job->owned_by_queue) delete job;
    if (finished) finished();
  }
}

bool write_queue::commit(std::span<write_job* const> jobs, fhir::epoch_ms now) {
  for (; !jobs.empty(); jobs = jobs.subspan(1))
    if (std::optional<bool> committed = commit_once(jobs, now)) return *committed;
  return false;  // every job's apply() reported failure
}

std::optional<bool> write_queue::commit_once(std::span<write_job* const> jobs, fhir::epoch_ms now) {
  try {
    transaction tx(*db_);
    if (listener_) listener_->began(*db_);
    for (write_job* job : jobs) {
      if (!job->isolated) {
        if (!job->apply(*db_, now)) throw std::logic_error("a write job without a savepoint reported failure");
        continue;
      }
      // The transaction's first job needs no savepoint: rolling the transaction back undoes its work and
      // nothing else. A savepoint is not free: SQLite copies each page changed inside one into a
      // statement journal (once per savepoint), which for a transaction Bundle of 100 entries, often
      // alone in its batch, cost a sixth of its ingest rate (issue 6's note). Between the rollback and
      // the next BEGIN the write lock is free: another process (an offline import) may take it.
      const bool first = job == jobs.front();
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
    tx.commit();  // invariant 3: acknowledged only after this returns
    return true;
  } catch (const std::exception& e) {
    if (listener_) listener_->rolled_back();  // tx's destructor has rolled back what COMMIT did not
    for (write_job* job : jobs) job->fail(storage_error(e));
    return false;
  }
}

}  // namespace store::sqlite
