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
#include "server/http/url.hpp"

namespace server {

inline constexpr fhir::epoch_ms page_link_lifetime = 15 * 60 * 1000;

// A request's parameters without its page token and the parameters that only shape the answer's text
// (_format, _pretty): what every page link of one search carries alike.
http::query_params without_paging(const http::query_params& params, std::string_view page_parameter);
// The name of a search for its page links: its first page's URL (`base` and the parameters above).
std::string page_scope(const std::string& base, const http::query_params& first_page_params);

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
