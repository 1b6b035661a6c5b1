#pragma once
// What a bulk export job writes: for each type, every current resource the job's query selects (its
// level, `_since`, `_typeFilter`, and nothing modified after the job's transaction time), each decided
// by the consent pipeline for the job's owner and purpose exactly as a search would decide it
// (consent.md P1, P3): hidden resources are left out (for planning and research purposes the national
// data opt-out removes those patients' data), a clinician gets an opted-out patient's minimal Patient.
//
// Resources are read from the store a page at a time and appended to NDJSON files of at most
// `max_lines_per_file` lines, so memory stays flat however much is exported (one exception: a type with
// several _typeFilter queries remembers the ids it has written, to write each resource once).

#include <cstddef>

#include "fhir/result.hpp"
#include "server/bulk/export_jobs.hpp"
#include "server/context.hpp"

namespace server::bulk {

struct run_settings {
  std::size_t page_size = 1000;
  std::size_t max_lines_per_file = 100'000;
};

fhir::result<fhir::done> run_export(const context& ctx, export_job& job, const run_settings& settings = {});

}  // namespace server::bulk
