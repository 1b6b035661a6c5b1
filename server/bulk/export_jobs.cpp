#include "server/bulk/export_jobs.hpp"

namespace server::bulk {

export_job::export_job(std::string id, export_spec spec, auth::caller owner, std::string directory)
    : job(std::move(id), std::move(owner), std::move(directory)), spec_(std::move(spec)) {}

void export_job::set_transaction_time(fhir::epoch_ms t) {
  std::lock_guard lock(mutex_);
  status_.transaction_time = t;
}

void export_job::add_file(export_file file) {
  std::lock_guard lock(mutex_);
  status_.files.push_back(std::move(file));
}

void export_job::set_consent_record(std::vector<audit::consent_decision> decisions, std::vector<std::string> withheld_patients) {
  std::lock_guard lock(mutex_);
  status_.decisions = std::move(decisions);
  status_.withheld_patients = std::move(withheld_patients);
}

export_status export_job::status() const {
  std::lock_guard lock(mutex_);
  export_status out = status_;
  static_cast<job_progress&>(out) = progress_;
  return out;
}

}  // namespace server::bulk
