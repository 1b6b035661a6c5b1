// The write queue's pipelined sync (store/sqlite/write_queue.hpp, invariant 5), with a log sync the test
// holds or breaks: an acknowledgement, and a reader's result, never come before the disk has the write.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/sqlite/database.hpp"
#include "store/sqlite/write_queue.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using store::sqlite::database;
using store::sqlite::write_job;
using store::sqlite::write_queue;

// A log sync that waits until the test lets it finish, or fails.
struct held_sync : store::sqlite::log_sync {
  std::mutex mutex;
  std::condition_variable changed;
  int started = 0;
  bool released = false;
  bool fail = false;

  void sync() override {
    std::unique_lock lock(mutex);
    ++started;
    changed.notify_all();
    if (fail) throw std::runtime_error("the disk reported an I/O error");
    // Not for ever: a test that stops before releasing it fails (the queue stops) instead of hanging.
    if (!changed.wait_for(lock, 30s, [&] { return released; })) throw std::runtime_error("the test never released the sync");
    if (fail) throw std::runtime_error("the disk reported an I/O error");
  }
  void release(bool failing = false) {
    std::lock_guard lock(mutex);
    released = true;
    fail = failing;
    changed.notify_all();
  }
  bool wait_started(int n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 10s, [&] { return started >= n; });
  }
};

std::unique_ptr<database> open_writer(const std::string& path) {
  auto db = std::make_unique<database>(path, store::sqlite::open_options{});
  db->exec("PRAGMA journal_mode = WAL");
  db->exec("PRAGMA synchronous = FULL");
  db->exec("CREATE TABLE t(n INTEGER PRIMARY KEY)");
  return db;
}

// A queue whose log sync the test holds (or breaks), on a database of its own.
struct queue_on_held_disk {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("queue.db");
  held_sync& disk = *new held_sync;  // owned by the queue
  write_queue queue{open_writer(path), 16, 0, "main", nullptr, std::unique_ptr<store::sqlite::log_sync>(&disk)};
};

std::int64_t rows(const std::string& path) {
  database reader(path, store::sqlite::open_options{.read_only = true});
  auto st = reader.cached("SELECT count(*) FROM t");
  REQUIRE(st->step());
  return st->column_int64(0);
}

// A write of row `n` whose outcome the test reads after run() returns.
struct insert_job {
  write_job job;
  std::atomic<bool> applied{false};
  std::optional<std::string> failure;  // the failure's code, when fail() ran

  explicit insert_job(int n) {
    job.apply = [this, n](database& db, fhir::epoch_ms) {
      db.cached("INSERT INTO t(n) VALUES (?1)")->bind(1, n).run();
      applied = true;
      return true;
    };
    job.fail = [this](fhir::error e) { failure = e.issues().front().message_id; };
  }
};

// A job for post() (the queue deletes it) that applies `apply` and reports its end to `done`.
write_job* posted_job(std::function<bool(database&, fhir::epoch_ms)> apply, std::promise<void>& done) {
  auto* job = new write_job;
  job->apply = std::move(apply);
  job->fail = [](fhir::error) {};
  job->finished = [&done] { done.set_value(); };
  return job;
}

// Makes `first` queue `next` while it is applied, so the writer is not idle when `first` commits (an idle
// writer syncs itself; a busy one hands the sync to its thread and goes on).
void queue_while_applied(insert_job& first, write_queue& queue, write_job* next) {
  first.job.apply = [apply = first.job.apply, &queue, next](database& db, fhir::epoch_ms now) mutable {
    if (next) queue.post(std::unique_ptr<write_job>(std::exchange(next, nullptr)));
    return apply(db, now);
  };
}

template <typename Predicate>
bool eventually(Predicate done) {
  for (auto until = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(1ms))
    if (done()) return true;
  return false;
}

}  // namespace

TEST_CASE("write queue: a write is acknowledged, and what a reader saw of it used, only after the log sync that follows its commit",
          "[store][write-queue]") {
  queue_on_held_disk held;
  auto& [dir, path, disk, queue] = held;

  insert_job first(1);
  auto acknowledged = std::async(std::launch::async, [&] { queue.run(first.job); });
  REQUIRE(disk.wait_started(1));
  // Committed to the log (another connection sees it) but not on disk: not acknowledged.
  CHECK(rows(path) == 1);
  CHECK(acknowledged.wait_for(100ms) == std::future_status::timeout);
  // A reader that may have seen it waits too.
  auto reader = std::async(std::launch::async, [&] { return queue.await_durable(); });
  CHECK(reader.wait_for(100ms) == std::future_status::timeout);

  disk.release();
  CHECK(acknowledged.wait_for(10s) == std::future_status::ready);
  CHECK(reader.wait_for(10s) == std::future_status::ready);
  CHECK(reader.get());
  CHECK_FALSE(first.failure);
  CHECK(disk.started == 1);
  CHECK(queue.await_durable());
}

TEST_CASE("write queue: a busy writer hands the sync to its own thread and applies the next writes meanwhile",
          "[store][write-queue]") {
  // Declared before the queue, which may still answer the posted job when a check fails.
  std::atomic<bool> second_applied{false};
  std::promise<void> second_done;
  auto acknowledged_second = second_done.get_future();
  queue_on_held_disk held;
  auto& [dir, path, disk, queue] = held;

  // The first write queues the second while it is applied, so the writer is not idle when the first
  // commits (an idle writer syncs itself: the test before).
  insert_job first(1);
  queue_while_applied(first, queue, posted_job([&](database& db, fhir::epoch_ms) {
    db.cached("INSERT INTO t(n) VALUES (2)")->run();
    second_applied = true;
    return true;
  }, second_done));
  auto acknowledged = std::async(std::launch::async, [&] { queue.run(first.job); });
  REQUIRE(disk.wait_started(1));
  CHECK(eventually([&] { return second_applied.load(); }));  // the writer is not held by the sync
  CHECK(acknowledged.wait_for(50ms) == std::future_status::timeout);
  // More writes queued while the sync runs join the second one's open transaction.
  std::vector<std::unique_ptr<insert_job>> later;
  std::vector<std::future<void>> answers;
  for (int n = 3; n <= 6; ++n) {
    later.push_back(std::make_unique<insert_job>(n));
    answers.push_back(std::async(std::launch::async, [&queue, job = later.back().get()] { queue.run(job->job); }));
  }
  CHECK(eventually([&] {
    return std::all_of(later.begin(), later.end(), [](const auto& job) { return job->applied.load(); });
  }));
  CHECK(rows(path) == 1);  // not committed: a batch commits once the sync before it is done
  CHECK(acknowledged_second.wait_for(50ms) == std::future_status::timeout);

  disk.release();
  CHECK(acknowledged.wait_for(10s) == std::future_status::ready);
  CHECK(acknowledged_second.wait_for(10s) == std::future_status::ready);
  for (auto& answer : answers) CHECK(answer.wait_for(10s) == std::future_status::ready);
  CHECK_FALSE(first.failure);
  CHECK(disk.started == 2);  // one sync for the five writes after the first
  CHECK(rows(path) == 6);
  CHECK(queue.await_durable());
}

TEST_CASE("write queue: a failed log sync fails its writes, every later write and the readers' waits",
          "[store][write-queue]") {
  queue_on_held_disk held;
  auto& [dir, path, disk, queue] = held;
  {
    std::lock_guard lock(disk.mutex);
    disk.fail = true;
  }

  insert_job first(1);
  queue.run(first.job);
  CHECK(first.applied);
  CHECK(first.failure == "store-sync-failed");  // what the disk holds is unknown: not reported stored
  CHECK_FALSE(queue.await_durable());

  insert_job later(2);
  queue.run(later.job);
  CHECK_FALSE(later.applied);  // the queue has stopped writing
  CHECK(later.failure == "store-sync-failed");
}

// Without a log sync the connection's own synchronous setting makes commits durable (the crash tests
// cover that); here: the queue commits, acknowledges, and never makes a reader wait.
TEST_CASE("write queue: without a log sync a write is committed and acknowledged, and readers never wait", "[store][write-queue]") {
  fhir::testing::temp_dir dir;
  std::string path = dir.file("inline.db");
  write_queue queue(open_writer(path), 16, 0, "main");
  insert_job first(1);
  queue.run(first.job);
  CHECK(first.applied);
  CHECK_FALSE(first.failure);
  CHECK(rows(path) == 1);
  CHECK(queue.await_durable());
}

TEST_CASE("write queue: a job reading on the writer thread never waits for its own batch",
          "[store][write-queue]") {
  queue_on_held_disk held;
  auto& [dir, path, disk, queue] = held;

  // Alone, with nothing unsynced before it, the job's read does not wait (a wait for its own batch,
  // which cannot commit before the job returns, would never end).
  std::atomic<int> reads_done{0};
  write_job reading;
  reading.apply = [&](database&, fhir::epoch_ms) {
    (void)queue.await_durable();  // would never return if it waited for this batch
    ++reads_done;
    return true;
  };
  reading.fail = [](fhir::error) {};
  auto alone = std::async(std::launch::async, [&] { queue.run(reading); });
  CHECK(eventually([&] { return reads_done.load() == 1; }));
  disk.release();  // its batch's sync (the job committed, if nothing) answers it
  CHECK(alone.wait_for(10s) == std::future_status::ready);
}

TEST_CASE("write queue: a job reading on the writer thread waits while the batch before it is being synced",
          "[store][write-queue]") {
  std::atomic<bool> read_started{false}, read_done{false}, read_durable{false};  // before the queue (above)
  std::promise<void> reading_done;
  auto second = reading_done.get_future();
  queue_on_held_disk held;
  auto& [dir, path, disk, queue] = held;

  // As in the busy-writer test: the first write queues the reading job, so its sync goes to the sync
  // thread and the reading job runs meanwhile.
  insert_job first(1);
  queue_while_applied(first, queue, posted_job([&](database&, fhir::epoch_ms) {
    read_started = true;
    read_durable = queue.await_durable();  // it could have seen row 1, which is not on disk yet
    read_done = true;
    return true;
  }, reading_done));
  auto acknowledged = std::async(std::launch::async, [&] { queue.run(first.job); });
  REQUIRE(disk.wait_started(1));
  CHECK(eventually([&] { return read_started.load(); }));
  std::this_thread::sleep_for(100ms);
  CHECK_FALSE(read_done);
  disk.release();
  CHECK(eventually([&] { return read_done.load(); }));
  CHECK(second.wait_for(10s) == std::future_status::ready);
  CHECK(acknowledged.wait_for(10s) == std::future_status::ready);
  CHECK(read_durable);
}

TEST_CASE("write queue: a batch that committed nothing to the database answers no reader before the sync in flight",
          "[store][write-queue]") {
  std::promise<void> trail_done;  // before the queue (above)
  auto trail_answered = trail_done.get_future();
  queue_on_held_disk held;
  auto& [dir, path, disk, queue] = held;

  // The first write queues a job of the read trail's kind (durable = false; here it writes nothing),
  // so the first's sync goes to the sync thread and the writer, idle after the second, has only a
  // batch that committed nothing to the database to answer.
  insert_job first(1);
  // Applied once the first's sync runs on the sync thread: then the writer finds it answering.
  write_job* trail = posted_job([&disk](database&, fhir::epoch_ms) { return disk.wait_started(1); }, trail_done);
  trail->durable = false;
  trail->isolated = false;
  queue_while_applied(first, queue, trail);
  auto acknowledged = std::async(std::launch::async, [&] { queue.run(first.job); });
  REQUIRE(disk.wait_started(1));
  REQUIRE(trail_answered.wait_for(10s) == std::future_status::ready);
  // Row 1 is visible and not on disk: a reader still waits.
  auto reader = std::async(std::launch::async, [&] { return queue.await_durable(); });
  CHECK(reader.wait_for(100ms) == std::future_status::timeout);
  disk.release();
  CHECK(reader.wait_for(10s) == std::future_status::ready);
  CHECK(reader.get());
  CHECK(acknowledged.wait_for(10s) == std::future_status::ready);
}

TEST_CASE("write queue: a read-trail job that reads through a reader after its batch's commit fails instead of waiting for ever",
          "[store][write-queue]") {
  std::promise<void> trail_done, write_done;  // before the queue (above)
  auto trail_answered = trail_done.get_future();
  auto write_answered = write_done.get_future();
  std::optional<std::string> trail_failure;
  std::atomic<bool> busy_applying{false};
  queue_on_held_disk held;
  auto& [dir, path, disk, queue] = held;
  disk.release();

  // A durable write and a read-trail job in one batch: the trail's transaction runs after the batch's
  // database COMMIT, before that commit is handed to the sync, so a wait there could never end.
  std::promise<void> hold_released;
  auto holding = hold_released.get_future().share();
  insert_job busy(1);
  busy.job.apply = [apply = busy.job.apply, holding, &busy_applying](database& db, fhir::epoch_ms now) {
    busy_applying = true;
    holding.wait();
    return apply(db, now);
  };
  write_job* trail = posted_job([&queue](database&, fhir::epoch_ms) { return queue.await_durable(); }, trail_done);
  trail->durable = false;
  trail->fail = [&trail_failure](fhir::error e) { trail_failure = e.issues().front().message_id; };
  auto first = std::async(std::launch::async, [&] { queue.run(busy.job); });
  bool held_in_first = eventually([&] { return busy_applying.load(); });
  // Both queued while the writer is held: they make the next batch together.
  queue.post(std::unique_ptr<write_job>(posted_job([](database& db, fhir::epoch_ms) {
    db.cached("INSERT INTO t(n) VALUES (2)")->run();
    return true;
  }, write_done)));
  queue.post(std::unique_ptr<write_job>(trail));
  hold_released.set_value();
  REQUIRE(held_in_first);
  CHECK(trail_answered.wait_for(10s) == std::future_status::ready);
  CHECK(trail_failure);  // failed, not hung
  CHECK(first.wait_for(10s) == std::future_status::ready);
  CHECK(write_answered.wait_for(10s) == std::future_status::ready);
  CHECK(rows(path) == 2);
}

TEST_CASE("write queue: a sync that fails while the next batch gathers fails that batch too, and the readers waiting",
          "[store][write-queue]") {
  std::atomic<bool> second_applied{false};  // before the queue (above)
  std::optional<std::string> second_failure;
  std::promise<void> second_done;
  auto second_answered = second_done.get_future();
  queue_on_held_disk held;
  auto& [dir, path, disk, queue] = held;

  insert_job first(1);
  write_job* second = posted_job([&](database& db, fhir::epoch_ms) {
    db.cached("INSERT INTO t(n) VALUES (2)")->run();
    second_applied = true;
    return true;
  }, second_done);
  second->fail = [&second_failure](fhir::error e) { second_failure = e.issues().front().message_id; };
  queue_while_applied(first, queue, second);
  auto acknowledged = std::async(std::launch::async, [&] { queue.run(first.job); });
  REQUIRE(disk.wait_started(1));
  CHECK(eventually([&] { return second_applied.load(); }));  // gathering in its open transaction
  auto reader = std::async(std::launch::async, [&] { return queue.await_durable(); });
  CHECK(reader.wait_for(100ms) == std::future_status::timeout);

  disk.release(/*failing=*/true);
  CHECK(reader.wait_for(10s) == std::future_status::ready);
  CHECK_FALSE(reader.get());
  CHECK(acknowledged.wait_for(10s) == std::future_status::ready);
  CHECK(first.failure == "store-sync-failed");
  CHECK(second_answered.wait_for(10s) == std::future_status::ready);
  CHECK(second_failure == "store-sync-failed");
  CHECK(rows(path) == 1);  // the gathering batch rolled back: the queue had stopped
}
