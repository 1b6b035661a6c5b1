#pragma once
// Snapshot generation: the full element list of a profile given only as a differential.
//
// Implementation guides (UK Core among them) publish StructureDefinitions with only a `differential`:
// the elements they change. The snapshot is the base definition's snapshot with those changes applied:
//  - each differential element is found in the base by its id ("Patient.identifier:nhsNumber.system"),
//    unfolding complex types on the way (their children come from the type's definition, or from the
//    type's profile when the element names one: an extension slice gets its extension's elements);
//  - a differential element with a sliceName that the base lacks creates the slice, a copy of the
//    sliced element and its children; extension elements are implicitly sliced by url;
//  - its properties replace the base's (min, max, type, binding, fixed[x]/pattern[x], slicing,
//    mustSupport, ...), except constraints, which add to the inherited ones.
// The work is on JSON, so the snapshot can be compiled like any published one. It follows the rules of
// profiling.html and elementdefinition.html in the FHIR specification; what it does not handle (slicing
// a choice element by type) fails with a clear error rather than producing a wrong snapshot.

#include <functional>
#include <string_view>

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"

namespace fhir::definitions {

// Finds a StructureDefinition with a snapshot by canonical URL (generating it first if needed), or
// returns nullptr when it is unknown.
using structure_lookup = std::function<const json::value*(std::string_view url)>;

// The snapshot elements (a JSON array) of `profile` over its baseDefinition, which `lookup` provides,
// as do the definitions of types and type profiles it unfolds. Fails (kind invalid) when the
// differential cannot be applied: an unknown base, an element that does not exist in the base.
result<json::value> generate_snapshot(const json::value& profile, const structure_lookup& lookup);

}  // namespace fhir::definitions
