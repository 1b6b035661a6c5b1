#pragma once
// Consent decisions take effect on the very next request (consent.md P4), downloads of an export's
// files included: a file was decided when it was written, so before it is served the Consents written
// since the export's transactionTime are looked up, and when any of them concerns a patient whose data
// is in the file, the file is served through a filter that decides those patients' lines again (dropping
// what is now hidden, reducing a Patient now opted out). The other lines, and files no changed Consent
// concerns, are served as written, from disk.

#include <string>

#include "fhir/result.hpp"
#include "server/bulk/export_jobs.hpp"
#include "server/context.hpp"

namespace server::bulk {

// The path to send for `file` of `job` now: the file itself, or a filtered copy made beside it.
fhir::result<std::string> current_view(const context& ctx, const export_job& job, const export_file& file);

}  // namespace server::bulk
