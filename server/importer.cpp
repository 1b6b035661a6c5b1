#include "server/importer.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "fhir/resource.hpp"
#include "fhir/validation/resource_reader.hpp"
#include "server/interactions/common.hpp"

namespace server {

namespace {

using clock = std::chrono::steady_clock;

fhir::error import_error(std::string why) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, std::move(why), "import-failed");
}

struct saved_progress {
  std::uintmax_t offset = 0;
  std::size_t line = 0;
  std::size_t rejected = 0;
  // The file as it was: a resume into a file that changed would start mid-line or skip new lines.
  std::uintmax_t size = 0;
  std::int64_t modified = 0;
  std::string note;  // import_options::progress_note's, saved with it
};

std::int64_t modification_time(const std::filesystem::path& file) {
  std::error_code ec;
  auto t = std::filesystem::last_write_time(file, ec);
  return ec ? 0 : static_cast<std::int64_t>(t.time_since_epoch().count());
}

std::optional<saved_progress> read_progress(const std::filesystem::path& file) {
  std::ifstream in(import_progress_path(file));
  saved_progress p;
  if (!(in >> p.offset >> p.line >> p.rejected >> p.size >> p.modified)) return std::nullopt;
  std::getline(in, p.note);
  if (!p.note.empty() && p.note.front() == ' ') p.note.erase(0, 1);
  return p;
}

// Replaced atomically (write, then rename): a kill leaves the old progress or the new, never half of one.
fhir::result<fhir::done> write_progress(const std::filesystem::path& file, const saved_progress& p) {
  std::filesystem::path target = import_progress_path(file), temporary = target.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << p.offset << " " << p.line << " " << p.rejected << " " << p.size << " " << p.modified << (p.note.empty() ? "" : " ") << p.note
        << "\n";
    if (!out) return import_error(fmt::format("cannot write {}", temporary.string()));
  }
  std::error_code ec;
  std::filesystem::rename(temporary, target, ec);
  if (ec) return import_error(fmt::format("cannot write {}: {}", target.string(), ec.message()));
  return fhir::done{};
}

std::string describe(const std::vector<fhir::issue>& issues) {
  std::string out;
  for (const auto& i : issues) {
    if (i.severity != fhir::severity::error && i.severity != fhir::severity::fatal) continue;
    if (!out.empty()) out += "; ";
    out += i.expression.empty() ? i.diagnostics : fmt::format("{}: {}", i.expression, i.diagnostics);
  }
  return out;
}

// The longest line read: one resource is never near this, and an input of one endless line must not
// take the server's memory.
constexpr std::size_t max_line_bytes = 64 << 20;
constexpr std::size_t max_batch_bytes = 128 << 20;

// std::getline with a limit: a longer line is read to its end but not kept (`too_long`).
bool read_line(std::istream& in, std::string& line, bool& too_long) {
  line.clear();
  too_long = false;
  std::streambuf* buffer = in.rdbuf();
  bool any = false;
  for (int c = buffer->sbumpc(); c != std::char_traits<char>::eof(); c = buffer->sbumpc()) {
    any = true;
    if (c == '\n') return true;
    if (line.size() < max_line_bytes) line.push_back(static_cast<char>(c));
    else too_long = true;
  }
  in.setstate(std::ios::eofbit);
  return any;
}

struct pending {
  std::size_t line = 0;
  std::string type, id;
  store::prepared_resource resource;
};

fhir::error import_cancelled() {
  return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, "the import was cancelled", "import-cancelled");
}

// Whether a unit of work failed for the store (the import fails) rather than for a resource in it (the
// resource's line is rejected).
bool fault_of_the_store(const fhir::error& e) {
  return e.kind() == fhir::error_kind::fault || e.kind() == fhir::error_kind::busy;
}

class file_importer {
 public:
  file_importer(const context& ctx, const import_options& options, import_summary& summary, import_progress& progress,
                clock::time_point start)
      : ctx_(ctx), options_(options), summary_(summary), progress_(progress), start_(start) {}

  fhir::result<fhir::done> run(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return import_error(fmt::format("cannot read {}", file.string()));
    std::error_code ec;
    file_ = file;
    progress_.file = file;
    progress_.bytes_total = std::filesystem::file_size(file, ec);
    saved_progress done{.size = progress_.bytes_total, .modified = modification_time(file)};
    rejected_ = 0;
    if (!options_.restart && std::filesystem::exists(import_progress_path(file), ec)) {
      auto saved = read_progress(file);
      if (!saved || saved->size != done.size || saved->modified != done.modified || saved->offset > done.size)
        return import_error(fmt::format("{} changed since its import was interrupted (or {} is damaged): import it with --restart",
                                        file.string(), import_progress_path(file).string()));
      done = *saved;
      in.seekg(static_cast<std::streamoff>(done.offset));
      rejected_ = done.rejected;
      summary_.rejected += done.rejected;
      summary_.rejected_before_resume += done.rejected;
      ++summary_.resumed_files;
      if (options_.resumed) options_.resumed(done.note);
    }
    std::size_t line_number = done.line;
    std::string line;
    bool too_long = false;
    while (read_line(in, line, too_long)) {
      ++line_number;
      ++summary_.lines;
      ++progress_.lines;
      if (too_long) reject(line_number, fmt::format("the line is longer than {} bytes", max_line_bytes));
      if (too_long) continue;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      add(line_number, line);
      // A batch also ends at max_batch_bytes of resources, so that a few huge lines do not add up.
      if (batch_.size() >= options_.batch || batch_bytes_ >= max_batch_bytes) {
        auto position = in.tellg();
        if (auto committed = commit(at(done, position < 0 ? progress_.bytes_total : static_cast<std::uintmax_t>(position), line_number));
            !committed)
          return committed;
      }
    }
    if (auto committed = commit(at(done, progress_.bytes_total, line_number)); !committed) return committed;
    std::filesystem::remove(import_progress_path(file), ec);
    return fhir::done{};
  }

 private:
  // The progress to save after the line `line` ending at byte `offset`.
  saved_progress at(const saved_progress& file_state, std::uintmax_t offset, std::size_t line) const {
    return {.offset = offset, .line = line, .rejected = rejected_, .size = file_state.size, .modified = file_state.modified};
  }

  void reject(std::size_t line_number, std::string problem, fhir::error_kind kind = fhir::error_kind::invalid, std::string target = {}) {
    ++summary_.rejected;
    ++progress_.rejected;
    ++rejected_;
    import_line_error rejected{file_, line_number, std::move(problem), kind, std::move(target)};
    if (options_.on_rejected) options_.on_rejected(rejected);
    if (summary_.errors.size() < import_summary::max_reported_errors) summary_.errors.push_back(std::move(rejected));
  }

  void add(std::size_t line_number, const std::string& line) {
    auto read = ctx_.validator.read(line);
    if (!read) {
      if (options_.validated) options_.validated(nullptr, read.error().issues());
      return reject(line_number, describe(read.error().issues()));
    }
    if (options_.validated) options_.validated(&read->resource, read->issues);
    std::string type(fhir::resource_type_of(read->resource)), id(fhir::id_of(read->resource));
    if (id.empty())
      return reject(line_number, fmt::format("a {} without an id: imported resources need one (they are written as updates)", type));
    if (!options_.controller.empty())
      if (auto recorded = interactions::record_controller(options_.controller, read->resource); !recorded)
        return reject(line_number, describe(recorded.error().issues()));
    if (options_.accept)
      if (auto accepted = options_.accept(read->resource); !accepted)
        return reject(line_number, describe(accepted.error().issues()), accepted.error().kind(), type + "/" + id);
    pending p{line_number, std::move(type), std::move(id), ctx_.store.prepare(std::move(read->resource))};
    // The serialised body is all the writer needs: a batch holds each resource once, not twice.
    if (!p.resource.body.empty()) p.resource.resource = fhir::json::value();
    batch_bytes_ += line.size();
    batch_.push_back(std::move(p));
  }

  struct refused_line {
    const pending* line;
    fhir::error why;
  };
  struct unit_outcome {
    std::size_t created = 0, updated = 0, unchanged = 0;
    std::vector<refused_line> rejected;  // before_write refused them
  };

  // Writes `resources` in one unit of work (copies: the batch may be written again one by one).
  fhir::result<unit_outcome> write_unit(const std::vector<const pending*>& resources) {
    unit_outcome outcome;
    auto written = ctx_.store.transact([&](store::transaction& unit) -> fhir::result<fhir::done> {
      outcome = {};
      for (const pending* p : resources) {
        if (options_.before_write)
          if (auto allowed = options_.before_write(unit, p->type, p->id); !allowed) {
            outcome.rejected.push_back({p, std::move(allowed).error()});
            continue;
          }
        auto result = unit.update(p->resource, {.controller = options_.controller});
        if (!result) return std::move(result).error();
        ++(result->unchanged ? outcome.unchanged : result->created ? outcome.created : outcome.updated);
      }
      return fhir::done{};
    });
    if (!written) return std::move(written).error();
    return outcome;
  }

  void count(const unit_outcome& outcome) {
    summary_.created += outcome.created;
    summary_.updated += outcome.updated;
    summary_.unchanged += outcome.unchanged;
    progress_.imported += outcome.created + outcome.updated + outcome.unchanged;
    for (const refused_line& r : outcome.rejected) reject(r.line->line, describe(r.why.issues()), r.why.kind(), r.line->type + "/" + r.line->id);
  }

  fhir::result<fhir::done> commit(const saved_progress& position) {
    if (options_.cancelled && options_.cancelled->load(std::memory_order_relaxed)) return import_cancelled();
    if (!batch_.empty()) {
      std::vector<const pending*> all;
      for (const pending& p : batch_) all.push_back(&p);
      auto written = write_unit(all);
      if (written) {
        count(*written);
      } else if (fault_of_the_store(written.error())) {
        return std::move(written).error();
      } else {
        // One resource spoilt the unit: each on its own, so that only the lines at fault are rejected.
        for (const pending& p : batch_) {
          auto alone = write_unit({&p});
          if (alone) count(*alone);
          else if (fault_of_the_store(alone.error())) return std::move(alone).error();
          else reject(p.line, describe(alone.error().issues()), alone.error().kind(), p.type + "/" + p.id);
        }
      }
      batch_.clear();
      batch_bytes_ = 0;
    }
    if (options_.after_commit)
      if (auto after = options_.after_commit(); !after) return after;
    saved_progress saved = position;
    saved.rejected = rejected_;
    if (options_.progress_note) saved.note = options_.progress_note(progress_);
    if (auto stored = write_progress(file_, saved); !stored) return stored;
    progress_.bytes_done = position.offset;
    progress_.seconds = std::chrono::duration<double>(clock::now() - start_).count();
    if (options_.on_progress) options_.on_progress(progress_);
    return fhir::done{};
  }

  const context& ctx_;
  const import_options& options_;
  import_summary& summary_;
  import_progress& progress_;
  clock::time_point start_;
  std::filesystem::path file_;
  std::vector<pending> batch_;
  std::size_t batch_bytes_ = 0;  // of the lines in batch_
  std::size_t rejected_ = 0;  // lines of this file rejected, with those of the run that saved its progress
};

}  // namespace

std::filesystem::path import_progress_path(const std::filesystem::path& file) {
  return std::filesystem::path(file.string() + ".import-progress");
}

fhir::result<import_summary> import_ndjson(const context& ctx, const std::vector<std::filesystem::path>& inputs,
                                           const import_options& options) {
  std::vector<std::filesystem::path> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(input, ec)) {
      std::vector<std::filesystem::path> found;
      for (const auto& entry : std::filesystem::recursive_directory_iterator(input, ec))
        if (entry.is_regular_file() && entry.path().extension() == ".ndjson") found.push_back(entry.path());
      if (ec) return import_error(fmt::format("{}: {}", input.string(), ec.message()));
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(input, ec)) {
      files.push_back(input);
    } else {
      return import_error(fmt::format("{}: no such file or directory", input.string()));
    }
  }
  import_summary summary;
  import_progress progress;
  auto start = clock::now();
  for (const auto& file : files) {
    file_importer importer(ctx, options, summary, progress, start);
    if (auto imported = importer.run(file); !imported) return std::move(imported).error();
    ++summary.files;
  }
  summary.seconds = std::chrono::duration<double>(clock::now() - start).count();
  return summary;
}

}  // namespace server
