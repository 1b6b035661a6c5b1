#pragma once
// The purpose-of-use classes and the role-based access table of consent.md section 1, loaded from a
// JSON configuration (docs/access-policy.md) with the design's NHS defaults built in. The RBAC gate runs
// before any data is looked up and depends only on the caller: role, purpose, resource type, operation.

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fhir/result.hpp"
#include "server/auth/claims.hpp"

namespace server::auth {

enum class purpose_class { direct, emergency, self, admin, planning, research };
std::string_view to_string(purpose_class c);

// What an interaction does to data, for RBAC (SMART's permissions map onto these one to one).
enum class operation { read, search, create, update, remove };
std::string_view to_string(operation o);
permission smart_permission(operation o);

// One row of the RBAC table: who (role or activity codes), for which purposes, on which types, doing what.
struct access_grant {
  std::string name;                            // for logs and documentation: "Clinician"
  std::vector<std::string> role_codes;         // matches nhs_role.role_code (or its last ':' segment)
  std::vector<std::string> activity_codes;     // or any of the role's activity codes
  std::vector<purpose_class> purpose_classes;  // every purpose of these classes
  std::vector<std::string> purposes;           // and these single purposes
  // "*": every type except the protected ones; "$patient-compartment": every type of the Patient
  // compartment except the protected ones (for patient-facing access).
  std::vector<std::string> types;
  std::vector<operation> operations;
};

class access_policy {
 public:
  static fhir::result<access_policy> parse(std::string_view json);
  static fhir::result<access_policy> load(const std::string& path);
  // The design's defaults (the text default_policy_json() returns).
  static const access_policy& defaults();
  static std::string_view default_policy_json();

  // The class of a PurposeOfUse code; nullopt for a code the table does not know.
  std::optional<purpose_class> class_of(std::string_view purpose) const;
  // The legal entity behind an ODS code (the site-to-trust map; a code not in it is its own controller).
  std::string controller_of(std::string_view ods) const;
  bool break_glass_entitled(const claims& c) const;

  // The RBAC gate: some grant that applies to the caller allows `purpose` (of class `cls`), `type` and
  // `op`. Patient-facing tokens use the patient grant, tokens without a user role the system grant.
  // `patient_data`: `type` is in the Patient compartment.
  bool allows(const claims& c, std::string_view purpose, purpose_class cls, std::string_view type, operation op,
              bool patient_data = false) const;

  // Types a wildcard grant does not cover (AuditEvent, Consent by default).
  const std::vector<std::string>& protected_types() const { return protected_types_; }

 private:
  bool grant_allows(const access_grant& g, std::string_view purpose, purpose_class cls, std::string_view type,
                    operation op, bool patient_data) const;
  bool is_protected(std::string_view type) const;

  std::unordered_map<std::string, purpose_class> purposes_;
  std::vector<std::string> protected_types_;
  std::vector<access_grant> roles_;
  access_grant patient_access_;
  access_grant patient_writes_;  // what a patient may write: their own objection (checked further in the unit)
  access_grant system_access_;
  access_grant break_glass_;  // role and activity codes only
  std::unordered_map<std::string, std::string> controllers_;
};

// True when `role` is one of `codes`: equal, or the last segment of a full national role path
// ("S8000:G8000:R8000" is R8000).
bool role_matches(const nhs_role& role, const std::vector<std::string>& codes);

}  // namespace server::auth
