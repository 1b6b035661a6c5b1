#pragma once
// The gate between routing and the interactions (consent.md section 1): each routed interaction is
// mapped to the operation and resource types it touches, and the caller's role, purpose and SMART
// scopes must allow them all before the interaction runs. Patient-facing tokens are confined to their
// own Patient compartment here (what they may ask for) and in search (what they get back).
//
// A refusal that depends only on the caller is 403; a patient-facing read of a resource outside the
// patient's compartment is the 404 of a missing resource (hidden looks like absent).

#include <string_view>

#include "fhir/result.hpp"
#include "fhir/search/search_query.hpp"
#include "server/context.hpp"
#include "server/fhir_request.hpp"

namespace server {

fhir::result<fhir::done> check_access(const context& ctx, const fhir_request& request, std::string_view interaction_code);

// A write entry of a transaction (POST, PUT, PATCH, DELETE of `type`), checked as the standalone
// interaction would be: never on server-written types (405), allowed by role and scopes, and by a
// caller with an organisation to record as the data controller.
fhir::result<fhir::done> check_write_entry(const context& ctx, const auth::caller& caller, std::string_view type,
                                           std::string_view method);

// The types a search reaches besides its own: chained and _has types must be searchable by the caller,
// named _include/_revinclude types readable (403 otherwise, before the search runs); patient-facing
// callers may not chain at all (a chain or _has would test other patients' data).
fhir::result<fhir::done> check_query_reach(const context& ctx, const auth::caller& caller, const fhir::search::search_query& query);

// The protected types (AuditEvent, Consent) the caller may not read: left out of searches and
// histories across all types, which the wildcard grant allows.
std::vector<std::string> unreadable_types(const context& ctx, const auth::caller& caller);

// The patients a request names in its parameters: `patient=X`, `subject=Patient/X`, `_id=X` on Patient.
std::vector<std::string> named_patients(const fhir_request& request);

// Whether the caller may see resources of `type` returned alongside what they asked for (_include,
// _revinclude, $everything's types): RBAC and scopes allow reading the type.
bool may_read_type(const context& ctx, const auth::caller& caller, std::string_view type);

}  // namespace server
