#include <fmt/format.h>

#include "fhir/base64.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/time.hpp"
#include "server/audit/request_audit.hpp"
#include "server/bundle/processors.hpp"
#include "server/interactions/common.hpp"
#include "server/bundle/response_entry.hpp"
#include "server/bundle_writer.hpp"
#include "server/responses.hpp"

namespace server::bundle {

http::response dispatch_entry(const context& ctx, const fhir_request& request, const entry_request& entry) {
  http::request sub{.method = entry.method, .target = "/fhir/" + entry.url, .headers = {}, .body = {},
                    .remote_address = request.http.remote_address};
  const std::string* binary_type = entry.resource ? entry.resource->find_string("contentType") : nullptr;
  const std::string* binary_data = entry.resource ? entry.resource->find_string("data") : nullptr;
  std::optional<std::string> json_patch;
  if (entry.method == "PATCH" && binary_type && binary_data && binary_type->starts_with("application/json-patch+json"))
    json_patch = fhir::base64_decode(*binary_data);
  if (json_patch) {
    // A JSON Patch travels in a Binary (http.html#transaction); the PATCH interaction takes it as is.
    sub.body = std::move(*json_patch);
    sub.headers.push_back({"Content-Type", "application/json-patch+json"});
  } else if (entry.resource) {
    sub.body = fhir::json::serialize(*entry.resource);
    sub.headers.push_back({"Content-Type", "application/fhir+json"});
  }
  for (auto [name, value] : {std::pair<const char*, const std::string&>{"If-None-Exist", entry.if_none_exist},
                             {"If-Match", entry.if_match},
                             {"If-None-Match", entry.if_none_match},
                             {"If-Modified-Since", entry.if_modified_since}})
    if (!value.empty()) sub.headers.push_back({name, value});
  // The caller's preferences apply to every entry, and the entry runs as the caller (the same gate as
  // the request it stands for).
  if (auto value = request.http.header_value("Prefer")) sub.headers.push_back({"Prefer", std::string(*value)});
  // Each entry is audited as its own request, under the Bundle's request id.
  if (request.audit) sub.headers.push_back({"X-Request-Id", request.audit->request_id()});
  return ctx.dispatch(sub, *request.caller);
}

std::string process_batch(const context& ctx, const fhir_request& request, const std::vector<std::string_view>& entries) {
  bundle_writer out("batch-response");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto entry = read_entry(ctx, entries[i], i);
    // A malformed entry fails alone: its response carries the OperationOutcome.
    http::response answer = entry ? dispatch_entry(ctx, request, *entry) : error_response(entry.error(), &request);
    out.add_response_entry(response_entry(ctx, answer));
  }
  return std::move(out).finish();
}

}  // namespace server::bundle
