#pragma once
// Chains and _has under Consent (consent.md section 3: "a resource that contributes to a match must
// itself be visible"). `Patient?_has:Observation:subject:code=X` must not reveal, through a visible
// Patient, that the patient has an Observation the caller may not see; `Observation?subject.name=Y` must
// not match through a Patient the caller may not see. A match found through such a clause is kept only
// when at least one resource that makes the clause true for it is visible to the caller.
//
// The contributors are found by searching again, per match: for a chain, the first hop's targets that
// the match refers to and that satisfy the rest of the chain; for _has, the referring resources that
// satisfy its final parameter. Deeper hops of a multi-level chain are not checked one by one (the first
// hop is the patient's in every chain of the Patient compartment).

#include "fhir/search/search_query.hpp"
#include "server/context.hpp"
#include "server/fhir_request.hpp"
#include "store/store.hpp"

namespace server::consent {

// False when a chain or _has clause of `query` holds for `match` only through resources the caller of
// `request` may not see. True for queries without chains or _has.
bool contributors_visible(const context& ctx, const fhir_request& request, const fhir::search::search_query& query,
                          const store::resource_version& match);

}  // namespace server::consent
