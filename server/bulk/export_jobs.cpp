#include "server/bulk/export_jobs.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>

#include "server/log.hpp"
#include "store/id_generator.hpp"

namespace server::bulk {
namespace {

namespace fs = std::filesystem;

// Job directories are named by their id (a UUID); only such names are ever removed, so a directory
// shared with other files loses nothing else.
bool is_job_name(const std::string& name) {
  if (name.size() != 36) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool finished(const job_status& status) { return status.state == job_state::complete || status.state == job_state::failed; }

// How often the worker looks for expired jobs when nothing else happens.
constexpr auto expiry_check = std::chrono::minutes(1);

}  // namespace

export_job::export_job(std::string id, export_spec spec, auth::caller owner, std::string directory)
    : id_(std::move(id)), spec_(std::move(spec)), owner_(std::move(owner)), directory_(std::move(directory)) {
  status_.progress = "queued";
}

void export_job::set_progress(std::string progress) {
  std::lock_guard lock(mutex_);
  status_.progress = std::move(progress);
}

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

void export_job::set_state(job_state state, std::string failure) {
  std::lock_guard lock(mutex_);
  status_.state = state;
  status_.failure = std::move(failure);
  if (finished(status_)) status_.finished = fhir::now_ms();
}

job_status export_job::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

bool same_caller(const auth::caller& a, const auth::caller& b) {
  const auth::claims& x = *a.token;
  const auth::claims& y = *b.token;
  auto same_roles = [](const std::vector<auth::nhs_role>& r, const std::vector<auth::nhs_role>& s) {
    return std::equal(r.begin(), r.end(), s.begin(), s.end(), [](const auth::nhs_role& p, const auth::nhs_role& q) {
      return p.person_roleid == q.person_roleid && p.role_code == q.role_code && p.activity_codes == q.activity_codes;
    });
  };
  return x.issuer == y.issuer && x.subject == y.subject && x.client_id == y.client_id && x.patient == y.patient &&
         x.scope == y.scope && same_roles(x.roles, y.roles) && a.controller == b.controller && a.purpose == b.purpose;
}

export_jobs::export_jobs(export_settings settings, runner run) : settings_(std::move(settings)), run_(std::move(run)) {
  std::error_code ec;
  std::vector<std::string> leftovers;
  for (const fs::directory_entry& entry : fs::directory_iterator(settings_.directory, ec))
    if (entry.is_directory(ec) && is_job_name(entry.path().filename().string())) leftovers.push_back(entry.path().string());
  remove_directories(leftovers);
}

export_jobs::~export_jobs() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (running_) running_->cancel();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void export_jobs::remove_directories(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) log::warning("could not remove the export directory {}: {}", path, ec.message());
  }
}

std::vector<std::string> export_jobs::expire(fhir::epoch_ms now) {
  std::vector<std::string> expired;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    job_status status = it->second->status();
    if (finished(status) && now - status.finished >= settings_.retention) {
      expired.push_back(it->second->directory());
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
  return expired;
}

fhir::result<std::shared_ptr<export_job>> export_jobs::submit(export_spec spec, const auth::caller& owner, fhir::epoch_ms now) {
  std::unique_lock lock(mutex_);
  std::vector<std::string> expired = expire(now);
  std::size_t unfinished = queue_.size() + (running_ ? 1 : 0);
  std::size_t own = std::count_if(queue_.begin(), queue_.end(), [&](const auto& job) { return same_caller(job->owner(), owner); }) +
                    (running_ && same_caller(running_->owner(), owner) ? 1 : 0);
  if (unfinished >= settings_.max_unfinished || own >= settings_.max_unfinished_per_caller) {
    lock.unlock();
    remove_directories(expired);
    return fhir::error(fhir::error_kind::busy, fhir::issue_type::transient,
                       "Too many bulk exports are in progress; try again later", "export-busy");
  }
  std::string id = store::new_resource_id();
  std::string directory = (fs::path(settings_.directory) / id).string();
  std::error_code ec;
  fs::create_directories(directory, ec);
  // The files are patient data: readable by the server's own user only.
  if (!ec) fs::permissions(directory, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec)
    return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception,
                       "cannot make the export directory " + directory + ": " + ec.message(), "export-directory");
  auto job = std::make_shared<export_job>(id, std::move(spec), owner, std::move(directory));
  jobs_.emplace(id, job);
  queue_.push_back(job);
  if (!thread_.joinable()) thread_ = std::thread([this] { work(); });
  lock.unlock();
  wake_.notify_one();
  remove_directories(expired);
  return job;
}

std::shared_ptr<export_job> export_jobs::find(const std::string& id, const auth::caller& caller, fhir::epoch_ms now) {
  std::unique_lock lock(mutex_);
  std::vector<std::string> expired = expire(now);
  auto it = jobs_.find(id);
  std::shared_ptr<export_job> job = it == jobs_.end() || !same_caller(it->second->owner(), caller) ? nullptr : it->second;
  lock.unlock();
  remove_directories(expired);
  return job;
}

bool export_jobs::cancel(const std::string& id, const auth::caller& caller, fhir::epoch_ms now) {
  std::unique_lock lock(mutex_);
  std::vector<std::string> doomed = expire(now);
  auto it = jobs_.find(id);
  bool found = it != jobs_.end() && same_caller(it->second->owner(), caller);
  if (found) {
    std::shared_ptr<export_job> job = std::move(it->second);
    jobs_.erase(it);
    job->cancel();
    std::erase(queue_, job);
    // A running job still writes into its directory: the worker removes it when the job stops.
    if (job == running_) doomed_.push_back(job->directory());
    else doomed.push_back(job->directory());
  }
  lock.unlock();
  remove_directories(doomed);
  return found;
}

void export_jobs::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, expiry_check, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::vector<std::string> expired = expire(fhir::now_ms());
    if (queue_.empty()) {
      lock.unlock();
      remove_directories(expired);
      lock.lock();
      continue;
    }
    running_ = std::move(queue_.front());
    queue_.pop_front();
    std::shared_ptr<export_job> job = running_;
    lock.unlock();
    remove_directories(expired);
    job->set_state(job_state::running);
    fhir::result<fhir::done> outcome = fhir::done{};
    try {
      outcome = run_(*job);
    } catch (const std::exception& e) {
      outcome = fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, e.what(), "export-failed");
    }
    if (!outcome && !job->cancelled()) log::error("bulk export {} failed: {}", job->id(), outcome.error().summary());
    job->set_state(outcome ? job_state::complete : job_state::failed, outcome ? std::string() : outcome.error().summary());
    lock.lock();
    running_.reset();
    std::vector<std::string> doomed = std::move(doomed_);
    doomed_.clear();
    lock.unlock();
    remove_directories(doomed);
    lock.lock();
  }
}

}  // namespace server::bulk
