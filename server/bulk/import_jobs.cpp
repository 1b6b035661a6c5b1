#include "server/bulk/import_jobs.hpp"

namespace server::bulk {

import_job::import_job(std::string id, import_spec spec, auth::caller owner, std::string directory)
    : job(std::move(id), std::move(owner), std::move(directory)), spec_(std::move(spec)) {}

void import_job::set_transaction_time(fhir::epoch_ms t) {
  std::lock_guard lock(mutex_);
  status_.transaction_time = t;
}

void import_job::add_outcome(import_outcome outcome) {
  std::lock_guard lock(mutex_);
  status_.outcomes.push_back(std::move(outcome));
}

import_status import_job::status() const {
  std::lock_guard lock(mutex_);
  import_status out = status_;
  static_cast<job_progress&>(out) = progress_;
  return out;
}

}  // namespace server::bulk
