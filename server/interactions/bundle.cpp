#include <algorithm>

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "server/bundle/processors.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/interactions.hpp"
#include "server/negotiation.hpp"
#include "server/responses.hpp"

namespace server::interactions {

// http.html#transaction, POST [base] with a Bundle of type batch or transaction. A transaction that
// fails answers with the failing entry's status and an OperationOutcome naming it (Bundle.entry[N]).
http::response bundle(const context& ctx, const fhir_request& request) {
  if (auto format = check_body_format(request.http.header_value("Content-Type")); !format)
    return error_response(format.error(), &request);
  // A Bundle may be as large as the body limit allows; the value cap (a guard against a DOM far larger
  // than its text) scales with the body: real FHIR JSON spends ~20 bytes per value, so a cap of one value
  // per 8 bytes never refuses a real Bundle and bounds the DOM of a hostile one to a few times its size.
  auto parsed = fhir::json::parse(request.http.body,
                                  {.max_values = std::max<std::size_t>(fhir::json::parse_options{}.max_values, request.http.body.size() / 8)});
  if (!parsed) return error_response(parsed.error(), &request);
  fhir::json::value& bundle = *parsed;
  const std::string* resource_type = bundle.find_string("resourceType");
  const std::string* type = bundle.find_string("type");
  if (!resource_type || *resource_type != "Bundle" || !type || (*type != "batch" && *type != "transaction"))
    return error_response(fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                                      "POST to the base takes a Bundle of type batch or transaction", "bundle-type-invalid",
                                      "Bundle.type"),
                          &request);
  auto entries = bundle::read_entries(ctx, bundle);
  if (!entries) return error_response(entries.error(), &request);
  if (*type == "batch") return json_response(200, bundle::process_batch(ctx, request, std::move(*entries)), request);
  auto answer = bundle::process_transaction(ctx, request, std::move(*entries));
  if (!answer) return error_response(answer.error(), &request);
  return json_response(200, std::move(*answer), request);
}

}  // namespace server::interactions
