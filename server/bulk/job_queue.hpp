#pragma once
// Asynchronous bulk jobs (the async pattern of Bulk Data Access 2.0, async.html; used by $export and
// $import): accepted at kick-off, run one at a time on a thread of their own, polled, cancelled, and
// forgotten when they expire. A job belongs to the caller who started it: nobody else can see its status
// or files (another caller's status and file URLs are 404, as if they did not exist).
//
// Each job has a directory under the queue's directory, readable by the server's user only. Jobs are
// kept in memory: a restart forgets them. What a job does is decided by the runner given at construction,
// so the queue knows nothing of FHIR.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fhir/result.hpp"
#include "fhir/time.hpp"
#include "server/auth/authenticator.hpp"

namespace server::bulk {

enum class job_state { queued, running, complete, failed };

// What the status request of any job reports.
struct job_progress {
  job_state state = job_state::queued;
  std::string progress = "queued";  // X-Progress while queued or running
  std::string failure;               // why it failed (for the operator's log; clients get a generic message)
  fhir::epoch_ms finished = 0;
};

class job {
 public:
  job(std::string id, auth::caller owner, std::string directory);
  virtual ~job() = default;
  job(const job&) = delete;
  job& operator=(const job&) = delete;

  const std::string& id() const { return id_; }
  const auth::caller& owner() const { return owner_; }
  const std::string& directory() const { return directory_; }

  // Set by a cancellation; runners check it between steps and stop.
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  const std::atomic<bool>& cancel_flag() const { return cancelled_; }

  void set_progress(std::string progress);
  void set_state(job_state state, std::string failure = {});
  job_progress progress() const;

 protected:
  // Guards the progress, and whatever status a kind of job adds (its members are set under it too).
  mutable std::mutex mutex_;
  job_progress progress_;  // under mutex_

 private:
  std::string id_;
  auth::caller owner_;
  std::string directory_;
  std::atomic<bool> cancelled_{false};
};

// A kind of job whose status request reports `Status` (derived from job_progress): what the job adds to
// its progress, kept under the job's mutex.
template <class Status>
class job_with : public job {
 public:
  using job::job;

  Status status() const {
    std::lock_guard lock(mutex_);
    Status out = status_;
    static_cast<job_progress&>(out) = progress_;
    return out;
  }

 protected:
  // Changes the job's own part of the status under the mutex: `change(Status&)`.
  template <class Change>
  void update(Change&& change) {
    std::lock_guard lock(mutex_);
    change(status_);
  }

 private:
  Status status_;
};

// Whether `a` and `b` are the same caller (issuer, user, client, patient, roles, scopes, controller and
// purpose): the binding of a job to who started it, so a token with less access cannot collect it.
bool same_caller(const auth::caller& a, const auth::caller& b);

struct job_settings {
  std::string directory;                       // where job directories are made
  fhir::epoch_ms retention = 6 * 3'600'000;    // how long a finished job's files stay
  std::size_t max_unfinished = 8;              // queued or running jobs at once, beyond that 503 + Retry-After
  std::size_t max_unfinished_per_caller = 2;   // so that one caller cannot hold every place
  // Job directories no job of this run holds (left by an earlier run): removed at start-up and whenever
  // found, except those holding a file named `resumable_marker` (work that can continue when submitted
  // again into the same directory), kept until they have been untouched for `keep_leftovers`.
  std::string resumable_marker;
  fhir::epoch_ms keep_leftovers = 0;
  std::string kind = "bulk";                   // "export", "import": for messages and the log
};

class job_queue {
 public:
  using runner = std::function<fhir::result<fhir::done>(job&)>;

  // Removes (or keeps, see job_settings::keep_leftovers) the job directories earlier runs left in
  // `settings.directory`, and nothing else there. Finished jobs expire on their own (checked every minute
  // and on every call).
  job_queue(job_settings settings, runner run);
  ~job_queue();  // cancels the running job and waits for the thread
  job_queue(const job_queue&) = delete;
  job_queue& operator=(const job_queue&) = delete;

  // The directory of a job named `name`: a UUID (one directory per job), or 64 hex digits (a key that
  // names the same work whenever it is asked for again, so that it can continue).
  std::string directory_for(const std::string& name) const;

  // Queues `j`, making its directory. When a job of the same directory is still unfinished, that job is
  // returned instead (the same work is not done twice at once); a finished one is forgotten, its
  // directory left to the new job. Fails busy when too many are unfinished, fault when the directory
  // cannot be made.
  fhir::result<std::shared_ptr<job>> submit(std::shared_ptr<job> j, fhir::epoch_ms now);
  // The job `id` of `caller`; null when there is none (unknown, expired, cancelled, or another caller's).
  std::shared_ptr<job> find(const std::string& id, const auth::caller& caller, fhir::epoch_ms now);
  // Cancels and forgets the job (its directory is removed once it stops). False when find() would not find it.
  bool cancel(const std::string& id, const auth::caller& caller, fhir::epoch_ms now);
  // How long a finished job's files stay (the manifest's Expires).
  fhir::epoch_ms retention() const { return settings_.retention; }

 private:
  void work();
  // With mutex_ held: forgets the expired jobs and returns their directories, for removal outside the lock.
  std::vector<std::string> expire(fhir::epoch_ms now);
  // With mutex_ held: the job directories no job holds that are to go (job_settings::keep_leftovers).
  std::vector<std::string> leftovers();
  // Whether `directory` holds work that can continue (job_settings::resumable_marker).
  bool resumable(const std::string& directory) const;
  // Removes them (without mutex_ held), then forgets them in removing_.
  void remove_directories(const std::vector<std::string>& paths);

  job_settings settings_;
  runner run_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::shared_ptr<job>> jobs_;
  std::deque<std::shared_ptr<job>> queue_;
  std::shared_ptr<job> running_;
  std::vector<std::string> doomed_;  // directories of cancelled jobs still running
  std::multiset<std::string> removing_;  // directories expired or cancelled and not yet removed: not to be taken
  bool stopping_ = false;
  std::thread thread_;  // started by the first submit
};

// A queue of one kind of job (J derives from job): its runner and lookups see that kind.
template <class J>
class jobs_of {
 public:
  jobs_of(job_settings settings, std::function<fhir::result<fhir::done>(J&)> run)
      : queue_(std::move(settings), [run = std::move(run)](job& j) { return run(static_cast<J&>(j)); }) {}

  std::string directory_for(const std::string& name) const { return queue_.directory_for(name); }
  fhir::result<std::shared_ptr<J>> submit(std::shared_ptr<J> j, fhir::epoch_ms now) {
    auto queued = queue_.submit(std::move(j), now);
    if (!queued) return std::move(queued).error();
    return std::static_pointer_cast<J>(*queued);
  }
  std::shared_ptr<J> find(const std::string& id, const auth::caller& caller, fhir::epoch_ms now) {
    return std::static_pointer_cast<J>(queue_.find(id, caller, now));
  }
  bool cancel(const std::string& id, const auth::caller& caller, fhir::epoch_ms now) { return queue_.cancel(id, caller, now); }
  fhir::epoch_ms retention() const { return queue_.retention(); }

 private:
  job_queue queue_;
};

}  // namespace server::bulk
