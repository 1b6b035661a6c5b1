#pragma once
// Processing of batch and transaction Bundles (http.html#transaction). Both answer with the response
// Bundle (compact JSON) or, for a failed transaction, the error that names the failing entry.

#include <string>
#include <vector>

#include "fhir/result.hpp"
#include "server/bundle/entries.hpp"
#include "server/context.hpp"
#include "server/fhir_request.hpp"

namespace server::bundle {

// batch: every entry on its own, as if it were a request of its own; failures are reported per entry.
// `entries` are the texts of Bundle.entry (bundle_text.hpp), read one at a time.
std::string process_batch(const context& ctx, const fhir_request& request, const std::vector<std::string_view>& entries);

// transaction: all writes in one unit of work, in the order DELETE, POST, PUT/PATCH (then GET/HEAD,
// after the commit), with urn:uuid/urn:oid fullUrls and conditional references resolved. Any failure
// fails the whole transaction and nothing persists.
fhir::result<std::string> process_transaction(const context& ctx, const fhir_request& request,
                                              const std::vector<std::string_view>& entries);

// One entry as a request of its own through the router (batch entries, and a transaction's reads).
http::response dispatch_entry(const context& ctx, const fhir_request& request, const entry_request& entry);

}  // namespace server::bundle
