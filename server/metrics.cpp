#include "server/metrics.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace server {

void metrics::record_request(std::string_view interaction, unsigned status, std::chrono::nanoseconds took) {
  double seconds = std::chrono::duration<double>(took).count();
  auto bucket = static_cast<std::size_t>(std::lower_bound(latency_buckets.begin(), latency_buckets.end(), seconds) - latency_buckets.begin());
  std::lock_guard lock(mutex_);
  auto key = std::pair{std::string(interaction), status};
  ++requests_[key];
  auto it = latency_.find(interaction);
  if (it == latency_.end()) it = latency_.emplace(std::string(interaction), histogram{}).first;
  if (bucket < latency_buckets.size()) ++it->second.counts[bucket];
  ++it->second.count;
  it->second.sum += seconds;
}

std::string metrics::organization_label(std::string_view organization) {
  std::string org(organization.empty() ? "none" : organization);
  if (!known_organizations_.contains(org)) {
    if (known_organizations_.size() >= max_organizations) return "other";
    known_organizations_.insert(org);
  }
  return org;
}

void metrics::record_write(std::string_view organization, std::string_view type) {
  std::lock_guard lock(mutex_);
  ++writes_[{organization_label(organization), std::string(type)}];
}

void metrics::record_validation(std::string_view organization, std::string_view type, const std::vector<fhir::issue>& issues) {
  if (issues.empty()) return;
  std::lock_guard lock(mutex_);
  std::string org = organization_label(organization);
  for (const fhir::issue& i : issues) {
    auto key = std::tuple{org, std::string(type), std::string(fhir::to_code(i.severity)), i.message_id.empty() ? "none" : i.message_id};
    auto it = validation_.find(key);
    if (it == validation_.end()) {
      if (validation_.size() >= max_validation_series) key = {"other", "other", std::get<2>(key), "other"};
      it = validation_.try_emplace(std::move(key), 0).first;
    }
    ++it->second;
  }
}

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void append_sample(std::string& out, std::string_view name, std::string_view labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += fmt::format(" {}\n", value);
}

void metrics::render(std::string& out) const {
  std::lock_guard lock(mutex_);
  out += "# HELP fhir_requests_total Requests answered, by interaction and HTTP status.\n"
         "# TYPE fhir_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    append_sample(out, "fhir_requests_total", fmt::format("interaction=\"{}\",status=\"{}\"", escape_label(key.first), key.second),
                  static_cast<double>(n));

  out += "# HELP fhir_request_duration_seconds Time to answer a request, by interaction.\n"
         "# TYPE fhir_request_duration_seconds histogram\n";
  for (const auto& [interaction, h] : latency_) {
    std::string label = escape_label(interaction);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
      cumulative += h.counts[i];
      append_sample(out, "fhir_request_duration_seconds_bucket", fmt::format("interaction=\"{}\",le=\"{}\"", label, latency_buckets[i]),
                    static_cast<double>(cumulative));
    }
    append_sample(out, "fhir_request_duration_seconds_bucket", fmt::format("interaction=\"{}\",le=\"+Inf\"", label),
                  static_cast<double>(h.count));
    append_sample(out, "fhir_request_duration_seconds_sum", fmt::format("interaction=\"{}\"", label), h.sum);
    append_sample(out, "fhir_request_duration_seconds_count", fmt::format("interaction=\"{}\"", label), static_cast<double>(h.count));
  }

  out += "# HELP fhir_writes_total Successful writes, by the caller's organisation (data controller) and resource type.\n"
         "# TYPE fhir_writes_total counter\n";
  for (const auto& [key, n] : writes_)
    append_sample(out, "fhir_writes_total", fmt::format("organization=\"{}\",type=\"{}\"", escape_label(key.first), escape_label(key.second)),
                  static_cast<double>(n));

  out += "# HELP fhir_validation_issues_total Validation issues of resources written or refused, by the caller's organisation, type, severity and message id.\n"
         "# TYPE fhir_validation_issues_total counter\n";
  for (const auto& [key, n] : validation_) {
    const auto& [org, type, severity, id] = key;
    append_sample(out, "fhir_validation_issues_total",
                  fmt::format("organization=\"{}\",type=\"{}\",severity=\"{}\",message_id=\"{}\"", escape_label(org), escape_label(type),
                              escape_label(severity), escape_label(id)),
                  static_cast<double>(n));
  }

  out += "# HELP fhir_consent_withheld_total Resources withheld from answers by consent (opt-outs, objections, the national data opt-out).\n"
         "# TYPE fhir_consent_withheld_total counter\n";
  append_sample(out, "fhir_consent_withheld_total", {}, static_cast<double>(consent_withheld_.load(std::memory_order_relaxed)));

  out += "# HELP fhir_transaction_entries_prepared_in_unit_total Transaction entries prepared on the writer inside their "
         "unit of work (conditional, waiting for matches, or beyond the prepare-ahead budget).\n"
         "# TYPE fhir_transaction_entries_prepared_in_unit_total counter\n";
  append_sample(out, "fhir_transaction_entries_prepared_in_unit_total", {},
                static_cast<double>(prepared_in_unit_.load(std::memory_order_relaxed)));
}

}  // namespace server
