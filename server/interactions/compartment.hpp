#pragma once
// Compartments (compartmentdefinition.html) from the loaded CompartmentDefinitions: which types are in
// a compartment and through which search parameters, for compartment search and $everything.

#include <optional>
#include <string>
#include <vector>

#include "fhir/search/search_query.hpp"
#include "server/context.hpp"

namespace server::interactions {

// The filter selecting the resources of `type` in owner_type/owner_id's compartment; nullopt when the
// type is not in the compartment (or there is no CompartmentDefinition for owner_type).
std::optional<fhir::search::compartment_filter> compartment_filter(const fhir::definitions::registry& definitions,
                                                                   const std::string& owner_type, const std::string& owner_id,
                                                                   const std::string& type);
std::optional<fhir::search::compartment_filter> compartment_filter(const context& ctx, const std::string& owner_type,
                                                                   const std::string& owner_id, const std::string& type);

// The types in owner_type's compartment, in the CompartmentDefinition's order (the owner's type too).
std::vector<std::string> compartment_types(const fhir::definitions::registry& definitions, const std::string& owner_type);
std::vector<std::string> compartment_types(const context& ctx, const std::string& owner_type);

// The other Patient records of the same person, whose compartments Patient/[id]/* searches and
// $everything also cover (docs/adr/0007-patient-linking.md): the Patients that `id` links to with
// Patient.link (as feeds send them), and the Patients with the same verified NHS number (verification
// status 01 on both). Computed when asked, so no feed's record is ever rewritten by another's arrival.
std::vector<std::string> linked_patients(const context& ctx, const std::string& id);

// The Patient compartment of `patient` (and its linked records), for a type in that compartment.
std::optional<fhir::search::compartment_filter> patient_compartment(const context& ctx, const std::string& patient,
                                                                    const std::string& type);

// True when type/id is current and in `patient`'s compartment (patient-facing access).
bool in_patient_compartment(const context& ctx, const std::string& patient, const std::string& type, const std::string& id);
// True when type/id is current and selected by `filter` (a compartment computed once for many checks).
bool in_compartment(const context& ctx, const fhir::search::compartment_filter& filter, const std::string& type,
                    const std::string& id);

}  // namespace server::interactions
