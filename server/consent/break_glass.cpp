#include "server/consent/break_glass.hpp"

#include <algorithm>
#include <iterator>

#include "fhir/text.hpp"

namespace server::consent {
namespace {

// Expired sessions are dropped once this many are held (each open prunes then), so memory stays bounded
// by the sessions opened within one session length.
constexpr std::size_t prune_above = 1024;

}  // namespace

std::string break_glass_sessions::key_of(const auth::caller& caller, std::string_view patient) {
  const auth::claims& token = *caller.token;
  std::string role = token.roles.empty() ? std::string() : token.roles.front().person_roleid + "/" + token.roles.front().role_code;
  // Each part length-prefixed, so no choice of claim values makes two callers' keys equal.
  std::string key;
  for (std::string_view part :
       {std::string_view(token.issuer), std::string_view(token.subject), std::string_view(role), std::string_view(caller.controller), patient})
    fhir::append_length_prefixed(key, part);
  return key;
}

fhir::epoch_ms break_glass_sessions::open(const auth::caller& caller, std::string_view patient, fhir::epoch_ms now) {
  fhir::epoch_ms end = now + length_;
  std::lock_guard lock(mutex_);
  if (ends_.size() > prune_above)
    for (auto it = ends_.begin(); it != ends_.end();) it = it->second <= now ? ends_.erase(it) : std::next(it);
  ends_[key_of(caller, patient)] = end;
  ++declared_;
  return end;
}

std::size_t break_glass_sessions::open_count(fhir::epoch_ms now) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(ends_.begin(), ends_.end(), [now](const auto& s) { return now < s.second; }));
}

std::uint64_t break_glass_sessions::declared() const {
  std::lock_guard lock(mutex_);
  return declared_;
}

bool break_glass_sessions::is_open(const auth::caller& caller, std::string_view patient, fhir::epoch_ms now) const {
  std::lock_guard lock(mutex_);
  auto it = ends_.find(key_of(caller, patient));
  return it != ends_.end() && now < it->second;
}

}  // namespace server::consent
