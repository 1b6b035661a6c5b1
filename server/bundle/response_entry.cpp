#include "server/bundle/response_entry.hpp"

#include <fmt/format.h>

#include "fhir/json/serialize.hpp"
#include "fhir/outcome.hpp"
#include "fhir/time.hpp"

namespace server::bundle {
namespace {

std::string status_line(unsigned status) { return fmt::format("{} {}", status, http::reason_phrase(status)); }

}  // namespace

bundle_writer::entry_response response_entry(const context& ctx, const http::response& response) {
  bundle_writer::entry_response entry;
  entry.status = status_line(response.status);
  if (auto location = response.header_value("Location").value_or(response.header_value("Content-Location").value_or("")); !location.empty()) {
    entry.location = std::string(location);
    if (entry.location.starts_with(ctx.settings.base_url + "/")) entry.location.erase(0, ctx.settings.base_url.size() + 1);
  }
  if (auto etag = response.header_value("ETag")) entry.etag = std::string(*etag);
  if (auto modified = response.header_value("Last-Modified"))
    if (auto instant = fhir::parse_http_date(*modified)) entry.last_modified = fhir::format_instant(*instant);
  bool json_body = !response.body.empty() && response.body.front() == '{';
  if (json_body) (response.status >= 400 ? entry.outcome : entry.resource) = response.body;
  return entry;
}

bundle_writer::entry_response response_entry(const context&, unsigned status, const store::resource_version& version,
                                             prefer_return prefer) {
  const auto& info = version.info;
  bundle_writer::entry_response entry;
  entry.status = status_line(status);
  entry.location = fmt::format("{}/{}/_history/{}", info.type, info.id, info.version);
  entry.etag = fmt::format("W/\"{}\"", info.version);
  entry.last_modified = fhir::format_instant(info.last_updated);
  if (prefer == prefer_return::representation && !info.deleted) entry.resource = version.json;
  if (prefer == prefer_return::operation_outcome)
    entry.outcome = fhir::json::serialize(fhir::to_operation_outcome(
        {fhir::issue{fhir::severity::information, fhir::issue_type::informational,
                     fmt::format("{} {}/{}/_history/{}", status_line(status), info.type, info.id, info.version), "", "bundle-entry-ok"}}));
  return entry;
}

}  // namespace server::bundle
