#pragma once
// The Bundle.entry of a batch-response or transaction-response, from what the entry's request answered.

#include "server/bundle_writer.hpp"
#include "server/context.hpp"
#include "server/fhir_request.hpp"
#include "server/http/message.hpp"
#include "store/store.hpp"

namespace server::bundle {

// From an HTTP response (a batch entry, or a transaction's read): the status line, Location made
// relative to the base, ETag, Last-Modified as an instant; a resource body as entry.resource on success,
// an OperationOutcome as response.outcome on failure.
bundle_writer::entry_response response_entry(const context& ctx, const http::response& response);

// From a version a transaction wrote (or matched): status, relative location, etag and lastModified, and
// the resource or an OperationOutcome as the caller's Prefer asks.
bundle_writer::entry_response response_entry(const context& ctx, unsigned status, const store::resource_version& version,
                                             prefer_return prefer);

}  // namespace server::bundle
