#pragma once
// Page links bound to the caller (consent.md section 3: "the cursor is bound to the caller, controller,
// purpose and break-glass session, and expires (15 min); another caller gets 404"). A store page token
// is sealed into `<expiry>.<mac>.<token>`, the MAC an HMAC-SHA256 under a key drawn at start-up over the
// caller (issuer, user, client, patient, controller, purpose), the search it pages (its path and
// parameters) and the expiry. A link handed to another caller, altered, reused for another search, or
// older than 15 minutes is refused; a restart refuses every earlier link. Each page is still decided
// afresh under the Consents and sessions of the moment.

#include <array>
#include <string>
#include <string_view>

#include "fhir/result.hpp"
#include "fhir/time.hpp"
#include "server/auth/authenticator.hpp"

namespace server {

inline constexpr fhir::epoch_ms page_link_lifetime = 15 * 60 * 1000;

class page_cursors {
 public:
  page_cursors();  // a fresh random key

  // `scope` names the search (its URL without the page token); `caller` may be null (no authentication).
  std::string seal(const auth::caller* caller, std::string_view scope, std::string_view token, fhir::epoch_ms now) const;
  // The store token of a sealed one; not_found when it is not this caller's, not this search's, forged or
  // expired.
  fhir::result<std::string> open(const auth::caller* caller, std::string_view scope, std::string_view sealed,
                                 fhir::epoch_ms now) const;

 private:
  std::string mac(const auth::caller* caller, std::string_view scope, std::string_view expiry, std::string_view token) const;

  std::array<unsigned char, 32> key_{};
};

}  // namespace server
