#pragma once
// Who is calling and why (consent.md section 1): the bearer token verified (or, in development mode,
// the development identity), the effective purpose of use, and the caller's data controller; then the
// RBAC gate and SMART scopes for each operation. Everything here depends only on the caller, never on
// data, so its refusals (401, 400, 403) are decided before any lookup.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fhir/result.hpp"
#include "server/auth/access_policy.hpp"
#include "server/auth/claims.hpp"
#include "server/auth/jwt_verifier.hpp"

namespace server::auth {

enum class auth_mode {
  jwt,  // every request needs a verified bearer token (the default)
  dev,  // development: no token acts as the development user; `Bearer dev.<base64url(claims)>` simulates one
};

// The request context every interaction, the consent pipeline and the audit work from.
struct caller {
  std::shared_ptr<const claims> token;
  std::string purpose;  // the effective PurposeOfUse code
  purpose_class purpose_category = purpose_class::direct;  // the class of `purpose`
  std::string controller;  // the legal entity (ODS) the caller acts for; empty when the token names none

  bool patient_facing() const { return !token->patient.empty(); }
  bool development() const { return token->development; }
};

class authenticator {
 public:
  // `verifier` may be null in development mode (then only development identities exist).
  // `patient_data` tells whether a type is in the Patient compartment (patient-facing access and the
  // policy's "$patient-compartment"); none: no type is.
  authenticator(auth_mode mode, access_policy policy, std::shared_ptr<jwt_verifier> verifier,
                std::function<bool(std::string_view)> patient_data = {});

  // From the Authorization and X-Purpose-Of-Use headers. Fails unauthenticated (401: no token, a
  // malformed, forged, expired or foreign token, a development token outside development mode),
  // invalid (400: several purposes and no header), forbidden (403: a purpose the token does not allow
  // or the policy does not know).
  fhir::result<caller> authenticate(std::optional<std::string_view> authorization,
                                    std::optional<std::string_view> purpose_header, std::int64_t now_s) const;

  // The RBAC table and the token's SMART scopes both allow `op` on `type`. Only scopes of the caller's
  // kind count: patient/ scopes for patient-facing tokens, user/ scopes for users (a token with an NHS
  // role), system/ scopes for systems (neither). Fails forbidden with one uniform message whatever the
  // reason.
  fhir::result<fhir::done> authorise(const caller& c, std::string_view type, operation op) const;
  bool allowed(const caller& c, std::string_view type, operation op) const;

  // True when `type` is in the Patient compartment (the predicate given at construction).
  bool is_patient_data(std::string_view type) const { return patient_data_ && patient_data_(type); }

  auth_mode mode() const { return mode_; }
  const access_policy& policy() const { return policy_; }
  jwt_verifier* verifier() const { return verifier_.get(); }

  // The claims of the development user: every role (clinician with break-glass entitlement, consent
  // administrator, privacy officer) at the development organisation, every scope.
  static std::shared_ptr<const claims> development_user();

 private:
  fhir::result<std::shared_ptr<const claims>> identify(std::optional<std::string_view> authorization, std::int64_t now_s) const;

  auth_mode mode_;
  access_policy policy_;
  std::shared_ptr<jwt_verifier> verifier_;
  std::function<bool(std::string_view)> patient_data_;
};

// The uniform 403 of the RBAC gate and scope checks.
fhir::error forbidden();

}  // namespace server::auth
