#pragma once
// One function per FHIR RESTful interaction (http.html), named by its code. Each takes the shared context
// and a routed request (path segments already matched, the resource type already known to be valid) and
// returns the complete HTTP response. None of them knows about sockets.

#include "server/context.hpp"
#include "server/fhir_request.hpp"
#include "server/http/message.hpp"

namespace server::interactions {

using interaction = http::response (*)(const context&, const fhir_request&);

http::response capabilities(const context& ctx, const fhir_request& request);      // GET metadata
http::response create(const context& ctx, const fhir_request& request);            // POST [type]
http::response read(const context& ctx, const fhir_request& request);              // GET [type]/[id]
http::response vread(const context& ctx, const fhir_request& request);             // GET [type]/[id]/_history/[vid]
http::response update(const context& ctx, const fhir_request& request);            // PUT [type]/[id]
http::response delete_(const context& ctx, const fhir_request& request);           // DELETE [type]/[id]
http::response update_conditional(const context& ctx, const fhir_request& request);  // PUT [type]?criteria
http::response delete_conditional(const context& ctx, const fhir_request& request);  // DELETE [type]?criteria
http::response patch(const context& ctx, const fhir_request& request);             // PATCH [type]/[id]
http::response patch_conditional(const context& ctx, const fhir_request& request);  // PATCH [type]?criteria
http::response everything(const context& ctx, const fhir_request& request);        // GET Patient/[id]/$everything
http::response break_glass(const context& ctx, const fhir_request& request);       // POST Patient/[id]/$break-glass
http::response bundle(const context& ctx, const fhir_request& request);             // POST [base]: transaction, batch
http::response history_instance(const context& ctx, const fhir_request& request);  // GET [type]/[id]/_history
http::response history_type(const context& ctx, const fhir_request& request);      // GET [type]/_history
http::response history_system(const context& ctx, const fhir_request& request);    // GET _history
http::response validate(const context& ctx, const fhir_request& request);          // POST [type](/[id])/$validate
http::response search_type(const context& ctx, const fhir_request& request);       // GET [type], POST [type]/_search
http::response search_system(const context& ctx, const fhir_request& request);     // GET [base], POST _search
http::response data_quality(const context& ctx, const fhir_request& request);     // GET $data-quality
http::response export_kickoff(const context& ctx, const fhir_request& request);  // GET $export, Patient/$export, Group/[id]/$export
http::response export_status(const context& ctx, const fhir_request& request);   // GET $export-poll-status/[job]
http::response export_cancel(const context& ctx, const fhir_request& request);   // DELETE $export-poll-status/[job]
http::response export_file(const context& ctx, const fhir_request& request);     // GET $export-file/[job]/[name]
http::response import_kickoff(const context& ctx, const fhir_request& request);  // POST $import
http::response import_status(const context& ctx, const fhir_request& request);   // GET $import-poll-status/[job]
http::response import_cancel(const context& ctx, const fhir_request& request);   // DELETE $import-poll-status/[job]
http::response import_file(const context& ctx, const fhir_request& request);     // GET $import-file/[job]/[name]
http::response search_compartment(const context& ctx, const fhir_request& request);  // GET Patient/[id]/[type]

}  // namespace server::interactions
