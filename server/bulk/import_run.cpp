#include "server/bulk/import_run.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "fhir/json/serialize.hpp"
#include "fhir/resource.hpp"
#include "server/audit/request_audit.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/consent/consent_writes.hpp"
#include "server/importer.hpp"
#include "server/interactions/common.hpp"
#include "server/quality/quality_recorder.hpp"
#include "server/responses.hpp"

namespace server::bulk {
namespace {

namespace fs = std::filesystem;

fhir::error write_failed(const std::string& path) {
  return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, fmt::format("cannot write {}: {}", path, std::strerror(errno)),
                     "import-write-failed");
}

// One line of an error file: an OperationOutcome naming the input and the line.
std::string outcome_line(std::string_view diagnostics, fhir::issue_type type) {
  return fhir::json::serialize(fhir::to_operation_outcome({fhir::issue{fhir::severity::error, type, std::string(diagnostics), {}, {}}})) + "\n";
}

// The issue type of a rejected line, from how a write of it would have been answered.
fhir::issue_type issue_type_of(fhir::error_kind kind) {
  switch (kind) {
    case fhir::error_kind::forbidden: return fhir::issue_type::forbidden;
    case fhir::error_kind::not_found: return fhir::issue_type::not_found;
    case fhir::error_kind::unprocessable: return fhir::issue_type::business_rule;
    default: return fhir::issue_type::invalid;
  }
}

// The OperationOutcomes of one input's rejected lines. When an interrupted import continues, the file is
// cut back to what its last commit had reported (`keep` bytes) and appended to: lines read again after
// that commit are reported once.
class error_file {
 public:
  error_file(std::string path, std::uintmax_t keep) : path_(std::move(path)) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) file_ = ::fdopen(fd, "wb");  // "wb" on an open descriptor does not truncate it
    if (fd >= 0 && !file_) ::close(fd);
    cut_to(keep);
  }

  // Cuts the file back to its first `keep` bytes (never lengthens it) and appends from there.
  void cut_to(std::uintmax_t keep) {
    if (!file_) return;
    struct stat st {};
    int fd = ::fileno(file_);
    std::fflush(file_);
    if (::fstat(fd, &st) != 0 || ::ftruncate(fd, static_cast<off_t>(std::min<std::uintmax_t>(keep, static_cast<std::uintmax_t>(st.st_size)))) != 0 ||
        std::fseek(file_, 0, SEEK_END) != 0)
      ok_ = false;
    lines_ = count_lines(path_);
  }
  ~error_file() {
    if (file_) std::fclose(file_);
  }
  error_file(const error_file&) = delete;
  error_file& operator=(const error_file&) = delete;

  bool open() const { return file_ != nullptr; }
  std::size_t lines() const { return lines_; }
  // Written through at once: a crash loses no rejection the progress already counts.
  void add(std::string_view diagnostics, fhir::issue_type type) {
    std::string line = outcome_line(diagnostics, type);
    ok_ = ok_ && std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fflush(file_) == 0;
    ++lines_;
  }
  std::uintmax_t bytes() const { return file_ ? static_cast<std::uintmax_t>(std::ftell(file_)) : 0; }
  fhir::result<fhir::done> close() {
    bool ok = ok_ && std::fflush(file_) == 0;
    ok = std::fclose(file_) == 0 && ok;
    file_ = nullptr;
    if (!ok) return write_failed(path_);
    return fhir::done{};
  }

 private:
  static std::size_t count_lines(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  std::size_t lines_ = 0;
  bool ok_ = true;
};

// Where an input's import stood at its last commit: the error file's length, and the resources imported
// (saved as the note of the importer's progress, so both move together).
struct checkpoint {
  std::uintmax_t error_bytes = 0;
  std::size_t imported = 0;
};

// The outcome of a finished input, kept until the whole job ends so that a continued job reports it;
// written whole or not at all (write, then rename).
void save_outcome(const fs::path& path, const import_outcome& outcome) {
  fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << outcome.count << " " << outcome.errors << "\n";
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
}

std::optional<import_outcome> saved_outcome(const fs::path& path) {
  std::ifstream in(path);
  import_outcome outcome;
  if (!(in >> outcome.count >> outcome.errors)) return std::nullopt;
  return outcome;
}

checkpoint parse_checkpoint(std::string_view note) {
  checkpoint c;
  std::istringstream in{std::string(note)};
  if (!(in >> c.error_bytes >> c.imported)) return {};
  return c;
}

// Lines refused because their writer may not change the target: counted, and the first targets kept.
struct refusals {
  std::size_t count = 0;
  bool forbidden = false;  // some were 403 (the others: hidden by Consent, 404)
  std::vector<std::string> targets;

  void note(const import_line_error& e) {
    bool denied = e.kind == fhir::error_kind::forbidden;
    if (!denied && e.kind != fhir::error_kind::not_found) return;
    ++count;
    forbidden = forbidden || denied;
    if (!e.target.empty() && targets.size() < audit::max_entities) targets.push_back(e.target);
  }
};

class importer_job {
 public:
  importer_job(const context& ctx, import_job& job, const import_run_settings& settings)
      : ctx_(ctx), job_(job), settings_(settings), dir_(job.directory()), request_(kickoff_like()), as_owner_{request_, {"$import"}, {}} {
    as_owner_.caller = &job_.owner();
  }

  fhir::result<fhir::done> run() {
    job_.set_transaction_time(fhir::now_ms());
    // Until the job completes, its directory holds work to continue (job_queue keeps such leftovers).
    { std::ofstream marker(dir_ / std::string(import_resumable_marker)); }
    // The rules every write of a request meets: the Consent workflow, and the audit (with data quality).
    store::scoped_write_check consent_rules([this](store::transaction& unit, const std::vector<store::audited_write>& written) {
      return consent::check_consent_writes(ctx_, job_.owner(), unit, written);
    });
    std::optional<store::scoped_audit> audited;  // off only in benchmarks, as for requests
    if (ctx_.settings.audit) audited.emplace([this](const std::vector<store::audited_write>& written) { return audit_unit(written); });
    const std::vector<import_input>& inputs = job_.spec().inputs;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      auto outcome = import_input_file(i);
      if (!outcome) return std::move(outcome).error();
      job_.add_outcome(std::move(*outcome));
    }
    // Done: asked again, the same import starts afresh (the outcomes live on in the job's status).
    std::error_code ec;
    fs::remove(dir_ / std::string(import_resumable_marker), ec);
    for (std::size_t i = 0; i < inputs.size(); ++i) fs::remove(done_path(i), ec);
    job_.set_progress("complete");
    return fhir::done{};
  }

 private:
  // The kick-off request (its path and request id), as the audit records of the job's writes name it.
  http::request kickoff_like() const {
    const std::string& url = job_.spec().request_url;
    std::size_t authority = url.find("://");
    std::size_t path = url.find('/', authority == std::string::npos ? 0 : authority + 3);
    http::request r{.method = "POST", .target = path == std::string::npos ? "/" : url.substr(path), .remote_address = job_.spec().remote_address};
    if (!job_.spec().request_id.empty()) r.headers.push_back({"X-Request-Id", job_.spec().request_id});
    return r;
  }

  // The audit record of something the job does, as the owner's request of `$import`.
  audit::request_audit job_audit() const {
    audit::request_audit record(ctx_, request_);
    record.authenticated(job_.owner());
    record.routed("$import", as_owner_);
    return record;
  }

  std::optional<store::audit_record> audit_unit(const std::vector<store::audited_write>& written) {
    audit::request_audit record = job_audit();
    if (ctx_.quality) ctx_.quality->written(job_.owner(), written);
    return record.for_writes(written);
  }

  fs::path input_path(std::size_t i) const { return dir_ / fmt::format("input-{}.ndjson", i + 1); }
  fs::path done_path(std::size_t i) const { return dir_ / fmt::format("input-{}.done", i + 1); }
  std::string error_name(std::size_t i) const { return fmt::format("errors-{}.ndjson", i + 1); }

  fhir::result<import_outcome> import_input_file(std::size_t i) {
    const import_input& input = job_.spec().inputs[i];
    std::string where = fmt::format("input {} of {} ({})", i + 1, job_.spec().inputs.size(), input.type);
    if (auto done = saved_outcome(done_path(i))) {
      if (done->errors) done->error_file = error_name(i);
      return *done;
    }
    std::error_code ec;
    bool fetched = fs::exists(input_path(i), ec);
    // An input whose import stopped part-way continues from its last commit (the importer's progress,
    // which carries this input's checkpoint); anything else starts its errors afresh.
    bool resuming = fetched && fs::exists(import_progress_path(input_path(i)), ec);
    std::string error_path = (dir_ / error_name(i)).string();
    // Resuming: kept whole until the importer hands back the checkpoint to cut it to (`resumed`).
    error_file errors(error_path, resuming ? std::numeric_limits<std::uintmax_t>::max() : 0);
    if (!errors.open()) return write_failed(error_path);
    checkpoint before;
    import_outcome outcome;
    if (!fetched) {
      job_.set_progress(fmt::format("fetching {}", where));
      auto got = fetch_to_file(input.url, input_path(i).string(), settings_.fetch, &job_.cancel_flag());
      // The server's own failure (or a cancel) fails the job, which can continue when asked again.
      if (!got && got.error().kind() != fhir::error_kind::unprocessable) return std::move(got).error();
      if (!got) {
        // The source did not give this input; the others still can. Not kept as finished: the same
        // import asked again tries to fetch it again.
        errors.add(fmt::format("{}: {}", input.url, got.error().summary()), fhir::issue_type::transient);
        return finish(i, outcome, errors, false);
      }
    }
    refusals refused;
    import_options options{
        .batch = settings_.batch,
        .controller = job_.owner().controller,
        .cancelled = &job_.cancel_flag(),
        .validated = [&](const fhir::json::value* resource, const std::vector<fhir::issue>& issues) {
          interactions::count_validation(ctx_, as_owner_, input.type, issues, resource);
        },
        .accept = [&](fhir::json::value& resource) { return accept(input, resource); },
        .before_write = [&](store::transaction& unit, std::string_view type, std::string_view id) -> fhir::result<fhir::done> {
          // A target hidden from the owner by Consent is not theirs to change: as absent as on update.
          if (auto current = unit.read(type, id); current && !consent::visible(ctx_, as_owner_, *current))
            return store::not_found_error(type, id);
          return fhir::done{};
        },
        .after_commit = [&]() -> fhir::result<fhir::done> {
          // Consents imported apply to the very next request; the batch's refused lines are audited
          // before its progress is saved (a crash in between audits them again, never not at all).
          if (input.type == "Consent" && ctx_.consents) ctx_.consents->invalidate();
          auto audited = audit_refusals(input, refused);
          refused = {};
          return audited;
        },
        .progress_note = [&](const import_progress& p) { return fmt::format("{} {}", errors.bytes(), before.imported + p.imported); },
        .resumed = [&](std::string_view note) {
          before = parse_checkpoint(note);
          errors.cut_to(before.error_bytes);
        },
        .on_progress = [&](const import_progress& p) {
          double fraction = p.bytes_total ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1.0;
          job_.set_progress(fmt::format("importing {}: {:.0f}%, {} imported, {} rejected", where, fraction * 100, before.imported + p.imported,
                                        p.rejected));
        },
        .on_rejected = [&](const import_line_error& e) {
          errors.add(fmt::format("{} line {}: {}", input.url, e.line, e.message), issue_type_of(e.kind));
          refused.note(e);
        },
    };
    auto imported = import_ndjson(ctx_, {input_path(i)}, options);
    if (!imported) return std::move(imported).error();
    outcome.count = before.imported + imported->created + imported->updated + imported->unchanged;
    auto finished = finish(i, outcome, errors);
    // The data is in the store now: no second copy of it stays on disk.
    if (finished) fs::remove(input_path(i), ec);
    return finished;
  }

  fhir::result<import_outcome> finish(std::size_t i, import_outcome outcome, error_file& errors, bool keep = true) {
    outcome.errors = errors.lines();
    if (auto closed = errors.close(); !closed) return std::move(closed).error();
    if (outcome.errors) outcome.error_file = error_name(i);
    if (keep) save_outcome(done_path(i), outcome);
    return outcome;
  }

  // An access denied, audited as such (consent.md section 4: denied requests too): the record of the
  // lines of a batch that could not be written because the owner may not change their targets (another
  // controller's, or hidden by Consent), naming the patients they reach.
  fhir::result<fhir::done> audit_refusals(const import_input& input, const refusals& refused) {
    if (refused.count == 0 || !ctx_.settings.audit) return fhir::done{};
    audit::request_audit record = job_audit();
    std::vector<std::string> patients;
    for (const std::string& target : refused.targets) {
      std::size_t slash = target.find('/');
      std::string type = target.substr(0, slash), id = target.substr(slash + 1);
      if (type == "Patient") patients.push_back(id);
      if (auto stored = ctx_.store.read(type, id))
        for (std::string& patient : consent::patients_of(*stored)) patients.push_back(std::move(patient));
    }
    record.targeted(patients);
    http::response answer = error_response(fhir::error(refused.forbidden ? fhir::error_kind::forbidden : fhir::error_kind::not_found,
                                                       refused.forbidden ? fhir::issue_type::forbidden : fhir::issue_type::not_found,
                                                       fmt::format("{} lines of {} were refused: the caller may not change their targets",
                                                                   refused.count, input.url),
                                                       "import-lines-refused"));
    answer = record.finish(std::move(answer));
    http::settle(answer);
    if (answer.status == 503)
      return fhir::error(fhir::error_kind::busy, fhir::issue_type::transient, "the import's refused lines could not be audited",
                         "audit-unavailable");
    return fhir::done{};
  }

  // What a PUT of the resource by the owner would be refused for, before it joins a batch (the owner's
  // right to write the input's type was checked at kick-off).
  fhir::result<fhir::done> accept(const import_input& input, fhir::json::value& resource) {
    std::string_view type = fhir::resource_type_of(resource);
    if (type != input.type)
      return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                         fmt::format("resourceType is {}, but the input's type is {}", type, input.type), "import-type-mismatch");
    fhir::json::value* meta = resource.find("meta");
    if (!meta || !meta->is_object()) meta = &resource.set("meta", fhir::json::object{});
    if (!meta->find("source")) meta->set("source", job_.spec().input_source);
    return fhir::done{};
  }

  const context& ctx_;
  import_job& job_;
  const import_run_settings& settings_;
  fs::path dir_;
  http::request request_;  // the kick-off as the audit records of the job's writes name it
  fhir_request as_owner_;  // the owner's request, for the rules that decide by request
};

}  // namespace

fhir::result<fhir::done> run_import(const context& ctx, import_job& job, const import_run_settings& settings) {
  return importer_job(ctx, job, settings).run();
}

}  // namespace server::bulk
