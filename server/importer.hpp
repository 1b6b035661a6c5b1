#pragma once
// Bulk load of NDJSON files (`fhir-server import`): one resource per line, each validated as a write is,
// written in batches of `batch` resources per database transaction with update semantics (every resource
// needs an id; a resource whose content is unchanged gets no new version), so importing a file again
// changes nothing.
//
// A line that is not a valid resource is reported with its file and line number and skipped; the other
// lines are imported. Progress is kept in FILE.import-progress (the byte offset and line after the last
// committed batch, the lines rejected so far, and FILE's size and modification time; replaced atomically
// after each commit): an import killed half-way resumes after the last committed batch when run again (a
// batch committed just before the kill may be written again, which, being updates of the same content,
// writes nothing), and refuses to resume if FILE changed meanwhile. The progress file is removed when the
// import of FILE ends.
//
// `fhir-server import` writes through the store directly, like `--load`: run it with the server stopped
// (the running server's consent cache would not see imported Consents); the command's own output is the
// record of what was loaded, and `--organization` records the data controller of every resource. The
// `$import` operation (bulk/import_run.hpp) imports for a caller through the same code, adding its
// access, consent and audit rules through the hooks of import_options.
//
// A batch whose unit of work fails (a resource of another data controller, a Consent rule) is written
// again one resource per unit, so that only the lines at fault are rejected, each with its line number.

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "fhir/result.hpp"
#include "fhir/json/value.hpp"
#include "server/context.hpp"
#include "store/store.hpp"

namespace server {

struct import_line_error {
  std::filesystem::path file;
  std::size_t line = 0;
  std::string message;  // the errors, each with its FHIRPath location
  // Why, as a write would be answered: invalid and unprocessable for the content; forbidden and
  // not_found (hidden by Consent) when the writer may not change the target.
  fhir::error_kind kind = fhir::error_kind::invalid;
  std::string target;  // "Type/id" of the resource the line would have written (empty when unknown)
};

struct import_progress {
  std::filesystem::path file;
  std::uintmax_t bytes_done = 0, bytes_total = 0;  // of the current file
  std::size_t lines = 0;                           // of every file so far
  std::size_t imported = 0, rejected = 0;
  double seconds = 0;
};

struct import_options {
  std::size_t batch = 500;  // resources per transaction
  bool restart = false;     // ignore saved progress and start each file from its first line
  // The data controller (ODS code) recorded on every resource; a resource naming another is rejected,
  // and so is the update of a resource another controller holds. Empty: none recorded.
  std::string controller;
  // Set by another thread to stop before the next commit (the import then fails "cancelled"; the lines
  // read since the last commit are read again when it resumes).
  const std::atomic<bool>* cancelled = nullptr;
  // Called with each line's validation issues (errors included when it is rejected; `resource` is null
  // then), for the data-quality figures.
  std::function<void(const fhir::json::value* resource, const std::vector<fhir::issue>& issues)> validated;
  // Called for each valid resource before it joins a batch (it may add to it): an error rejects its line.
  std::function<fhir::result<fhir::done>(fhir::json::value& resource)> accept;
  // Called inside the unit of work before each resource is written: an error rejects its line.
  std::function<fhir::result<fhir::done>(store::transaction& unit, std::string_view type, std::string_view id)> before_write;
  // Called after each batch has committed, before its progress is saved: an error fails the import (the
  // batch's lines are then read again when it resumes).
  std::function<fhir::result<fhir::done>()> after_commit;
  // A line of text (no newline) saved with each progress, handed back to `resumed` when the file's import
  // continues from that progress: what the caller must know to continue as well.
  std::function<std::string(const import_progress& so_far)> progress_note;
  std::function<void(std::string_view note)> resumed;
  // Called after each committed batch (and at the end of each file).
  std::function<void(const import_progress&)> on_progress;
  // Called for each rejected line as it is found (so a killed import has reported its rejections).
  std::function<void(const import_line_error&)> on_rejected;
};

struct import_summary {
  std::size_t files = 0, lines = 0;
  std::size_t created = 0, updated = 0, unchanged = 0, rejected = 0;
  std::size_t resumed_files = 0;     // files continued from saved progress
  std::size_t rejected_before_resume = 0;  // lines rejected by the runs that saved that progress (in `rejected`)
  std::vector<import_line_error> errors;  // the first max_reported_errors
  double seconds = 0;
  static constexpr std::size_t max_reported_errors = 100;
};

// Where the progress of importing `file` is kept.
std::filesystem::path import_progress_path(const std::filesystem::path& file);

// `inputs`: NDJSON files, or directories whose *.ndjson files (recursively, in name order) are imported.
// Fails (without a summary) only when an input cannot be read or a batch cannot be written.
fhir::result<import_summary> import_ndjson(const context& ctx, const std::vector<std::filesystem::path>& inputs,
                                           const import_options& options);

}  // namespace server
