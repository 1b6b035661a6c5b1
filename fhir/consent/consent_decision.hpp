#pragma once
// The consent decision (../shared/design/consent.md section 2, "The decision for resource R of patient
// P"): may this caller, for this purpose, see this resource of this patient, given the Consents on
// record? A pure function of its inputs (no I/O, no clock: `now` is given), so it is tested on its own
// and the server can cache its answers per (patient, caller context).

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fhir/consent/consent_rule.hpp"

namespace fhir::consent {

// The purpose classes of the design's purpose table.
enum class purpose_class { direct, emergency, self, admin, planning, research, unknown };

// Who asks, and why (from the verified token and request headers).
struct requester {
  std::string purpose;                  // the effective purpose of use (v3-ActReason): TREAT, ETREAT, HRESCH, ...
  purpose_class purpose_kind = purpose_class::unknown;
  std::string controller;               // the caller's data controller (legal entity ODS code)
  std::string organisation;             // the caller's own ODS code (org_ods), when a site of the controller
  std::string practitioner;             // the caller's SDS user id
  std::string user_reference;           // fhirUser ("Practitioner/1", "PractitionerRole/2")
  std::vector<std::string> groups;      // Group references the caller belongs to (none known today)
  std::string patient;                  // patient-facing tokens: the caller's own Patient id
  bool break_glass = false;             // an open break-glass session for this patient
};

// What the decision needs to know of the resource.
struct resource_facts {
  std::string type;
  std::string id;
  bool patient_data = true;             // in some patient's compartment (false: RBAC only)
  std::string controller;               // the data controller that wrote it (meta.tag data-controller)
  std::vector<code> security;           // meta.security
  std::vector<code> codes;              // its main code (Observation.code, Condition.code, ...)
  std::optional<epoch_ms> clinical_date;  // effective / recorded / authored; else last_updated is used
  epoch_ms last_updated = 0;
  std::vector<std::string> references;  // "Type/id" of every resource it references
  std::string author;                   // "Practitioner/1" or "Organization/ODS" when known
};

enum class verdict { permit, deny, minimal };

struct decision {
  verdict outcome = verdict::permit;
  // Why: "not-patient-data", "self", "controller", "default", or the Consent that decided ("Consent/c1").
  std::string basis;
  bool overridden = false;  // a deny turned into a permit by break-glass
  bool permitted() const { return outcome != verdict::deny; }
};

// What a data.reference "related" points at, when the decision needs it: the references of another
// resource ("Type/id" -> its references). Empty: related data matches the instance only.
using reference_lookup = std::function<std::vector<std::string>(const std::string& reference)>;

// The class of a purpose code (the server's purpose table); unknown when it is not in the table.
using purpose_classifier = std::function<purpose_class(std::string_view purpose)>;

struct decision_options {
  // For "purpose: exact or by class": a provision's purpose matches the request's when both are of one class.
  purpose_classifier classify;
  reference_lookup related;
  // The Patient under an opt-out, upheld objection or restriction: direct and emergency callers still get
  // its demographics (verdict minimal); false: hidden.
  bool minimal_patient = true;
};

// The decision for resource `r` of patient `patient`, given every Consent recorded for that patient
// (in force or not: the function checks status, period and patient itself).
decision decide(const requester& who, const resource_facts& r, const std::string& patient, const std::vector<consent_rule>& consents,
                epoch_ms now, const decision_options& options = {});

// Whether `rule` is in force at `now` for `patient`.
bool in_force(const consent_rule& rule, const std::string& patient, epoch_ms now);

}  // namespace fhir::consent
