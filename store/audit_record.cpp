#include "store/audit_record.hpp"

#include <algorithm>

#include "fhir/json/serialize.hpp"

namespace store {
namespace {

using fhir::json::value;

std::string_view string_at(const value* v, std::string_view key) {
  if (!v || !v->is_object()) return {};
  const std::string* s = v->find_string(key);
  return s ? std::string_view(*s) : std::string_view();
}

// The first coding's code of a Coding, or of the first element of an array of Codings.
std::string first_code(const value* v) {
  if (v && v->is_array()) v = v->as_array().empty() ? nullptr : &v->as_array().front();
  return std::string(string_at(v, "code"));
}

// "Observation/1/_history/2" -> "Observation/1"; an absolute reference keeps its last two segments.
std::string_view type_and_id(std::string_view reference) {
  if (std::size_t history = reference.find("/_history/"); history != std::string_view::npos) reference = reference.substr(0, history);
  std::size_t slash = reference.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return {};
  std::size_t type_start = reference.rfind('/', slash - 1);
  return type_start == std::string_view::npos ? reference : reference.substr(type_start + 1);
}

}  // namespace

std::string audit_patient_key(std::string_view patient_id) { return "patient|" + std::string(patient_id); }
std::string audit_entity_key(std::string_view type_and_id) { return "entity|" + std::string(type_and_id); }
std::string audit_agent_key(std::string_view reference) { return "agent|" + std::string(reference); }
std::string audit_agent_identifier_key(std::string_view system, std::string_view value) {
  return "agent-id|" + std::string(system) + "|" + std::string(value);
}

audit_record make_audit_record(const fhir::json::value& event) {
  audit_record out;
  out.id = std::string(string_at(&event, "id"));
  out.json = fhir::json::serialize(event);
  out.recorded = fhir::parse_date_time(string_at(&event, "recorded")).value_or(0);
  out.type = first_code(event.find("type"));
  out.subtype = first_code(event.find("subtype"));
  out.action = std::string(string_at(&event, "action"));
  out.outcome = std::string(string_at(&event, "outcome"));

  if (const value* agents = event.find("agent"); agents && agents->is_array())
    for (const value& agent : agents->as_array()) {
      const value* who = agent.find("who");
      if (std::string_view ref = type_and_id(string_at(who, "reference")); !ref.empty()) out.keys.push_back(audit_agent_key(ref));
      const value* identifier = who ? who->find("identifier") : nullptr;
      std::string_view system = string_at(identifier, "system"), id_value = string_at(identifier, "value");
      if (!system.empty() && !id_value.empty()) out.keys.push_back(audit_agent_identifier_key(system, id_value));
    }
  if (const value* entities = event.find("entity"); entities && entities->is_array())
    for (const value& entity : entities->as_array()) {
      std::string_view target = type_and_id(string_at(entity.find("what"), "reference"));
      if (target.empty()) continue;
      // A Patient is found by its patient key (entity=Patient/x searches it too): one key, not two.
      out.keys.push_back(target.starts_with("Patient/") ? audit_patient_key(target.substr(8)) : audit_entity_key(target));
    }
  std::sort(out.keys.begin(), out.keys.end());
  out.keys.erase(std::unique(out.keys.begin(), out.keys.end()), out.keys.end());
  return out;
}

}  // namespace store
