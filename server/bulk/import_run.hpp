#pragma once
// What a bulk import job does: for each input in order, fetch its NDJSON into the job's directory
// (bulk/url_fetch.hpp) and import it line by line as its owner would write each resource with PUT
// (server/importer.hpp): validated, allowed by the owner's role and scopes for the input's type, the
// owner's organisation recorded as data controller (and another controller's resources left alone), a
// target hidden from the owner by Consent treated as absent, the Consent workflow's rules. Each unit of
// work is audited as a write of the `$import` operation by its owner (the kick-off's request id links
// them) and counted for data quality. A line that fails is reported in the input's error file, an
// NDJSON of OperationOutcomes, with its line number; the other lines are imported. `meta.source` is set
// to the request's inputSource where a line has none.
//
// Kept in the job's directory so that the same import asked again after a restart continues: the
// fetched input (removed once imported), the importer's progress beside it, each finished input's
// outcome (`input-N.done`, removed when the whole job ends), and the error files (until the job expires).

#include "fhir/result.hpp"
#include "server/bulk/import_jobs.hpp"
#include "server/bulk/url_fetch.hpp"
#include "server/context.hpp"

namespace server::bulk {

// The file in a job's directory that says it can continue (present from its start until it completes).
inline constexpr std::string_view import_resumable_marker = "resumable";

struct import_run_settings {
  fetch_limits fetch;
  std::size_t batch = 500;  // resources per unit of work
};

fhir::result<fhir::done> run_import(const context& ctx, import_job& job, const import_run_settings& settings);

}  // namespace server::bulk
