#include "fhir/consent/consent_rule.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "fhir/search/date_range.hpp"

namespace fhir::consent {
namespace {

using json::value;

constexpr std::string_view participation_system = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";

fhir::error refuse(std::string path, std::string why, std::string message_id = "consent-not-enforceable") {
  return fhir::error(error_kind::unprocessable, issue_type::business_rule, std::move(why), std::move(message_id), std::move(path));
}

std::string text_at(const value& o, std::string_view key) {
  const std::string* s = o.is_object() ? o.find_string(key) : nullptr;
  return s ? *s : std::string();
}

const json::array* array_at(const value& o, std::string_view key) {
  const value* v = o.is_object() ? o.find(key) : nullptr;
  return v && v->is_array() ? &v->as_array() : nullptr;
}

code code_of(const value& coding) { return {text_at(coding, "system"), text_at(coding, "code")}; }

// Every coding of a CodeableConcept.
std::vector<code> codings_of(const value& codeable) {
  std::vector<code> out;
  if (const auto* codings = array_at(codeable, "coding"))
    for (const value& c : *codings) out.push_back(code_of(c));
  return out;
}

result<consent::period> period_of(const value& p, const std::string& path) {
  consent::period out;
  if (std::string start = text_at(p, "start"); !start.empty()) {
    auto range = search::parse_date_range(start);
    if (!range) return refuse(path + ".start", fmt::format("'{}' is not a date", start));
    out.start = range->low;
  }
  if (std::string end = text_at(p, "end"); !end.empty()) {
    auto range = search::parse_date_range(end);
    if (!range) return refuse(path + ".end", fmt::format("'{}' is not a date", end));
    out.end = range->high;  // the end is inclusive at its precision
  }
  return out;
}

// Anything carrying a modifierExtension changes the meaning of what holds it: not understood, refused.
result<done> no_modifier_extension(const value& v, const std::string& path) {
  if (v.is_object() && v.find("modifierExtension"))
    return refuse(path + ".modifierExtension", "The Consent carries a modifier extension this server does not understand");
  return done{};
}

result<provision> read_provision(const value& p, const std::string& path, bool root) {
  if (auto checked = no_modifier_extension(p, path); !checked) return std::move(checked).error();
  provision out;
  std::string type = text_at(p, "type");
  if (type == "deny") out.type = effect::deny;
  else if (type == "permit") out.type = effect::permit;
  else if (root || !type.empty())
    return refuse(path + ".type", type.empty() ? "The root provision needs a type (deny or permit)"
                                               : fmt::format("'{}' is not a provision type", type));
  else return refuse(path + ".type", "A nested provision needs a type (deny or permit)");
  if (const value* per = p.find("period")) {
    auto read = period_of(*per, path + ".period");
    if (!read) return std::move(read).error();
    out.period = *read;
  }
  if (const auto* actors = array_at(p, "actor"))
    for (std::size_t i = 0; i < actors->size(); ++i) {
      const value& a = (*actors)[i];
      std::string at = fmt::format("{}.actor[{}]", path, i);
      if (auto checked = no_modifier_extension(a, at); !checked) return std::move(checked).error();
      actor read;
      const value* role = a.find("role");
      for (const code& c : role ? codings_of(*role) : std::vector<code>{})
        if (c.system == participation_system && (c.value == "IRCP" || c.value == "PRCP")) read.role = c.value;
      if (read.role.empty())
        return refuse(at + ".role", "An actor's role must be IRCP or PRCP (v3-ParticipationType); others are not understood");
      const value* ref = a.find("reference");
      if (!ref || !ref->is_object()) return refuse(at + ".reference", "An actor needs a reference");
      if (const value* identifier = ref->find("identifier")) {
        read.identifier_system = text_at(*identifier, "system");
        read.identifier_value = text_at(*identifier, "value");
        if ((read.identifier_system != ods_system && read.identifier_system != sds_user_system) || read.identifier_value.empty())
          return refuse(at + ".reference.identifier",
                        "An actor is named by an ODS code (Organization) or an SDS user id (Practitioner)");
      } else {
        read.reference = text_at(*ref, "reference");
        if (!read.reference.starts_with("PractitionerRole/") && !read.reference.starts_with("Group/") &&
            !read.reference.starts_with("Organization/") && !read.reference.starts_with("Practitioner/"))
          return refuse(at + ".reference", "An actor refers to an Organization, Practitioner, PractitionerRole or Group");
      }
      out.actors.push_back(std::move(read));
    }
  if (const auto* actions = array_at(p, "action"))
    for (std::size_t i = 0; i < actions->size(); ++i)
      for (const code& c : codings_of((*actions)[i])) {
        if (c.value == "collect" || c.value == "correct")
          return refuse(fmt::format("{}.action[{}]", path, i),
                        fmt::format("The action '{}' is not one this record enforces (access, use, disclose)", c.value));
        out.actions.push_back(c.value);
      }
  if (const auto* labels = array_at(p, "securityLabel"))
    for (const value& l : *labels) out.security_labels.push_back(code_of(l));
  if (const auto* purposes = array_at(p, "purpose"))
    for (const value& l : *purposes) out.purposes.push_back(code_of(l));
  if (const auto* classes = array_at(p, "class"))
    for (const value& c : *classes) out.classes.push_back(text_at(c, "code"));
  if (const auto* codes = array_at(p, "code"))
    for (const value& c : *codes)
      for (code& one : codings_of(c)) out.codes.push_back(std::move(one));
  if (const value* per = p.find("dataPeriod")) {
    auto read = period_of(*per, path + ".dataPeriod");
    if (!read) return std::move(read).error();
    out.data_period = *read;
  }
  if (const auto* data = array_at(p, "data"))
    for (std::size_t i = 0; i < data->size(); ++i) {
      const value& d = (*data)[i];
      std::string at = fmt::format("{}.data[{}]", path, i);
      std::string meaning = text_at(d, "meaning");
      data_reference read;
      if (meaning == "instance") read.meaning = data_meaning::instance;
      else if (meaning == "related") read.meaning = data_meaning::related;
      else if (meaning == "dependents") read.meaning = data_meaning::dependents;
      else if (meaning == "authoredby") read.meaning = data_meaning::authoredby;
      else return refuse(at + ".meaning", fmt::format("'{}' is not a data meaning", meaning));
      const value* ref = d.find("reference");
      read.reference = ref ? text_at(*ref, "reference") : std::string();
      if (read.reference.empty()) return refuse(at + ".reference", "Data needs a reference");
      out.data.push_back(std::move(read));
    }
  if (const auto* children = array_at(p, "provision"))
    for (std::size_t i = 0; i < children->size(); ++i) {
      auto child = read_provision((*children)[i], fmt::format("{}.provision[{}]", path, i), false);
      if (!child) return std::move(child).error();
      out.children.push_back(std::move(*child));
    }
  return out;
}

}  // namespace

std::string_view to_string(kind k) {
  switch (k) {
    case kind::optout: return "shcr-optout";
    case kind::art21_objection: return "art21-objection";
    case kind::art18_restriction: return "art18-restriction";
    case kind::granular: return "granular";
    case kind::ndoo: return "ndoo";
    case kind::research_consent: return "research-consent";
  }
  return "granular";
}

result<consent_rule> read_consent(const json::value& consent) {
  if (auto checked = no_modifier_extension(consent, "Consent"); !checked) return std::move(checked).error();
  consent_rule out;
  out.id = text_at(consent, "id");
  out.status = text_at(consent, "status");
  if (out.status.empty()) return refuse("Consent.status", "A Consent needs a status");
  const value* patient = consent.find("patient");
  std::string reference = patient ? text_at(*patient, "reference") : std::string();
  if (!reference.starts_with("Patient/") || reference.size() == 8)
    return refuse("Consent.patient", "A Consent names its patient as a reference Patient/[id]");
  out.patient = reference.substr(8);
  std::vector<kind> kinds;
  if (const auto* categories = array_at(consent, "category"))
    for (const value& c : *categories)
      for (const code& one : codings_of(c)) {
        if (one.system != kind_system) continue;
        for (kind k : {kind::optout, kind::art21_objection, kind::art18_restriction, kind::granular, kind::ndoo, kind::research_consent})
          if (one.value == to_string(k)) kinds.push_back(k);
      }
  if (kinds.size() != 1)
    return refuse("Consent.category", fmt::format("A Consent needs exactly one kind code in category (system {})", kind_system),
                  "consent-kind");
  out.kind = kinds.front();
  const value* root = consent.find("provision");
  if (!root || !root->is_object()) return refuse("Consent.provision", "A Consent needs a provision with a type");
  auto read = read_provision(*root, "Consent.provision", true);
  if (!read) return std::move(read).error();
  out.root = std::move(*read);
  bool opt_out_kind = out.kind == kind::optout || out.kind == kind::art21_objection || out.kind == kind::art18_restriction ||
                      out.kind == kind::ndoo;
  if (opt_out_kind && out.root.type != effect::deny)
    return refuse("Consent.provision.type", fmt::format("A {} Consent's root provision denies (type deny)", to_string(out.kind)));
  if (out.kind == kind::research_consent) {
    if (out.root.type != effect::permit)
      return refuse("Consent.provision.type", "A research-consent's root provision permits (type permit)");
    // It lifts the national opt-out for one study: it must say whose study, and for research only.
    if (out.root.actors.empty())
      return refuse("Consent.provision.actor", "A research-consent names the study's organisation as its actor");
    bool research_only = !out.root.purposes.empty() &&
                         std::all_of(out.root.purposes.begin(), out.root.purposes.end(), [](const code& p) { return p.value == "HRESCH"; });
    if (!research_only) return refuse("Consent.provision.purpose", "A research-consent's purpose is HRESCH (research) only");
  }
  return out;
}

}  // namespace fhir::consent
