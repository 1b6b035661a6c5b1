// GET [base]/$data-quality?organization=ODS&_since=DATE&type=TYPE: what each source organisation sent
// and how good it was (server/quality/quality_report.hpp describes the Parameters it returns).
//
// Who sees what: an organisation's users see their own organisation's figures (the default); callers
// acting for system administration (purpose HSYSADMIN, as the privacy officer does) see any
// organisation, or all when none is named. Patient-facing tokens: 403. The figures name resource ids as
// examples, never resource content. Counts not yet added to the store are included (no write, no wait).

#include <fmt/format.h>

#include "fhir/text.hpp"
#include "fhir/json/serialize.hpp"
#include "server/interactions/interactions.hpp"
#include "server/quality/quality_recorder.hpp"
#include "server/quality/quality_report.hpp"
#include "server/responses.hpp"

namespace server::interactions {
namespace {

constexpr std::int64_t default_days = 30;

fhir::error bad_parameter(std::string_view name, std::string_view value, std::string_view why) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, fmt::format("{}={}: {}", name, fhir::utf8_prefix(value, 100), why),
                     "data-quality-parameter-invalid");
}

}  // namespace

http::response data_quality(const context& ctx, const fhir_request& request) {
  const auth::caller& caller = *request.caller;
  bool administrator = caller.purpose == "HSYSADMIN" && !caller.patient_facing();
  fhir::epoch_ms now = fhir::now_ms();
  store::quality_query query{.since_day = now / 86'400'000 - default_days};
  for (const auto& [name, value] : request.params) {
    if (name == "organization") {
      query.organization = value;
    } else if (name == "_since") {
      auto since = fhir::parse_date_time(value);
      if (!since) return error_response(bad_parameter(name, value, "expected a date or an instant"), &request);
      query.since_day = *since / 86'400'000;
    } else if (name == "type") {
      if (!ctx.definitions.is_resource_type(value)) return error_response(bad_parameter(name, value, "not a resource type"), &request);
      query.type = value;
    } else if (name != "_format" && name != "_pretty") {
      return error_response(bad_parameter(name, value, "not a parameter of $data-quality (organization, _since, type)"), &request);
    }
  }
  if (!administrator) {
    // Another organisation's figures, or all of them, are for system administration only.
    if (caller.patient_facing() || caller.controller.empty() || (query.organization && *query.organization != caller.controller))
      return error_response(auth::forbidden(), &request);
    query.organization = caller.controller;
  }
  if (!ctx.quality) return error_response(fhir::error(fhir::error_kind::not_supported, fhir::issue_type::not_supported,
                                                      "Data quality is not recorded by this server", "data-quality-off"),
                                          &request);
  auto reading = ctx.quality->reading();
  auto counts = ctx.store.quality_counts(query);
  if (!counts) return error_response(counts.error(), &request);
  auto feeds = ctx.store.last_feeds(query.organization);
  if (!feeds) return error_response(feeds.error(), &request);
  // The last seconds' counts, still in memory (checks still queued show at the next drain, within ~5 s).
  for (store::quality_count& c : ctx.quality->unstored({.organization = query.organization})) {
    if (c.metric == quality::accepted || c.metric == quality::rejected) feeds->emplace_back(c.organization, c.last_seen);
    if (c.day >= query.since_day && (query.type.empty() || c.type == query.type)) counts->push_back(std::move(c));
  }
  reading.unlock();
  auto report = quality::quality_report(*counts, *feeds, {.since_day = query.since_day, .now = now, .stale_after = ctx.settings.stale_feed_age});
  return json_response(200, fhir::json::serialize(report), request);
}

}  // namespace server::interactions
