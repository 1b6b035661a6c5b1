#pragma once
// Data quality per source organisation (issue 10): every validated write is counted against the data
// controller that sent it, by resource type and day: accepted or rejected by validation, each validation
// issue (severity, message id and element path, with a first example), NHS numbers failing Modulus 11,
// codes outside extensible or preferred bindings, references to resources the record does not hold, and
// identifiers already held by another resource of the type (duplicates).
//
// Counting must not slow the write: the request thread adds to an in-memory tally and queues the two
// checks that need the store (references, identifiers); a thread of its own runs them after the write
// has committed and adds the tally to the store every few seconds (store::add_quality). A crash loses at
// most the last few seconds of counts, never a write. Checks beyond `max_pending` waiting are counted as
// "unchecked" rather than queued without bound.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "fhir/json/value.hpp"
#include "fhir/outcome.hpp"
#include "fhir/search/search_parameters.hpp"
#include "fhir/time.hpp"
#include "store/store.hpp"

namespace server::quality {

// The metrics counted (store::quality_count::metric).
inline constexpr std::string_view accepted = "accepted";
inline constexpr std::string_view rejected = "rejected";
inline constexpr std::string_view issue = "issue";                     // key: severity|message id|path
inline constexpr std::string_view nhs_number_invalid = "nhs-number-invalid";
inline constexpr std::string_view binding_not_followed = "binding-not-followed";  // extensible or preferred
inline constexpr std::string_view missing_reference = "missing-reference";
inline constexpr std::string_view duplicate = "duplicate";             // key: the identifier's system
inline constexpr std::string_view unchecked = "unchecked";             // checks dropped under load

class quality_recorder {
 public:
  quality_recorder(store::store& store, const fhir::search::search_parameters& parameters, std::size_t max_pending = 10'000,
                   fhir::epoch_ms flush_interval = 5'000);
  ~quality_recorder();  // adds what is tallied to the store
  quality_recorder(const quality_recorder&) = delete;
  quality_recorder& operator=(const quality_recorder&) = delete;

  // A write of `type` from `organization` was validated with `issues`; `resource` is what was validated
  // (null when it could not be read at all), `url_id` the id its URL names (for examples).
  void record(std::string_view organization, std::string_view type, const std::vector<fhir::issue>& issues,
              const fhir::json::value* resource, std::string_view url_id = {});

  // Runs the queued checks and adds everything tallied to the store; returns once it is stored.
  fhir::result<fhir::done> flush();

 private:
  struct check {
    std::string organization, type, id;
    std::vector<std::string> references;                        // "Type/id"
    std::vector<std::pair<std::string, std::string>> identifiers;  // (system, value)
    fhir::epoch_ms at = 0;
  };
  using tally_key = std::tuple<std::int64_t, std::string, std::string, std::string, std::string>;  // day, org, type, metric, key
  struct tally_value {
    std::int64_t count = 0;
    std::string example;
    fhir::epoch_ms last_seen = 0;
  };

  void count(fhir::epoch_ms at, std::string_view organization, std::string_view type, std::string_view metric, std::string key,
             std::string example);  // with mutex_ held
  void run_check(const check& c);
  fhir::result<fhir::done> drain();  // with flush_mutex_ held
  void work();

  store::store& store_;
  const fhir::search::search_parameters& parameters_;
  std::size_t max_pending_;
  fhir::epoch_ms flush_interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<tally_key, tally_value> tally_;
  std::deque<check> pending_;
  bool stopping_ = false;
  std::mutex flush_mutex_;  // one drain at a time (the thread's, or a caller's flush)
  std::thread thread_;
};

}  // namespace server::quality
