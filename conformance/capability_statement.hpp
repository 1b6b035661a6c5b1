#pragma once
// The server's CapabilityStatement, generated from what it really supports: every resource type of the
// loaded definitions, and exactly the interactions the router serves. Nothing is hand-listed per type.

#include <map>
#include <string>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/json/value.hpp"
#include "fhir/search/search_parameters.hpp"

namespace conformance {

struct server_description {
  std::string base_url;
  std::string software_name;
  std::string software_version;
  std::string release_date;  // FHIR dateTime of the build
  std::vector<std::string> type_interactions;    // codes of TypeRestfulInteraction
  std::vector<std::string> system_interactions;  // codes of SystemRestfulInteraction
  bool update_create = true;                     // update may create (client-assigned ids)
  // Conditional interactions (CapabilityStatement.rest.resource.conditional*): conditional_read and
  // conditional_delete use the codes of ConditionalReadStatus and ConditionalDeleteStatus.
  bool conditional_create = false;
  bool conditional_update = false;
  std::string conditional_read = "not-supported";
  std::string conditional_delete = "not-supported";
  std::vector<std::string> type_operations;      // operations on every type and instance: "validate"
  // Operations of one type: type -> (name, canonical OperationDefinition), e.g. Patient everything.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> resource_operations;
  // Operations on the whole system (rest.operation): (name, canonical OperationDefinition).
  std::vector<std::pair<std::string, std::string>> system_operations;
  // Profiles every resource of a type is validated against (resource.profile); by default the base.
  std::map<std::string, std::string, std::less<>> default_profiles;
  // The search parameters the server indexes (searchParam, searchInclude, searchRevInclude); null when
  // the server does not search.
  const fhir::search::search_parameters* search = nullptr;
  // rest.security.description (markdown): how callers authenticate and what access and consent rules
  // apply; empty: no security element.
  std::string security_description;
  // Interactions of type_interactions a type does not support (Consent: delete, 405).
  std::map<std::string, std::vector<std::string>, std::less<>> excluded_interactions;
  // resource.documentation of ordinary types (markdown), e.g. how Consents are written.
  std::map<std::string, std::string, std::less<>> documentation;
  // Compartments searches can be scoped to (rest.compartment), as CompartmentDefinition URLs.
  std::vector<std::string> compartments;
  // Types served apart from the others (AuditEvent: the audit trail): only these interactions and
  // search parameters, no includes, no conditional interactions, not a source of revincludes.
  struct special_type {
    std::vector<std::string> interactions;
    std::vector<std::string> search_parameters;
    std::string documentation;
  };
  std::map<std::string, special_type, std::less<>> special_types;
};

fhir::json::value build_capability_statement(const fhir::definitions::registry& definitions,
                                             const server_description& server);

}  // namespace conformance
