#include "tests/support/ukcore_exceptions.hpp"

#include <algorithm>

namespace fhir::testing {

const std::vector<ukcore_exception>& ukcore_exceptions() {
  static const std::vector<ukcore_exception> list = {
      // A rule this server adds beyond UK Core.
      {"UKCore-Patient-BabyPatient-Example.json",
       "its NHS number 9912003890 fails the Modulus 11 check (the check digit should be 1, not 0)",
       {{"nhs-number-invalid", "Patient.identifier[0].value"}}},
      {"UKCore-Consent-ForInformationAccess-Example.json",
       "a Consent this record could not enforce is refused (consent.md section 2): it has no consent-kind category code",
       {{"consent-kind", "Consent.category"}}},
      // Examples that break the base specification.
      {"Extension-UKCore-ConditionEpisode-Example.json",
       "the extension has both valueCode and valueCodeableConcept, but value[x] allows one value",
       {{"choice-multiple", "Condition.extension[0].value"}}},
      {"UKCore-MedicationDispense-Amoxicillin-Example.json",
       "authorizingPrescription is the bare id 'UKCore-MedicationRequest-Amoxicillin-Example', not a reference of the form "
       "MedicationRequest/id (references.html#literal)",
       {{"reference-format", "MedicationDispense.authorizingPrescription[0].reference"}}},
      {"UKCore-MedicationDispense-CiprofloxacinIV-Example.json",
       "authorizingPrescription is a bare id, not a reference of the form MedicationRequest/id",
       {{"reference-format", "MedicationDispense.authorizingPrescription[0].reference"}}},
      {"UKCore-MedicationDispense-CiprofloxacinOral-Example.json",
       "authorizingPrescription is a bare id, not a reference of the form MedicationRequest/id",
       {{"reference-format", "MedicationDispense.authorizingPrescription[0].reference"}}},
      {"UKCore-Provenance-RARecordConsent-Example.json",
       "agent.onBehalfOf is 'Organization/https://fhir.hl7.org.uk/StructureDefinition/UKCore-Organization': a profile URL "
       "where an organisation id belongs",
       {{"reference-format", "Provenance.agent[0].onBehalfOf.reference"}}},
  };
  return list;
}

const ukcore_exception* find_ukcore_exception(const std::string& file) {
  const auto& list = ukcore_exceptions();
  auto it = std::find_if(list.begin(), list.end(), [&](const ukcore_exception& e) { return e.file == file; });
  return it == list.end() ? nullptr : &*it;
}

}  // namespace fhir::testing
