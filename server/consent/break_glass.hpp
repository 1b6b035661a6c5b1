#pragma once
// Break-glass sessions (consent.md section 1). An entitled clinician declares an emergency for one
// patient (POST Patient/[id]/$break-glass with purpose ETREAT); for the session's length, their requests
// with an emergency purpose are evaluated as emergency access for that patient only: "except in
// emergencies" permits apply and granular denies are overridden (audited as such). A session belongs to
// one (issuer and user, role, controller, patient). Sessions are held in memory: a restart closes them, and the
// clinician declares again (which is audited again).

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "fhir/time.hpp"
#include "server/auth/authenticator.hpp"

namespace server::consent {

inline constexpr fhir::epoch_ms default_break_glass_length = 4LL * 3600 * 1000;

class break_glass_sessions {
 public:
  explicit break_glass_sessions(fhir::epoch_ms length = default_break_glass_length) : length_(length) {}

  // Opens (or renews) `caller`'s session for `patient`; returns when it ends.
  fhir::epoch_ms open(const auth::caller& caller, std::string_view patient, fhir::epoch_ms now);
  // Whether `caller` holds a session for `patient` at `now`.
  bool is_open(const auth::caller& caller, std::string_view patient, fhir::epoch_ms now) const;
  fhir::epoch_ms length() const { return length_; }
  // Sessions open at `now`, and sessions declared since start-up (for GET /metrics).
  std::size_t open_count(fhir::epoch_ms now) const;
  std::uint64_t declared() const;

 private:
  static std::string key_of(const auth::caller& caller, std::string_view patient);

  fhir::epoch_ms length_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, fhir::epoch_ms> ends_;  // key_of -> end of the session
  std::uint64_t declared_ = 0;
};

}  // namespace server::consent
