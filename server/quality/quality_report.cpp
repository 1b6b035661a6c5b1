#include "server/quality/quality_report.hpp"

#include <algorithm>
#include <map>

#include "fhir/text.hpp"
#include "server/quality/quality_recorder.hpp"

namespace server::quality {
namespace {

using fhir::json::value;

value part(std::string_view name, std::string_view kind, value v) {
  value p = fhir::json::object{};
  p.set("name", name);
  p.set(kind, std::move(v));
  return p;
}
value integer(std::string_view name, std::int64_t n) { return part(name, "valueInteger", value::integer(std::min<std::int64_t>(n, INT32_MAX))); }
value text(std::string_view name, std::string_view s) { return part(name, "valueString", s); }
value with_parts(std::string_view name, fhir::json::array parts) {
  value p = fhir::json::object{};
  p.set("name", name);
  p.set("part", std::move(parts));
  return p;
}

std::string date_of_day(std::int64_t day) { return fhir::format_instant(day * 86'400'000).substr(0, 10); }

struct totals {
  std::int64_t accepted = 0, rejected = 0, issues = 0;
};

struct organisation {
  fhir::epoch_ms last_feed = 0;
  std::map<std::string, std::int64_t> metrics;  // accepted, rejected, nhs-number-invalid, ...
  std::map<std::string, totals> types;
  std::map<std::int64_t, totals> days;
  struct issue_total {
    std::int64_t count = 0;
    std::string example;
  };
  std::map<std::string, issue_total> issues;  // key -> total
};

}  // namespace

value quality_report(const std::vector<store::quality_count>& counts, const std::vector<std::pair<std::string, fhir::epoch_ms>>& last_feeds,
                     const report_options& options) {
  std::map<std::string, organisation> organisations;
  for (const auto& [code, last] : last_feeds) organisations[code].last_feed = std::max(organisations[code].last_feed, last);
  for (const store::quality_count& c : counts) {
    organisation& o = organisations[c.organization];
    o.metrics[c.metric] += c.count;
    if (c.metric == accepted || c.metric == rejected) {
      o.last_feed = std::max(o.last_feed, c.last_seen);
      totals& t = o.types[c.type];
      totals& d = o.days[c.day];
      (c.metric == accepted ? t.accepted : t.rejected) += c.count;
      (c.metric == accepted ? d.accepted : d.rejected) += c.count;
    } else if (c.metric == issue) {
      o.types[c.type].issues += c.count;
      auto& total = o.issues[c.key];
      total.count += c.count;
      if (total.example.empty()) total.example = c.example;
    }
  }

  fhir::json::array parameters;
  parameters.push_back(part("generated", "valueInstant", fhir::format_instant(options.now)));
  parameters.push_back(part("since", "valueDate", date_of_day(options.since_day)));
  for (const auto& [code, o] : organisations) {
    fhir::json::array parts;
    parts.push_back(text("code", code.empty() ? "none" : code));
    if (o.last_feed > 0) {
      parts.push_back(part("lastFeed", "valueInstant", fhir::format_instant(o.last_feed)));
      parts.push_back(part("stale", "valueBoolean", options.now - o.last_feed > options.stale_after));
    }
    auto metric = [&](std::string_view name) {
      auto it = o.metrics.find(std::string(name));
      return it == o.metrics.end() ? std::int64_t{0} : it->second;
    };
    parts.push_back(integer("accepted", metric(accepted)));
    parts.push_back(integer("rejected", metric(rejected)));
    parts.push_back(integer("nhsNumberInvalid", metric(nhs_number_invalid)));
    parts.push_back(integer("bindingNotFollowed", metric(binding_not_followed)));
    parts.push_back(integer("missingReference", metric(missing_reference)));
    parts.push_back(integer("duplicate", metric(duplicate)));
    parts.push_back(integer("unchecked", metric(unchecked)));
    for (const auto& [type, t] : o.types)
      parts.push_back(with_parts("type", {text("name", type), integer("accepted", t.accepted), integer("rejected", t.rejected),
                                          integer("issues", t.issues)}));
    for (const auto& [day, d] : o.days)
      parts.push_back(with_parts("day", {part("date", "valueDate", date_of_day(day)), integer("accepted", d.accepted),
                                         integer("rejected", d.rejected)}));
    std::vector<std::pair<std::string, organisation::issue_total>> ranked(o.issues.begin(), o.issues.end());
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second.count > b.second.count; });
    if (ranked.size() > options.top_issues) ranked.resize(options.top_issues);
    for (const auto& [key, total] : ranked) {
      // key: severity|message id|path
      std::size_t first = key.find('|');
      std::size_t second = key.find('|', first + 1);
      parts.push_back(with_parts("issue", {text("severity", key.substr(0, first)), text("code", key.substr(first + 1, second - first - 1)),
                                           text("path", key.substr(second + 1)), integer("count", total.count),
                                           text("example", total.example)}));
    }
    parameters.push_back(with_parts("organization", std::move(parts)));
  }
  value report = fhir::json::object{};
  report.set("resourceType", "Parameters");
  report.set("parameter", std::move(parameters));
  return report;
}

}  // namespace server::quality
