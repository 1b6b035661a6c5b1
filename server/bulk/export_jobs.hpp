#pragma once
// Bulk export jobs (Bulk Data Access 2.0): a job (job_queue.hpp) with what an export adds to its status:
// the files written, the view's instant and what consent decided. Jobs are kept in memory only: a
// restart forgets them (their status URLs become 404 and the client starts again), and the files of
// earlier runs are removed at start-up. What a job exports is decided by its runner (export_run.hpp).

#include <string>
#include <vector>

#include "server/audit/audit_event.hpp"
#include "server/bulk/export_request.hpp"
#include "server/bulk/job_queue.hpp"

namespace server::bulk {

// One NDJSON output file, and what a download of it returns (for the download's audit record).
struct export_file {
  std::string type;
  std::string name;       // "Observation-1.ndjson"
  std::size_t count = 0;  // resources (lines) in it
  std::vector<audit::resource_ref> resources;  // the first audit::max_entities
  std::vector<std::string> patients;           // the patients whose data it holds (the first audit::max_entities)
};

// An export job as the status request sees it.
struct export_status : job_progress {
  // The instant the export's view is of, set when it starts: nothing modified later is exported, and
  // everything modified earlier had committed (the manifest's transactionTime).
  fhir::epoch_ms transaction_time = 0;
  std::vector<export_file> files;
  // What consent decided while the job ran, for the audit record of the request that collects the
  // manifest: the Consents that applied and the patients whose data was withheld (the first 100).
  std::vector<audit::consent_decision> decisions;
  std::vector<std::string> withheld_patients;
};

class export_job : public job_with<export_status> {
 public:
  export_job(std::string id, export_spec spec, auth::caller owner, std::string directory)
      : job_with(std::move(id), std::move(owner), std::move(directory)), spec_(std::move(spec)) {}

  const export_spec& spec() const { return spec_; }

  // For the runner.
  void set_transaction_time(fhir::epoch_ms t) {
    update([t](export_status& s) { s.transaction_time = t; });
  }
  void add_file(export_file file) {
    update([&file](export_status& s) { s.files.push_back(std::move(file)); });
  }
  void set_consent_record(std::vector<audit::consent_decision> decisions, std::vector<std::string> withheld_patients) {
    update([&](export_status& s) {
      s.decisions = std::move(decisions);
      s.withheld_patients = std::move(withheld_patients);
    });
  }

 private:
  export_spec spec_;
};

class export_jobs : public jobs_of<export_job> {
 public:
  using jobs_of::jobs_of;
};

}  // namespace server::bulk
