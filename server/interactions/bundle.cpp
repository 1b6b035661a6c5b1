#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/text.hpp"
#include "server/bundle/bundle_text.hpp"
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
  // The entries are split off as text and read one at a time by the processors; the rest (resourceType,
  // type, ...) is parsed here. Text that does not split is parsed whole, for its syntax error.
  // A bound on the work one request can ask for (a batch answers every entry, even an empty one).
  constexpr std::size_t max_entries = 100'000;
  auto split = bundle::split_bundle(request.http.body, max_entries);
  if (!split) {
    auto parsed = fhir::json::parse(request.http.body);
    return error_response(parsed ? fhir::error(fhir::error_kind::invalid, fhir::issue_type::structure,
                                               "POST to the base takes a Bundle (a JSON object)", "bundle-type-invalid")
                                 : parsed.error(),
                          &request);
  }
  if (split->entries.size() > max_entries)
    return error_response(fhir::error(fhir::error_kind::too_large, fhir::issue_type::too_costly,
                                      fmt::format("The Bundle has more than {} entries, the most this server takes per request",
                                                  max_entries),
                                      "bundle-too-many-entries", "Bundle.entry"),
                          &request);
  auto parsed = fhir::json::parse(split->skeleton);
  if (!parsed) return error_response(parsed.error(), &request);
  fhir::json::value& bundle = *parsed;
  if (std::string_view twice = bundle::duplicate_member(bundle); !twice.empty())
    return error_response(fhir::error(fhir::error_kind::invalid, fhir::issue_type::structure,
                                      fmt::format("Duplicate JSON property '{}'", fhir::utf8_prefix(twice, 60)), "json-duplicate-key", "Bundle"),
                          &request);
  const std::string* resource_type = bundle.find_string("resourceType");
  const std::string* type = bundle.find_string("type");
  if (!resource_type || *resource_type != "Bundle" || !type || (*type != "batch" && *type != "transaction"))
    return error_response(fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                                      "POST to the base takes a Bundle of type batch or transaction", "bundle-type-invalid",
                                      "Bundle.type"),
                          &request);
  if (const fhir::json::value* entry = bundle.find("entry"); entry && entry->is_array() && !entry->as_array().empty())
    return error_response(fhir::error(fhir::error_kind::invalid, fhir::issue_type::structure,
                                      "Bundle.entry must be written as \"entry\" (the member name is escaped)", "bundle-entry-invalid",
                                      "Bundle.entry"),
                          &request);
  if (const fhir::json::value* entry = bundle.find("entry"); entry && !entry->is_array())
    return error_response(fhir::error(fhir::error_kind::invalid, fhir::issue_type::structure, "Bundle.entry must be an array",
                                      "bundle-entry-invalid", "Bundle.entry"),
                          &request);
  if (*type == "batch") return json_response(200, bundle::process_batch(ctx, request, split->entries), request);
  auto answer = bundle::process_transaction(ctx, request, split->entries);
  if (!answer) return error_response(answer.error(), &request);
  return json_response(200, std::move(*answer), request);
}

}  // namespace server::interactions
