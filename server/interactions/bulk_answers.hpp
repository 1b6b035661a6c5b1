#pragma once
// The answers the asynchronous bulk operations share ($export and $import, the async pattern of Bulk Data
// Access 2.0, async.html): their status and file URLs, a job that is not the caller's, a kick-off
// accepted or refused, a job still running, a job that failed. `kind` is "export" or "import".

#include <string>
#include <string_view>

#include "fhir/outcome.hpp"
#include "server/context.hpp"
#include "server/fhir_request.hpp"
#include "server/http/message.hpp"

namespace server::interactions::bulk_answers {

// [base]/$<kind>-poll-status/<job> and [base]/$<kind>-file/<job>/<name>.
std::string status_url(const context& ctx, std::string_view kind, const std::string& job);
std::string file_url(const context& ctx, std::string_view kind, const std::string& job, const std::string& name);

// 404 for a job id that is unknown, expired, cancelled, or another caller's (indistinguishable).
fhir::error no_such_job(std::string_view kind, std::string_view id);

// 202 with the Content-Location to poll.
http::response accepted(const context& ctx, std::string_view kind, const std::string& job, const fhir_request& request);
// A kick-off the queue refused: its error, with Retry-After when the queue is busy.
http::response refused(const fhir::error& error, const fhir_request& request);
// 202 with X-Progress (at most 100 characters) and Retry-After.
http::response in_progress(std::string_view progress);
// 500 with an OperationOutcome saying the job failed and what the client can do (`hint`); the cause is in
// the server's log (the job queue logged it), never in the answer.
http::response failed(std::string_view kind, std::string_view id, std::string_view hint, const fhir_request& request);

}  // namespace server::interactions::bulk_answers
