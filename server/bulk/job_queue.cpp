#include "server/bulk/job_queue.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "server/log.hpp"

namespace server::bulk {
namespace {

namespace fs = std::filesystem;

// Job directories are named by a UUID or by a 64-hex-digit key; only such names are ever removed, so a
// directory shared with other files loses nothing else.
bool is_job_name(const std::string& name) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  if (name.size() == 64) return std::all_of(name.begin(), name.end(), hex);
  if (name.size() != 36) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? name[i] != '-' : !hex(name[i])) return false;
  }
  return true;
}

// How long ago `path` was last modified (0 when it cannot be told).
fhir::epoch_ms age_ms(const fs::path& path) {
  std::error_code ec;
  auto t = fs::last_write_time(path, ec);
  if (ec) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(fs::file_time_type::clock::now() - t).count();
}

bool finished(const job_progress& p) { return p.state == job_state::complete || p.state == job_state::failed; }

// How often the worker looks for expired jobs when nothing else happens.
constexpr auto expiry_check = std::chrono::minutes(1);

}  // namespace

job::job(std::string id, auth::caller owner, std::string directory)
    : id_(std::move(id)), owner_(std::move(owner)), directory_(std::move(directory)) {}

void job::set_progress(std::string progress) {
  std::lock_guard lock(mutex_);
  progress_.progress = std::move(progress);
}

void job::set_state(job_state state, std::string failure) {
  std::lock_guard lock(mutex_);
  progress_.state = state;
  progress_.failure = std::move(failure);
  if (finished(progress_)) progress_.finished = fhir::now_ms();
}

job_progress job::progress() const {
  std::lock_guard lock(mutex_);
  return progress_;
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

job_queue::job_queue(job_settings settings, runner run) : settings_(std::move(settings)), run_(std::move(run)) {
  std::vector<std::string> doomed;
  {
    std::lock_guard lock(mutex_);
    doomed = leftovers();
  }
  remove_directories(doomed);
}

std::vector<std::string> job_queue::leftovers() {
  std::set<std::string> held;
  for (const auto& [id, j] : jobs_) held.insert(j->directory());
  std::vector<std::string> doomed;
  std::error_code ec;
  // Without exceptions: a directory that cannot be read is looked at again next time.
  for (fs::directory_iterator it(settings_.directory, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::string path = entry.path().string();
    std::error_code entry_ec;
    if (!entry.is_directory(entry_ec) || !is_job_name(entry.path().filename().string()) || held.contains(path) || removing_.contains(path))
      continue;
    if (resumable(path) && age_ms(entry.path()) < settings_.keep_leftovers) continue;
    doomed.push_back(path);
    removing_.insert(path);
  }
  return doomed;
}

job_queue::~job_queue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (running_) running_->cancel();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool job_queue::resumable(const std::string& directory) const {
  std::error_code ec;
  return !settings_.resumable_marker.empty() && fs::exists(fs::path(directory) / settings_.resumable_marker, ec);
}

std::string job_queue::directory_for(const std::string& name) const { return (fs::path(settings_.directory) / name).string(); }

void job_queue::remove_directories(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) log::warning("could not remove the {} directory {}: {}", settings_.kind, path, ec.message());
  }
  std::lock_guard lock(mutex_);
  for (const std::string& path : paths)
    if (auto it = removing_.find(path); it != removing_.end()) removing_.erase(it);
}

std::vector<std::string> job_queue::expire(fhir::epoch_ms now) {
  std::vector<std::string> expired;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    job_progress p = it->second->progress();
    if (finished(p) && now - p.finished >= settings_.retention) {
      // Work that can continue (a failed import) stays for the sweep of leftovers to decide.
      if (!resumable(it->second->directory())) {
        expired.push_back(it->second->directory());
        removing_.insert(it->second->directory());
      }
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
  return expired;
}

fhir::result<std::shared_ptr<job>> job_queue::submit(std::shared_ptr<job> j, fhir::epoch_ms now) {
  std::unique_lock lock(mutex_);
  std::vector<std::string> expired = expire(now);
  // A finished job of the same directory that expired just now leaves its directory to the new one.
  if (auto it = std::find(expired.begin(), expired.end(), j->directory()); it != expired.end()) {
    expired.erase(it);
    removing_.erase(removing_.find(j->directory()));
  }
  auto refuse = [&](fhir::error e) -> fhir::result<std::shared_ptr<job>> {
    lock.unlock();
    remove_directories(expired);
    return e;
  };
  auto busy = [&] {
    return refuse(fhir::error(fhir::error_kind::busy, fhir::issue_type::transient,
                              fmt::format("Too many bulk {}s are in progress; try again later", settings_.kind), settings_.kind + "-busy"));
  };
  // The same work (one directory, which names its caller) is not done twice at once.
  auto same = std::find_if(jobs_.begin(), jobs_.end(), [&](const auto& entry) { return entry.second->directory() == j->directory(); });
  if (same != jobs_.end() && same_caller(same->second->owner(), j->owner()) && !finished(same->second->progress())) {
    std::shared_ptr<job> running = same->second;
    lock.unlock();
    remove_directories(expired);
    return running;
  }
  // A directory being removed (its job cancelled or expired) cannot be taken yet.
  if (removing_.contains(j->directory()) || (same != jobs_.end() && !finished(same->second->progress())))
    return refuse(fhir::error(fhir::error_kind::busy, fhir::issue_type::transient,
                              fmt::format("The same bulk {} is still being cancelled or removed; try again shortly", settings_.kind),
                              settings_.kind + "-busy"));
  std::size_t unfinished = queue_.size() + (running_ && !finished(running_->progress()) ? 1 : 0);
  std::size_t own = std::count_if(queue_.begin(), queue_.end(), [&](const auto& queued) { return same_caller(queued->owner(), j->owner()); }) +
                    (running_ && !finished(running_->progress()) && same_caller(running_->owner(), j->owner()) ? 1 : 0);
  if (unfinished >= settings_.max_unfinished || own >= settings_.max_unfinished_per_caller) return busy();
  std::error_code ec;
  fs::create_directories(j->directory(), ec);
  // The files are patient data: readable by the server's own user only.
  if (!ec) fs::permissions(j->directory(), fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec)
    return refuse(fhir::error(fhir::error_kind::fault, fhir::issue_type::exception,
                              fmt::format("cannot make the {} directory {}: {}", settings_.kind, j->directory(), ec.message()),
                              settings_.kind + "-directory"));
  // Accepted: a finished job of the same directory is forgotten (its directory is the new job's now).
  if (same != jobs_.end()) jobs_.erase(same);
  jobs_.emplace(j->id(), j);
  queue_.push_back(j);
  if (!thread_.joinable())
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "fhir-bulk");  // shown by top -H, perf and gdb
      work();
    });
  lock.unlock();
  wake_.notify_one();
  remove_directories(expired);
  return j;
}

std::shared_ptr<job> job_queue::find(const std::string& id, const auth::caller& caller, fhir::epoch_ms now) {
  std::unique_lock lock(mutex_);
  std::vector<std::string> expired = expire(now);
  auto it = jobs_.find(id);
  std::shared_ptr<job> found = it == jobs_.end() || !same_caller(it->second->owner(), caller) ? nullptr : it->second;
  lock.unlock();
  remove_directories(expired);
  return found;
}

bool job_queue::cancel(const std::string& id, const auth::caller& caller, fhir::epoch_ms now) {
  std::unique_lock lock(mutex_);
  std::vector<std::string> doomed = expire(now);
  auto it = jobs_.find(id);
  bool found = it != jobs_.end() && same_caller(it->second->owner(), caller);
  if (found) {
    std::shared_ptr<job> cancelled = std::move(it->second);
    jobs_.erase(it);
    cancelled->cancel();
    std::erase(queue_, cancelled);
    // A running job still writes into its directory: the worker removes it when the job stops.
    if (cancelled == running_) doomed_.push_back(cancelled->directory());
    else doomed.push_back(cancelled->directory());
    removing_.insert(cancelled->directory());
  }
  lock.unlock();
  remove_directories(doomed);
  return found;
}

void job_queue::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, expiry_check, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::vector<std::string> expired = expire(fhir::now_ms());
    if (queue_.empty()) {
      std::vector<std::string> untracked = leftovers();
      expired.insert(expired.end(), untracked.begin(), untracked.end());
      lock.unlock();
      remove_directories(expired);
      lock.lock();
      continue;
    }
    running_ = std::move(queue_.front());
    queue_.pop_front();
    std::shared_ptr<job> current = running_;
    lock.unlock();
    remove_directories(expired);
    current->set_state(job_state::running);
    fhir::result<fhir::done> outcome = fhir::done{};
    try {
      outcome = run_(*current);
    } catch (const std::exception& e) {
      outcome = fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, e.what(), settings_.kind + "-failed");
    }
    if (!outcome && !current->cancelled()) log::error("bulk {} {} failed: {}", settings_.kind, current->id(), outcome.error().summary());
    current->set_state(outcome ? job_state::complete : job_state::failed, outcome ? std::string() : outcome.error().summary());
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
