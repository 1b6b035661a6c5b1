#pragma once
// Consent enforcement in the server (../shared/design/consent.md sections 2 and 3): the Consents of each
// patient, read from the store and cached until a Consent is written; the facts of a stored resource
// and of the caller that the decision (fhir/consent) needs; and the decision for a stored resource,
// which must be visible for every patient it belongs to.

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fhir/consent/consent_decision.hpp"
#include "server/auth/authenticator.hpp"
#include "store/store.hpp"

namespace server {
struct context;
struct fhir_request;
}

namespace server::consent {

// The Consent rules recorded for each patient. Entries are dropped whenever a Consent is written
// (invalidate, called once the write has committed and before it is answered), so a change takes effect
// on the very next request (P4). A load that raced with a write is used but not kept.
class consent_cache {
 public:
  std::vector<fhir::consent::consent_rule> rules_of(const context& ctx, const std::string& patient);
  // When the national data opt-out mirror was last refreshed: the newest write of an `ndoo` Consent;
  // nullopt when there is none (or it cannot be read).
  std::optional<fhir::epoch_ms> ndoo_refreshed(const context& ctx);
  void invalidate();

 private:
  std::mutex mutex_;
  std::uint64_t generation_ = 0;
  std::unordered_map<std::string, std::vector<fhir::consent::consent_rule>> rules_;
  std::optional<std::optional<fhir::epoch_ms>> ndoo_refreshed_;  // outer: known since the last invalidate
};

// With --ndoo-max-age (consent.md section 2, step 5): planning and research callers are served only while
// the national data opt-out mirror is fresh, else 503 (the opt-outs they must honour may be stale).
fhir::result<fhir::done> check_ndoo_freshness(const context& ctx, const auth::caller& caller);

// The caller as the decision for `patient`'s data sees them. An emergency purpose counts only with a
// break-glass session for that patient (consent.md section 1); without one it is evaluated as direct
// care (TREAT), so an "except in emergencies" permit cannot be reached by just asking with ETREAT.
fhir::consent::requester requester_of(const context& ctx, const auth::caller& caller, std::string_view patient);

// Whether `caller` acts under a break-glass session for `patient` now (emergency purpose, session open).
bool under_break_glass(const context& ctx, const auth::caller& caller, std::string_view patient);

// The patients whose records hold `version`: a Patient is its own; other patient data belongs to every
// patient it refers to (a superset of its compartments: deciding for more patients only hides more).
std::vector<std::string> patients_of(const store::resource_version& version);

fhir::consent::resource_facts facts_of(const context& ctx, const store::resource_version& version);

// The decision for `version` as `caller` sees it: the strictest over its patients (any deny hides it).
// `break_glass_used`, when given, is set if a break-glass session applied to one of those patients.
fhir::consent::decision decide(const context& ctx, const auth::caller& caller, const store::resource_version& version,
                               bool* break_glass_used = nullptr);

// Applies the decision to a resource about to be returned to `request`'s caller: false when it must look
// absent; a Patient under an opt-out is reduced in place (minimal_patient). The audit record notes the
// Consent that decided. Requests without a caller (none today) are not filtered. `in_full_only`: a
// resource the caller may see only in minimal form must look absent too (a _contained search's
// container, found by what the minimal form withholds).
bool show(const context& ctx, const fhir_request& request, store::resource_version& version, bool in_full_only = false);

// For an update or delete of an existing resource: false when the caller may not see its current
// version (the write is then answered as for a missing id).
bool may_change(const context& ctx, const fhir_request& request, std::string_view type, std::string_view id);
// Whether the caller may see a version already read (a PATCH's or a transaction entry's target, the
// last live version of a deleted resource); no audit note, no reduction.
bool visible(const context& ctx, const fhir_request& request, const store::resource_version& version);

// The newest version of a deleted resource that was not a deletion (what decides a deleted resource).
std::optional<store::resource_version> last_live_version(const context& ctx, const std::string& type, const std::string& id);

// Drops the included resources not linked to what is shown: an include stays when the store reached it
// from a shown match or from an include kept so far (:iterate), by the links it followed
// (search_entry::included_by). One reached only from a hidden match goes with it.
void keep_linked_includes(const std::vector<store::search_entry>& shown, std::vector<store::search_entry>& includes);

// The OperationOutcome entries of a search Bundle (consent.md sections 1 and 3): something was withheld
// from a clinical caller (no reason, no count); emergency access under break-glass is in effect.
std::string withheld_notice();
std::string emergency_access_notice();

// The Patient reduced to what identifies the person (identifier, name, birthDate, gender), tagged
// REDACTED in meta.security: what a clinical caller sees of a patient who opted out.
std::string minimal_patient(const std::string& json);

}  // namespace server::consent
