#pragma once
// Data quality per source organisation (issue 10): every write is counted against the data controller
// that sent it, by resource type and day. When it is validated: accepted or rejected, each validation
// issue (severity, message id and element path), NHS numbers failing Modulus 11, codes outside
// extensible or preferred bindings. After it has committed: references to resources that are not there
// for the sender (missing, deleted, or hidden from them by Consent: the same answer, consent.md P2), and
// identifiers that another resource of the type, visible to the sender, held before (duplicates).
//
// Counting must not slow the write: the request thread adds to an in-memory tally, the writer's unit
// queues the written versions (written()), and a thread of its own checks them after the commit and adds
// the tally to the store every few seconds (store::add_quality). A crash loses at most the last seconds
// of counts, never a write. Examples name resources ("Observation/o1"), never their content. Memory is
// bounded: checks beyond `max_pending` are counted as "unchecked", tally keys beyond `max_keys` as "other".

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "fhir/outcome.hpp"
#include "fhir/search/search_parameters.hpp"
#include "fhir/time.hpp"
#include "server/auth/authenticator.hpp"
#include "store/store.hpp"

namespace server::quality {

// The metrics counted (store::quality_count::metric).
inline constexpr std::string_view accepted = "accepted";
inline constexpr std::string_view rejected = "rejected";
inline constexpr std::string_view issue = "issue";                     // key: severity|message id|path
inline constexpr std::string_view nhs_number_invalid = "nhs-number-invalid";
inline constexpr std::string_view binding_not_followed = "binding-not-followed";  // extensible or preferred; key: path
inline constexpr std::string_view missing_reference = "missing-reference";        // key: the target type
inline constexpr std::string_view duplicate = "duplicate";             // key: the identifier's system
inline constexpr std::string_view unchecked = "unchecked";             // checks dropped under load

// Whether `caller` may see `version` (the consent decision); the checks answer for the sender only.
using visibility = std::function<bool(const auth::caller& caller, const store::resource_version& version)>;

struct recorder_options {
  std::string base_url;              // absolute references to it are local
  std::size_t max_pending = 10'000;  // written versions waiting for their checks
  std::size_t max_keys = 20'000;     // distinct tally keys between two additions to the store
  fhir::epoch_ms flush_interval = 5'000;
};

class quality_recorder {
 public:
  quality_recorder(store::store& store, const fhir::search::search_parameters& parameters, visibility visible, recorder_options options);
  ~quality_recorder();  // adds what is tallied to the store
  quality_recorder(const quality_recorder&) = delete;
  quality_recorder& operator=(const quality_recorder&) = delete;

  // A write of `type` from `organization` was validated with `issues`; `id` names it in examples (empty
  // when not known yet).
  void validated(std::string_view organization, std::string_view type, std::string_view id, const std::vector<fhir::issue>& issues);
  // A unit of work by `caller` wrote these versions (called inside the unit: it only queues them).
  void written(const auth::caller& caller, const std::vector<store::audited_write>& versions);

  // Runs the checks of every committed version queued so far and adds the tally to the store.
  fhir::result<fhir::done> flush();

  // A report reads the store and then unstored() while holding this: counts being handed to the store
  // are then either still unstored or already stored, never neither (nor both).
  std::shared_lock<std::shared_mutex> reading() const { return std::shared_lock(handover_); }
  // What is tallied and not yet in the store, as `query` selects it (a report adds it to the stored counts).
  std::vector<store::quality_count> unstored(const store::quality_query& query) const;

 private:
  struct check {
    auth::caller caller;
    store::version_info version;
    fhir::epoch_ms queued = 0;
  };
  using tally_key = std::tuple<std::int64_t, std::string, std::string, std::string, std::string>;  // day, org, type, metric, key
  struct tally_value {
    std::int64_t count = 0;
    std::string example;
    fhir::epoch_ms last_seen = 0;
  };

  // Adds `more` into `into`, folding keys beyond the cap into "other".
  void merge(std::map<tally_key, tally_value>& into, std::map<tally_key, tally_value>&& more) const;
  void count(fhir::epoch_ms at, std::string_view organization, std::string_view type, std::string_view metric, std::string_view key,
             std::string_view example);  // with mutex_ held
  // false: the version is not readable yet (its unit has not committed): try again later.
  bool run_check(const check& c);
  fhir::result<fhir::done> drain();  // with flush_mutex_ held
  void work();

  store::store& store_;
  const fhir::search::search_parameters& parameters_;
  visibility visible_;
  recorder_options options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<tally_key, tally_value> tally_;
  std::deque<check> pending_;
  bool stopping_ = false;
  std::mutex flush_mutex_;  // one drain at a time (the thread's, or a caller's flush)
  mutable std::shared_mutex handover_;  // exclusive while a drain moves the tally into the store
  std::thread thread_;
};

}  // namespace server::quality
