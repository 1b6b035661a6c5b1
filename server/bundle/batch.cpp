#include <fmt/format.h>

#include "fhir/json/serialize.hpp"
#include "fhir/time.hpp"
#include "server/bundle/processors.hpp"
#include "server/bundle/response_entry.hpp"
#include "server/bundle_writer.hpp"

namespace server::bundle {

http::response dispatch_entry(const context& ctx, const fhir_request& request, const entry_request& entry) {
  http::request sub{.method = entry.method, .target = "/fhir/" + entry.url, .headers = {}, .body = {},
                    .remote_address = request.http.remote_address};
  if (entry.resource) {
    sub.body = fhir::json::serialize(*entry.resource);
    sub.headers.push_back({"Content-Type", "application/fhir+json"});
  }
  for (auto [name, value] : {std::pair<const char*, const std::string&>{"If-None-Exist", entry.if_none_exist},
                             {"If-Match", entry.if_match},
                             {"If-None-Match", entry.if_none_match},
                             {"If-Modified-Since", entry.if_modified_since}})
    if (!value.empty()) sub.headers.push_back({name, value});
  if (auto prefer = request.http.header_value("Prefer")) sub.headers.push_back({"Prefer", std::string(*prefer)});
  return ctx.dispatch(sub);
}

std::string process_batch(const context& ctx, const fhir_request& request, std::vector<entry_request> entries) {
  bundle_writer out("batch-response");
  for (const entry_request& entry : entries) out.add_response_entry(response_entry(ctx, dispatch_entry(ctx, request, entry)));
  return std::move(out).finish();
}

}  // namespace server::bundle
