#include "server/bulk/export_jobs.hpp"

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

}  // namespace

export_job::export_job(std::string id, export_spec spec, auth::caller owner, fhir::epoch_ms transaction_time, std::string directory)
    : id_(std::move(id)), spec_(std::move(spec)), owner_(std::move(owner)), transaction_time_(transaction_time),
      directory_(std::move(directory)) {
  status_.progress = "queued";
}

void export_job::set_progress(std::string progress) {
  std::lock_guard lock(mutex_);
  status_.progress = std::move(progress);
}

void export_job::add_file(export_file file) {
  std::lock_guard lock(mutex_);
  status_.files.push_back(std::move(file));
}

void export_job::set_state(job_state state, std::string failure) {
  std::lock_guard lock(mutex_);
  status_.state = state;
  status_.failure = std::move(failure);
  if (state == job_state::complete || state == job_state::failed) status_.finished = fhir::now_ms();
}

job_status export_job::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

bool same_caller(const auth::caller& a, const auth::caller& b) {
  const auth::claims& x = *a.token;
  const auth::claims& y = *b.token;
  return x.issuer == y.issuer && x.subject == y.subject && x.client_id == y.client_id && x.patient == y.patient &&
         a.controller == b.controller && a.purpose == b.purpose;
}

export_jobs::export_jobs(export_settings settings, runner run) : settings_(std::move(settings)), run_(std::move(run)) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(settings_.directory, ec))
    if (entry.is_directory(ec) && is_job_name(entry.path().filename().string())) remove_directory(entry.path().string());
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

void export_jobs::remove_directory(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) log::warning("could not remove the export directory {}: {}", path, ec.message());
}

void export_jobs::expire(fhir::epoch_ms now) {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    job_status status = it->second->status();
    bool finished = status.state == job_state::complete || status.state == job_state::failed;
    if (finished && now - status.finished >= settings_.retention) {
      remove_directory(it->second->directory());
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

fhir::result<std::shared_ptr<export_job>> export_jobs::submit(export_spec spec, const auth::caller& owner, fhir::epoch_ms now) {
  std::lock_guard lock(mutex_);
  expire(now);
  if (queue_.size() + (running_ ? 1 : 0) >= settings_.max_unfinished)
    return fhir::error(fhir::error_kind::busy, fhir::issue_type::transient,
                       "Too many bulk exports are in progress; try again later", "export-busy");
  std::string id = store::new_resource_id();
  std::string directory = (fs::path(settings_.directory) / id).string();
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec)
    return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception,
                       "cannot make the export directory " + directory + ": " + ec.message(), "export-directory");
  auto job = std::make_shared<export_job>(id, std::move(spec), owner, now, std::move(directory));
  jobs_.emplace(id, job);
  queue_.push_back(job);
  if (!thread_.joinable()) thread_ = std::thread([this] { work(); });
  wake_.notify_one();
  return job;
}

std::shared_ptr<export_job> export_jobs::find(const std::string& id, const auth::caller& caller, fhir::epoch_ms now) {
  std::lock_guard lock(mutex_);
  expire(now);
  auto it = jobs_.find(id);
  if (it == jobs_.end() || !same_caller(it->second->owner(), caller)) return nullptr;
  return it->second;
}

bool export_jobs::cancel(const std::string& id, const auth::caller& caller, fhir::epoch_ms now) {
  std::lock_guard lock(mutex_);
  expire(now);
  auto it = jobs_.find(id);
  if (it == jobs_.end() || !same_caller(it->second->owner(), caller)) return false;
  std::shared_ptr<export_job> job = std::move(it->second);
  jobs_.erase(it);
  job->cancel();
  std::erase(queue_, job);
  // A running job still writes into its directory: the worker removes it when the job stops.
  if (job == running_) doomed_.push_back(job->directory());
  else remove_directory(job->directory());
  return true;
}

void export_jobs::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    running_ = std::move(queue_.front());
    queue_.pop_front();
    std::shared_ptr<export_job> job = running_;
    lock.unlock();
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
    for (const std::string& directory : doomed_) remove_directory(directory);
    doomed_.clear();
  }
}

}  // namespace server::bulk
