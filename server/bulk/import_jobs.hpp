#pragma once
// Bulk import jobs ($import): a job (job_queue.hpp) with what an import adds to its status, the outcome
// of each input. The job's directory is named by the import's key (import_request.hpp: the caller and
// the inputs), so the same import asked again by the same caller after a restart continues where the
// interrupted one stopped (import_run.hpp says what is kept for that).

#include <string>
#include <vector>

#include "server/bulk/import_request.hpp"
#include "server/bulk/job_queue.hpp"

namespace server::bulk {

// What became of one input.
struct import_outcome {
  std::size_t count = 0;   // resources imported (created, updated, or unchanged)
  std::size_t errors = 0;  // lines rejected, or 1 when the input could not be fetched
  std::string error_file;  // the NDJSON of OperationOutcomes naming them (empty: none)
};

struct import_status : job_progress {
  fhir::epoch_ms transaction_time = 0;   // when the job started importing
  std::vector<import_outcome> outcomes;  // one per input, in order, as each ends
};

class import_job : public job_with<import_status> {
 public:
  import_job(std::string id, import_spec spec, auth::caller owner, std::string directory)
      : job_with(std::move(id), std::move(owner), std::move(directory)), spec_(std::move(spec)) {}

  const import_spec& spec() const { return spec_; }

  // For the runner.
  void set_transaction_time(fhir::epoch_ms t) {
    update([t](import_status& s) { s.transaction_time = t; });
  }
  void add_outcome(import_outcome outcome) {
    update([&outcome](import_status& s) { s.outcomes.push_back(std::move(outcome)); });
  }

 private:
  import_spec spec_;
};

class import_jobs : public jobs_of<import_job> {
 public:
  using jobs_of::jobs_of;
};

}  // namespace server::bulk
