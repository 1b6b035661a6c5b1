#pragma once
// The Consent write workflow (consent.md section 2) that depends on who writes and on what is stored:
// checked inside the unit of work that writes the Consent (store::scoped_write_check), so it holds
// whatever path the write takes (create, update, patch, conditional, transaction entry).
//
// - A Consent changes by status only: any other difference from the stored version is 422. Statuses move
//   forward: draft/proposed -> anything; active -> inactive | entered-in-error; rejected and inactive ->
//   entered-in-error; entered-in-error is final.
// - One active opt-out (shcr-optout) per patient: a second is 422.
// - A patient (patient-facing token) may only raise an Article 21 objection for themselves, as
//   `proposed`, and withdraw it (`inactive`); upholding (`active`) or rejecting it is the consent
//   administrator's.
// - Every status change is recorded as a Provenance targeting the new version, with the old and new
//   status, written in the same unit (so audited with it).

#include <vector>

#include "fhir/result.hpp"
#include "server/auth/authenticator.hpp"
#include "store/store.hpp"

namespace server {
struct context;
}

namespace server::consent {

fhir::result<fhir::done> check_consent_writes(const context& ctx, const auth::caller& caller, store::transaction& unit,
                                              const std::vector<store::audited_write>& written);

}  // namespace server::consent
