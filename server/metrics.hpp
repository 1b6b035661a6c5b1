#pragma once
// Counters and latency histograms of the requests the server answers, for GET /metrics (Prometheus text
// exposition format 0.0.4). Thread-safe; recording a request costs one short lock.
//
// Labels are bounded sets: interactions come from the route table, statuses from HTTP, organisations
// from verified tokens (ODS codes; at most max_organizations distinct ones are kept, the rest count as
// "other"), resource types from the definitions. No label carries anything about a patient.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "fhir/outcome.hpp"

namespace server {

class metrics {
 public:
  // Upper bounds of the latency histogram's buckets, in seconds (Prometheus `le`).
  static constexpr std::array<double, 14> latency_buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                             0.1,    0.25,  0.5,    1,     2.5,   5,    10};
  static constexpr std::size_t max_organizations = 1000;
  static constexpr std::size_t max_validation_series = 10000;

  // A request answered: its interaction ("read", "search-type", ...; "none" when no route matched),
  // its status and how long the server took.
  void record_request(std::string_view interaction, unsigned status, std::chrono::nanoseconds took);
  // A successful write (create, update, patch, delete, or a Bundle) by a caller of `organization`, to a
  // resource of `type` ("Bundle" for batches and transactions).
  void record_write(std::string_view organization, std::string_view type);

  // The validation issues of a resource written (or refused) for a caller of `organization`: one count per
  // issue, by resource type, severity and message id (at most max_validation_series series, then "other").
  void record_validation(std::string_view organization, std::string_view type, const std::vector<fhir::issue>& issues);

  // A resource withheld from an answer by consent (read, search, include, history, $everything).
  void record_consent_withheld() { consent_withheld_.fetch_add(1, std::memory_order_relaxed); }

  // A transaction entry prepared inside its unit of work, on the writer: a conditional entry, one whose
  // references wait for matches, or one beyond the prepare-ahead budget (server/bundle/transaction.cpp).
  // Such work holds up other writes.
  void record_prepared_in_unit() { prepared_in_unit_.fetch_add(1, std::memory_order_relaxed); }

  // Appends the families above in the text format.
  void render(std::string& out) const;

 private:
  // The organisation's label: itself while fewer than max_organizations are known, else "other".
  std::string organization_label(std::string_view organization);
  struct histogram {
    std::array<std::uint64_t, latency_buckets.size()> counts{};  // per bucket, not cumulative
    std::uint64_t count = 0;
    double sum = 0;
  };
  std::atomic<std::uint64_t> consent_withheld_{0};
  std::atomic<std::uint64_t> prepared_in_unit_{0};
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, unsigned>, std::uint64_t, std::less<>> requests_;
  std::map<std::string, histogram, std::less<>> latency_;
  std::map<std::pair<std::string, std::string>, std::uint64_t, std::less<>> writes_;
  // (organization, type, severity, message id) -> issues
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::uint64_t, std::less<>> validation_;
  std::set<std::string, std::less<>> known_organizations_;
};

// Appends one sample line: `name{labels} value` (labels already formatted, may be empty).
void append_sample(std::string& out, std::string_view name, std::string_view labels, double value);
// A label value escaped as the text format requires (backslash, double quote, newline).
std::string escape_label(std::string_view value);

}  // namespace server
