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
#include "server/context.hpp"
#include "server/fhir_request.hpp"

namespace server {

fhir::result<fhir::done> check_access(const context& ctx, const fhir_request& request, std::string_view interaction_code);

// A write entry of a transaction (POST, PUT, PATCH, DELETE of `type`), checked as the standalone
// interaction would be.
fhir::result<fhir::done> check_write_entry(const context& ctx, const auth::caller& caller, std::string_view type,
                                           std::string_view method);

// Whether the caller may see resources of `type` returned alongside what they asked for (_include,
// _revinclude, $everything's types): RBAC and scopes allow reading the type.
bool may_read_type(const context& ctx, const auth::caller& caller, std::string_view type);

}  // namespace server
