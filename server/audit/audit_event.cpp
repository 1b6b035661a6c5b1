#include "server/audit/audit_event.hpp"

#include <fmt/format.h>

#include "fhir/base64.hpp"
#include "fhir/text.hpp"

namespace server::audit {
namespace {

using fhir::json::array;
using fhir::json::object;
using fhir::json::value;

value coding(std::string_view system, std::string_view code, std::string_view display = {}) {
  value c{object{}};
  c.set("system", system);
  c.set("code", code);
  if (!display.empty()) c.set("display", display);
  return c;
}

value concept_of(value c) {
  value out{object{}};
  out.set("coding", array{std::move(c)});
  return out;
}

value identifier(std::string_view system, std::string_view v) {
  value out{object{}};
  out.set("system", system);
  out.set("value", v);
  return out;
}


// A BALP entity: `what`, its type (audit-entity-type) and role (object-role).
value entity(value what, std::string_view type_code, std::string_view type_display, std::string_view role_code,
             std::string_view role_display) {
  value e{object{}};
  e.set("what", std::move(what));
  e.set("type", coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", type_code, type_display));
  e.set("role", coding("http://terminology.hl7.org/CodeSystem/object-role", role_code, role_display));
  return e;
}

value reference(std::string ref) {
  value r{object{}};
  r.set("reference", std::move(ref));
  return r;
}

value detail(std::string_view type, std::string v) {
  value d{object{}};
  d.set("type", type);
  d.set("valueString", std::move(v));
  return d;
}

value user_agent(const audited_caller& c) {
  value agent{object{}};
  agent.set("type", concept_of(coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP", "information recipient")));
  if (!c.roles.empty()) {
    array roles;
    for (const std::string& r : c.roles) roles.push_back(concept_of(coding("https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode", r)));
    agent.set("role", std::move(roles));
  }
  value who{object{}};
  if (!c.fhir_user.empty()) who.set("reference", c.fhir_user);
  if (!c.subject.empty())
    who.set("identifier", identifier(c.patient_facing ? patient_login_system : sds_user_system, c.subject));
  agent.set("who", std::move(who));
  if (!c.person_roleid.empty()) agent.set("altId", c.person_roleid);
  agent.set("requestor", true);
  agent.set("purposeOfUse", array{concept_of(coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", c.purpose))});
  return agent;
}

value organisation_agent(std::string_view ods) {
  value agent{object{}};
  agent.set("type", concept_of(coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV", "healthcare provider")));
  value who{object{}};
  who.set("identifier", identifier(ods_system, ods));
  agent.set("who", std::move(who));
  agent.set("requestor", false);
  return agent;
}

value client_agent(const audit_facts& facts) {
  value agent{object{}};
  agent.set("type", concept_of(coding("http://dicom.nema.org/resources/ontology/DCM", "110153", "Source Role ID")));
  value who{object{}};
  std::string client = facts.caller && !facts.caller->client_id.empty() ? facts.caller->client_id : "unknown client";
  who.set("display", client);
  agent.set("who", std::move(who));
  agent.set("requestor", false);
  if (!facts.remote_address.empty()) {
    value network{object{}};
    network.set("address", facts.remote_address);
    network.set("type", "2");  // IP address
    agent.set("network", std::move(network));
  }
  return agent;
}

value server_agent(const audit_facts& facts) {
  value agent{object{}};
  agent.set("type", concept_of(coding("http://dicom.nema.org/resources/ontology/DCM", "110152", "Destination Role ID")));
  value who{object{}};
  who.set("display", "shcr-fhir");
  agent.set("who", std::move(who));
  agent.set("requestor", false);
  value network{object{}};
  network.set("address", facts.server_url);
  network.set("type", "5");  // URI
  agent.set("network", std::move(network));
  return agent;
}

}  // namespace

std::string_view action_of(std::string_view interaction) {
  if (interaction == "create") return "C";
  if (interaction == "read" || interaction == "vread" || interaction == "history-instance") return "R";
  if (interaction == "update" || interaction == "patch" || interaction == "conditional-update" || interaction == "conditional-patch")
    return "U";
  if (interaction == "delete" || interaction == "conditional-delete") return "D";
  return "E";
}

audited_caller audited(const auth::caller& caller) {
  const auth::claims& c = *caller.token;
  audited_caller out{.subject = c.subject, .fhir_user = c.fhir_user, .roles = {}, .person_roleid = {}, .org_ods = c.org_ods,
                     .client_id = c.client_id, .purpose = caller.purpose, .jti = c.jti,
                     .patient_facing = caller.patient_facing(), .development = caller.development()};
  for (const auth::nhs_role& r : c.roles) out.roles.push_back(r.role_code);
  if (!c.roles.empty()) out.person_roleid = c.roles.front().person_roleid;
  return out;
}

std::string_view outcome_code(unsigned status) {
  if (status == 0 || status < 400) return "0";
  if (status == 401 || status == 403) return "8";
  if (status >= 500) return "12";
  return "4";
}

fhir::json::value audit_event(const audit_facts& facts, const std::string& id) {
  value event{object{}};
  event.set("resourceType", "AuditEvent");
  event.set("id", id);
  array tags;
  if (facts.caller && facts.caller->development) tags.push_back(coding(audit_flag_system, "dev-mode", "written by a server in development mode"));
  if (facts.alert) tags.push_back(coding(audit_flag_system, "review", "flagged for review"));
  if (!tags.empty()) {
    value meta{object{}};
    meta.set("tag", std::move(tags));
    event.set("meta", std::move(meta));
  }
  std::string_view interaction = facts.interaction.empty() ? std::string_view("unknown") : std::string_view(facts.interaction);
  if (facts.alert) {
    event.set("type", coding(dicom_system, security_alert_code, "Security Alert"));
    event.set("subtype", array{coding(dicom_system, emergency_override_started_code, "Emergency Override Started")});
  } else {
    event.set("type", coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation"));
    std::string_view subtype_system = interaction.starts_with('$') ? "https://shared-care-record.github.io/fhir/CodeSystem/operation"
                                                                   : "http://hl7.org/fhir/restful-interaction";
    event.set("subtype", array{coding(subtype_system, interaction)});
  }
  event.set("action", action_of(interaction));
  event.set("recorded", fhir::format_instant(facts.recorded));
  event.set("outcome", outcome_code(facts.status));
  std::string description = facts.status ? fmt::format("{} {} {}", facts.status, facts.method, fhir::utf8_prefix(facts.target, 500))
                                         : fmt::format("{} {}", facts.method, fhir::utf8_prefix(facts.target, 500));
  if (!facts.failure.empty()) description += ": " + std::string(fhir::utf8_prefix(facts.failure, 500));
  event.set("outcomeDesc", description);
  if (facts.caller)
    event.set("purposeOfEvent", array{concept_of(coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", facts.caller->purpose))});

  array agents;
  if (facts.caller) {
    agents.push_back(user_agent(*facts.caller));
    if (!facts.caller->org_ods.empty()) agents.push_back(organisation_agent(facts.caller->org_ods));
  } else {
    value anonymous{object{}};
    anonymous.set("type", concept_of(coding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP", "information recipient")));
    value who{object{}};
    who.set("display", "unauthenticated caller");
    anonymous.set("who", std::move(who));
    anonymous.set("requestor", true);
    agents.push_back(std::move(anonymous));
  }
  agents.push_back(client_agent(facts));
  agents.push_back(server_agent(facts));
  event.set("agent", std::move(agents));

  value source{object{}};
  source.set("site", facts.server_url);
  value observer{object{}};
  observer.set("display", "shcr-fhir");
  source.set("observer", std::move(observer));
  source.set("type", array{coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")});
  event.set("source", std::move(source));

  array entities;
  for (const std::string& patient : facts.patients)
    entities.push_back(entity(reference("Patient/" + patient), "1", "Person", "1", "Patient"));
  for (const resource_ref& r : facts.resources) {
    std::string ref = r.type + "/" + r.id;
    if (r.version > 0) ref += "/_history/" + std::to_string(r.version);
    entities.push_back(entity(reference(std::move(ref)), "2", "System Object", "4", "Domain Resource"));
  }
  if (!facts.query.empty() || facts.resource_count > facts.resources.size()) {
    value what{object{}};
    what.set("display", "query");
    value query = entity(std::move(what), "2", "System Object", "24", "Query");
    if (!facts.query.empty()) query.set("query", fhir::base64_encode(facts.query));
    query.set("detail", array{detail("returned", std::to_string(facts.resource_count))});
    entities.push_back(std::move(query));
  }
  value request{object{}};
  request.set("identifier", identifier(request_id_system, facts.request_id));
  entities.push_back(entity(std::move(request), "4", "Other", "26", "Processing Element"));
  if (facts.caller && !facts.caller->jti.empty()) {
    value token{object{}};
    token.set("identifier", identifier(token_id_system, facts.caller->jti));
    entities.push_back(entity(std::move(token), "4", "Other", "13", "Security Resource"));
  }
  std::vector<consent_decision> decisions = facts.decisions;
  if (decisions.empty() && facts.caller) decisions.push_back({{}, "default", 0});
  for (const consent_decision& d : decisions) {
    value what{object{}};
    if (!d.consent.empty()) what.set("reference", d.consent);
    else what.set("display", "implied consent (no Consent applied)");
    value e = entity(std::move(what), "2", "System Object", "13", "Security Resource");
    e.set("detail", array{detail("decision", d.decision), detail("suppressed", std::to_string(d.suppressed))});
    entities.push_back(std::move(e));
  }
  if (facts.alert) {
    value what{object{}};
    what.set("display", "emergency access declared (break-glass)");
    value declared = entity(std::move(what), "2", "System Object", "13", "Security Resource");
    declared.set("detail", array{detail("reason", facts.alert->reason_code), detail("reasonText", facts.alert->reason_text),
                                 detail("sessionEnd", fhir::format_instant(facts.alert->session_end))});
    entities.push_back(std::move(declared));
  }
  event.set("entity", std::move(entities));
  return event;
}

}  // namespace server::audit
