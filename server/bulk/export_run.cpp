#include "server/bulk/export_run.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>

#include "server/audit/request_audit.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/interactions/compartment.hpp"
#include "server/metrics.hpp"

namespace server::bulk {
namespace {

fhir::error write_failed(const std::string& path) {
  return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, fmt::format("cannot write {}: {}", path, std::strerror(errno)),
                     "export-write-failed");
}

fhir::error cancelled() {
  return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, "cancelled", "export-cancelled");
}

// The NDJSON files of one type: Observation-1.ndjson, Observation-2.ndjson, ... each of at most
// `max_lines` resources, added to the job as each is closed.
class ndjson_output {
 public:
  ndjson_output(export_job& job, std::string type, std::size_t max_lines) : job_(job), type_(std::move(type)), max_lines_(max_lines) {}
  ~ndjson_output() {
    if (file_) std::fclose(file_);
  }
  ndjson_output(const ndjson_output&) = delete;
  ndjson_output& operator=(const ndjson_output&) = delete;

  // `patients`: the patients whose data `version` is (consent::patients_of), for the download's audit.
  fhir::result<fhir::done> write(const store::resource_version& version, const std::vector<std::string>& patients) {
    if (!file_) {
      current_ = export_file{.type = type_, .name = fmt::format("{}-{}.ndjson", type_, ++files_)};
      path_ = (std::filesystem::path(job_.directory()) / current_.name).string();
      // Patient data: readable by the server's own user only; never an existing file.
      int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) return write_failed(path_);
      file_ = ::fdopen(fd, "wb");
      if (!file_) {
        ::close(fd);
        return write_failed(path_);
      }
      patients_.clear();
    }
    if (std::fwrite(version.json.data(), 1, version.json.size(), file_) != version.json.size() || std::fputc('\n', file_) == EOF)
      return write_failed(path_);
    note(version, patients);
    if (++current_.count == max_lines_) return close();
    return fhir::done{};
  }

  fhir::result<fhir::done> close() {
    if (!file_) return fhir::done{};
    bool ok = std::fflush(file_) == 0 && std::ferror(file_) == 0;
    ok = std::fclose(file_) == 0 && ok;
    file_ = nullptr;
    if (!ok) return write_failed(path_);
    job_.add_file(std::move(current_));
    return fhir::done{};
  }

 private:
  // What the file's download returns, for its audit record: the first resources and patients.
  void note(const store::resource_version& version, const std::vector<std::string>& patients) {
    if (current_.resources.size() < audit::max_entities)
      current_.resources.push_back({version.info.type, version.info.id, version.info.version});
    for (const std::string& patient : patients)
      if (current_.patients.size() < audit::max_entities && patients_.insert(patient).second) current_.patients.push_back(patient);
  }

  export_job& job_;
  std::string type_;
  std::size_t max_lines_;
  std::FILE* file_ = nullptr;
  std::string path_;
  std::size_t files_ = 0;
  export_file current_;
  std::unordered_set<std::string> patients_;
};

class exporter {
 public:
  exporter(const context& ctx, export_job& job, const run_settings& settings) : ctx_(ctx), job_(job), settings_(settings) {}

  fhir::result<fhir::done> run() {
    // The view's instant: every write stamped before it has committed once a unit of work queued after
    // it has (one writer, units in order), so `_since=<transactionTime>` next time misses nothing.
    fhir::epoch_ms view = fhir::now_ms();
    auto barrier = ctx_.store.transact([](store::transaction&) -> fhir::result<fhir::done> { return fhir::done{}; });
    if (!barrier) return std::move(barrier).error();
    job_.set_transaction_time(view);
    auto window = time_window(view);
    if (!window) return std::move(window).error();
    const std::vector<std::string>& types = job_.spec().types;
    for (std::size_t i = 0; i < types.size(); ++i) {
      const std::string& type = types[i];
      job_.set_progress(fmt::format("exporting {} (type {} of {}); {} resources so far", type, i + 1, types.size(), exported_));
      ndjson_output out(job_, type, settings_.max_lines_per_file);
      std::vector<fhir::search::search_query> queries = queries_of(type, *window);
      // Several filters of one type are alternatives: a resource matching two of them is written once.
      std::optional<std::unordered_set<std::string>> seen;
      if (queries.size() > 1 || !job_.spec().patients.empty()) seen.emplace();
      for (fhir::search::search_query& query : queries) {
        if (job_.spec().patients.empty()) {
          if (auto done = export_query(query, out, seen ? &*seen : nullptr); !done) return done;
          continue;
        }
        // A Group's members (or the patient's own record), one compartment at a time.
        for (const std::string& patient : job_.spec().patients) {
          query.compartment = interactions::patient_compartment(ctx_, patient, type);
          if (!query.compartment) break;  // not a compartment type (cannot happen: checked at kick-off)
          if (auto done = export_query(query, out, &*seen); !done) return done;
        }
      }
      if (auto closed = out.close(); !closed) return closed;
    }
    job_.set_progress(fmt::format("complete; {} resources", exported_));
    job_.set_consent_record(std::move(decisions_), std::move(withheld_patients_));
    return fhir::done{};
  }

 private:
  // `_lastUpdated` clauses every query carries: after _since, and not after the transaction time.
  fhir::result<std::vector<fhir::search::clause>> time_window(fhir::epoch_ms view) const {
    http::query_params params{{"_lastUpdated", "le" + fhir::format_instant(view)}};
    if (job_.spec().since) params.emplace_back("_lastUpdated", "gt" + fhir::format_instant(*job_.spec().since));
    auto query = fhir::search::parse_query(ctx_.search_parameters, "Patient", params, {.strict = true});
    if (!query) return std::move(query).error();
    return std::move(query->clauses);
  }

  std::vector<fhir::search::search_query> queries_of(const std::string& type, const std::vector<fhir::search::clause>& window) const {
    std::vector<fhir::search::search_query> out;
    for (const fhir::search::search_query& filter : job_.spec().filters)
      if (filter.types.front() == type) out.push_back(filter);
    if (out.empty()) out.push_back(fhir::search::search_query{.types = {type}});
    for (fhir::search::search_query& query : out) query.clauses.insert(query.clauses.end(), window.begin(), window.end());
    return out;
  }

  fhir::result<fhir::done> export_query(const fhir::search::search_query& query, ndjson_output& out, std::unordered_set<std::string>* seen) {
    bool patient_level = job_.spec().level == export_level::patient && job_.spec().patients.empty();
    std::string token;
    do {
      if (job_.cancelled()) return cancelled();
      auto page = ctx_.store.search(store::search_request{query, settings_.page_size, token});
      if (!page) return std::move(page).error();
      for (store::search_entry& entry : page->entries) {
        store::resource_version& version = entry.version;
        // The patients whose data it is, read once: the level's filter, the audit of what is withheld or written.
        std::vector<std::string> patients = consent::patients_of(version);
        // A Patient-level export is the data of patients: a resource that refers to none is no one's.
        if (patient_level && patients.empty()) continue;
        if (seen && !seen->insert(version.info.id).second) continue;
        if (!decide(version, patients)) continue;
        if (auto written = out.write(version, patients); !written) return written;
        ++exported_;
      }
      token = std::move(page->next_token);
    } while (!token.empty());
    return fhir::done{};
  }

  // The consent pipeline, for the job's owner as of now (P4: decided when exported, not at kick-off).
  bool decide(store::resource_version& version, const std::vector<std::string>& patients) {
    fhir::consent::decision d = consent::decide(ctx_, job_.owner(), version);
    bool denied = d.outcome == fhir::consent::verdict::deny;
    if (d.basis.starts_with("Consent/")) note_decision(d.basis, denied ? "deny" : d.overridden ? "override" : "permit", denied ? 1 : 0);
    if (denied) {
      if (ctx_.metrics) ctx_.metrics->record_consent_withheld();
      if (ctx_.auth->is_patient_data(version.info.type))
        for (const std::string& patient : patients)
          if (withheld_patients_.size() < max_withheld_patients &&
              std::find(withheld_patients_.begin(), withheld_patients_.end(), patient) == withheld_patients_.end())
            withheld_patients_.push_back(patient);
      return false;
    }
    if (d.outcome == fhir::consent::verdict::minimal) version.json = consent::minimal_patient(version.json);
    return true;
  }

  // As the request audit adds them up (request_audit::consent_applied): one entry per Consent and decision.
  void note_decision(const std::string& consent, std::string_view decision, std::size_t suppressed) {
    for (audit::consent_decision& d : decisions_)
      if (d.consent == consent && d.decision == decision) {
        d.suppressed += suppressed;
        return;
      }
    if (decisions_.size() < max_withheld_patients) decisions_.push_back({consent, std::string(decision), suppressed});
  }

  static constexpr std::size_t max_withheld_patients = 100;  // as many as one audit record names

  const context& ctx_;
  export_job& job_;
  const run_settings& settings_;
  std::size_t exported_ = 0;
  std::vector<audit::consent_decision> decisions_;
  std::vector<std::string> withheld_patients_;
};

}  // namespace

fhir::result<fhir::done> run_export(const context& ctx, export_job& job, const run_settings& settings) {
  return exporter(ctx, job, settings).run();
}

}  // namespace server::bulk
