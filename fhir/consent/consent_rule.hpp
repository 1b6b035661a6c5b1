#pragma once
// A Consent resource as the consent decision reads it (../shared/design/consent.md section 2): its kind,
// status, patient and provision tree, checked on the way in. read_consent refuses (with the path and the
// reason) every Consent the decision could not fully interpret (principle P1: never stored
// half-enforceable): the server answers those 422.

#include <optional>
#include <string>
#include <vector>

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"
#include "fhir/time.hpp"

namespace fhir::consent {

inline constexpr std::string_view kind_system = "https://shared-care-record.github.io/fhir/CodeSystem/consent-kind";
inline constexpr std::string_view ods_system = "https://fhir.nhs.uk/Id/ods-organization-code";
inline constexpr std::string_view sds_user_system = "https://fhir.nhs.uk/Id/sds-user-id";
inline constexpr std::string_view confidentiality_system = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

enum class kind { optout, art21_objection, art18_restriction, granular, ndoo, research_consent };
enum class effect { deny, permit };

struct code {
  std::string system;
  std::string value;
  bool operator==(const code&) const = default;
};

// A period as half-open instants [start, end); an absent bound is open. A FHIR period's end is
// inclusive at its precision: "2026-03-31" ends at the start of 2026-04-01.
struct period {
  std::optional<epoch_ms> start;
  std::optional<epoch_ms> end;
  bool contains(epoch_ms t) const { return (!start || t >= *start) && (!end || t < *end); }
};

// provision.actor: who the rule is about. By identifier (an Organization's ODS code, a Practitioner's
// SDS user id) or by reference (a PractitionerRole or Group).
struct actor {
  std::string role;            // IRCP (recipient) or PRCP (primary recipient)
  std::string identifier_system;
  std::string identifier_value;
  std::string reference;       // "PractitionerRole/1", "Group/2"
};

enum class data_meaning { instance, related, dependents, authoredby };

struct data_reference {
  data_meaning meaning;
  std::string reference;  // "Observation/1"
};

struct provision {
  effect type = effect::deny;
  std::optional<consent::period> period;
  std::vector<actor> actors;
  std::vector<std::string> actions;          // consentaction codes: access, use, disclose
  std::vector<code> security_labels;
  std::vector<code> purposes;
  std::vector<std::string> classes;          // resource types
  std::vector<code> codes;
  std::optional<consent::period> data_period;
  std::vector<data_reference> data;
  std::vector<provision> children;
};

struct consent_rule {
  std::string id;
  std::string patient;  // the Patient id
  consent::kind kind = kind::granular;
  std::string status;   // draft proposed active rejected inactive entered-in-error
  provision root;
};

// The rule a Consent states, or the reason it cannot be enforced: invalid, with a FHIRPath location
// ("Consent.provision.provision[1].actor[0].role") and a diagnostic.
result<consent_rule> read_consent(const json::value& consent);

std::string_view to_string(kind k);

}  // namespace fhir::consent
