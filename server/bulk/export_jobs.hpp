#pragma once
// Bulk export jobs (Bulk Data Access 2.0): accepted at kick-off, run one at a time on a thread of their
// own, polled, downloaded, cancelled, and forgotten when they expire. A job belongs to the caller who
// started it: nobody else can see its status or files (the status and file URLs of another caller are
// 404, as if they did not exist).
//
// Files live in `directory/<job id>/`. Jobs are kept in memory only: a restart forgets them (their
// status URLs become 404 and the client starts again), and the files of earlier runs are removed at
// start-up. What a job exports is decided by the runner given at construction (export_run.hpp), so this
// registry knows nothing of FHIR searching or consent.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fhir/result.hpp"
#include "fhir/time.hpp"
#include "server/audit/audit_event.hpp"
#include "server/auth/authenticator.hpp"
#include "server/bulk/export_request.hpp"

namespace server::bulk {

// One NDJSON output file, and what a download of it returns (for the download's audit record).
struct export_file {
  std::string type;
  std::string name;       // "Observation-1.ndjson"
  std::size_t count = 0;  // resources (lines) in it
  std::vector<audit::resource_ref> resources;  // the first audit::max_entities
  std::vector<std::string> patients;           // the patients whose data it holds (the first audit::max_entities)
};

enum class job_state { queued, running, complete, failed };

// A job as the status request sees it.
struct job_status {
  job_state state = job_state::queued;
  std::string progress;  // X-Progress while queued or running
  // The instant the export's view is of, set when it starts: nothing modified later is exported, and
  // everything modified earlier had committed (the manifest's transactionTime).
  fhir::epoch_ms transaction_time = 0;
  std::vector<export_file> files;
  // What consent decided while the job ran, for the audit record of the request that collects the
  // manifest: the Consents that applied and the patients whose data was withheld (the first 100).
  std::vector<audit::consent_decision> decisions;
  std::vector<std::string> withheld_patients;
  std::string failure;   // why it failed (for the operator's log; clients get a generic message)
  fhir::epoch_ms finished = 0;
};

class export_job {
 public:
  export_job(std::string id, export_spec spec, auth::caller owner, std::string directory);

  const std::string& id() const { return id_; }
  const export_spec& spec() const { return spec_; }
  const auth::caller& owner() const { return owner_; }
  const std::string& directory() const { return directory_; }

  // Set by a cancellation; the runner checks it between pages and stops.
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }

  // For the runner.
  void set_progress(std::string progress);
  void set_transaction_time(fhir::epoch_ms t);
  void add_file(export_file file);
  void set_consent_record(std::vector<audit::consent_decision> decisions, std::vector<std::string> withheld_patients);
  // For the registry.
  void set_state(job_state state, std::string failure = {});
  job_status status() const;

 private:
  std::string id_;
  export_spec spec_;
  auth::caller owner_;
  std::string directory_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mutex_;
  job_status status_;
};

// Whether `a` and `b` are the same caller (issuer, user, client, patient, roles, scopes, controller and
// purpose): the binding of a job to who started it, so a token with less access cannot collect it.
bool same_caller(const auth::caller& a, const auth::caller& b);

struct export_settings {
  std::string directory;                       // where job directories are made
  fhir::epoch_ms retention = 6 * 3'600'000;    // how long a finished job's files stay
  std::size_t max_unfinished = 8;              // queued or running jobs at once, beyond that 503 + Retry-After
  std::size_t max_unfinished_per_caller = 2;   // so that one caller cannot hold every place
};

class export_jobs {
 public:
  // Runs one job, writing its files into job.directory() and adding them to the job; an error fails it.
  using runner = std::function<fhir::result<fhir::done>(export_job& job)>;

  // Removes the job directories earlier runs left in `settings.directory` (and nothing else there).
  // Finished jobs expire on their own (checked every minute and on every call).
  export_jobs(export_settings settings, runner run);
  ~export_jobs();  // cancels the running job and waits for the thread
  export_jobs(const export_jobs&) = delete;
  export_jobs& operator=(const export_jobs&) = delete;

  // Queues an export for `owner`. Fails busy when too many are unfinished, fault when its directory
  // cannot be made.
  fhir::result<std::shared_ptr<export_job>> submit(export_spec spec, const auth::caller& owner, fhir::epoch_ms now);
  // The job `id` of `caller`; null when there is none (unknown, expired, cancelled, or another caller's).
  std::shared_ptr<export_job> find(const std::string& id, const auth::caller& caller, fhir::epoch_ms now);
  // Cancels and forgets the job (its files are removed once it stops). False when find() would not find it.
  bool cancel(const std::string& id, const auth::caller& caller, fhir::epoch_ms now);
  // How long a finished job's files stay (the manifest's Expires).
  fhir::epoch_ms retention() const { return settings_.retention; }

 private:
  void work();
  // With mutex_ held: forgets the expired jobs and returns their directories, for removal outside the lock.
  std::vector<std::string> expire(fhir::epoch_ms now);
  static void remove_directories(const std::vector<std::string>& paths);

  export_settings settings_;
  runner run_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::shared_ptr<export_job>> jobs_;
  std::deque<std::shared_ptr<export_job>> queue_;
  std::shared_ptr<export_job> running_;
  std::vector<std::string> doomed_;  // directories of cancelled jobs still running
  bool stopping_ = false;
  std::thread thread_;  // started by the first submit
};

}  // namespace server::bulk
