#include "fhir/consent/consent_decision.hpp"

#include <algorithm>

namespace fhir::consent {
namespace {

struct context {
  const requester& who;
  const resource_facts& r;
  epoch_ms now;
  const decision_options& options;
};

template <typename Range, typename Predicate>
bool any(const Range& range, Predicate p) {
  return std::any_of(range.begin(), range.end(), p);
}

bool actor_matches(const actor& a, const requester& who) {
  if (a.identifier_system == ods_system)
    return a.identifier_value == who.controller || (!who.organisation.empty() && a.identifier_value == who.organisation);
  if (a.identifier_system == sds_user_system) return !who.practitioner.empty() && a.identifier_value == who.practitioner;
  if (a.reference.starts_with("Group/")) return any(who.groups, [&](const std::string& g) { return g == a.reference; });
  if (a.reference.starts_with("Organization/"))
    return a.reference == "Organization/" + who.controller || (!who.organisation.empty() && a.reference == "Organization/" + who.organisation);
  return !who.user_reference.empty() && a.reference == who.user_reference;  // Practitioner, PractitionerRole
}

purpose_class class_of(std::string_view purpose, const decision_options& options) {
  return options.classify ? options.classify(purpose) : purpose_class::unknown;
}

// "exact or by class": the provision names the request's purpose, or another purpose of its class.
bool purpose_matches(const code& p, const context& c) {
  if (p.value == c.who.purpose) return true;
  purpose_class named = class_of(p.value, c.options);
  return named != purpose_class::unknown && named == c.who.purpose_kind;
}

// v3-Confidentiality levels in order; -1 for codes outside the scale.
int confidentiality_level(std::string_view code) {
  static constexpr std::string_view order[] = {"U", "L", "M", "N", "R", "V"};
  for (int i = 0; i < 6; ++i)
    if (order[i] == code) return i;
  return -1;
}

// A confidentiality label matches by level (deny L: the resource is L or more confidential; permit L: it
// is L or less); a sensitivity label (PSY, SEX, HIV, ETH, ...) when the resource carries it.
bool label_matches(const code& label, effect type, const resource_facts& r) {
  if (label.system == confidentiality_system) {
    int wanted = confidentiality_level(label.value);
    if (wanted < 0) return false;
    int level = -1;  // the highest level the resource carries; unlabelled data is normal
    for (const code& s : r.security)
      if (s.system == confidentiality_system) level = std::max(level, confidentiality_level(s.value));
    if (level < 0) level = confidentiality_level("N");
    return type == effect::deny ? level >= wanted : level <= wanted;
  }
  return any(r.security, [&](const code& s) { return s.value == label.value && s.system == label.system; });
}

bool data_matches(const data_reference& d, const context& c) {
  std::string self = c.r.type + "/" + c.r.id;
  if (d.reference == self) return true;
  switch (d.meaning) {
    case data_meaning::instance: return false;
    case data_meaning::dependents: return any(c.r.references, [&](const std::string& ref) { return ref == d.reference; });
    case data_meaning::related:
      if (!c.options.related) return false;
      return any(c.options.related(d.reference), [&](const std::string& ref) { return ref == self; });
    case data_meaning::authoredby:
      return (!c.r.author.empty() && c.r.author == d.reference) ||
             (!c.r.controller.empty() && d.reference == "Organization/" + c.r.controller);
  }
  return false;
}

// Every populated element must match (AND); within one element, any value (OR).
bool provision_matches(const provision& p, const context& c) {
  if (p.period && !p.period->contains(c.now)) return false;
  if (!p.actors.empty() && !any(p.actors, [&](const actor& a) { return actor_matches(a, c.who); })) return false;
  // Reads are access, use and disclose; the decision is asked for reads only.
  if (!p.actions.empty() && !any(p.actions, [](const std::string& a) { return a == "access" || a == "use" || a == "disclose"; }))
    return false;
  if (!p.purposes.empty() && !any(p.purposes, [&](const code& x) { return purpose_matches(x, c); })) return false;
  if (!p.classes.empty() && !any(p.classes, [&](const std::string& t) { return t == c.r.type; })) return false;
  if (!p.codes.empty() && !any(p.codes, [&](const code& x) {
        return any(c.r.codes, [&](const code& y) { return x.value == y.value && x.system == y.system; });
      }))
    return false;
  if (!p.security_labels.empty() && !any(p.security_labels, [&](const code& l) { return label_matches(l, p.type, c.r); })) return false;
  if (p.data_period && !p.data_period->contains(c.r.clinical_date.value_or(c.r.last_updated))) return false;
  if (!p.data.empty() && !any(p.data, [&](const data_reference& d) { return data_matches(d, c); })) return false;
  return true;
}

// N/A (nullopt) when the provision does not match; else its children's result (deny wins among them),
// else its own type: the most specific rule wins inside one Consent.
std::optional<effect> evaluate(const provision& p, const context& c) {
  if (!provision_matches(p, c)) return std::nullopt;
  bool deny = false, permit = false;
  for (const provision& child : p.children)
    if (auto e = evaluate(child, c)) (*e == effect::deny ? deny : permit) = true;
  if (deny) return effect::deny;
  if (permit) return effect::permit;
  return p.type;
}

bool withholds_from_patient(const resource_facts& r) {
  return any(r.security, [](const code& s) { return s.value == "NOPAT"; });
}

}  // namespace

bool in_force(const consent_rule& rule, const std::string& patient, epoch_ms now) {
  return rule.status == "active" && rule.patient == patient && (!rule.root.period || rule.root.period->contains(now));
}

decision decide(const requester& who, const resource_facts& r, const std::string& patient, const std::vector<consent_rule>& consents,
                epoch_ms now, const decision_options& options) {
  // 1. Not patient data: RBAC only.
  if (!r.patient_data) return {verdict::permit, "not-patient-data", false};
  // 2. The patient themselves (the subject access path), except what is withheld from them.
  if (!who.patient.empty() && who.patient == patient && who.purpose_kind == purpose_class::self)
    return withholds_from_patient(r) ? decision{verdict::deny, "withheld-from-patient", false} : decision{verdict::permit, "self", false};
  // 3. The data's own controller, for direct care, emergencies and administration.
  bool controller_purpose = who.purpose_kind == purpose_class::direct || who.purpose_kind == purpose_class::emergency ||
                            who.purpose_kind == purpose_class::admin;
  if (!r.controller.empty() && r.controller == who.controller && controller_purpose) return {verdict::permit, "controller", false};

  // 4. Every Consent in force for the patient.
  struct outcome {
    const consent_rule* rule;
    effect result;
  };
  context c{who, r, now, options};
  std::vector<outcome> outcomes;
  for (const consent_rule& rule : consents) {
    if (!in_force(rule, patient, now)) continue;
    if (auto e = evaluate(rule.root, c)) outcomes.push_back({&rule, *e});
  }
  bool research_permitted = any(outcomes, [](const outcome& o) { return o.rule->kind == kind::research_consent && o.result == effect::permit; });
  const consent_rule* denied_by = nullptr;
  const consent_rule* permitted_by = nullptr;
  bool overridden = false;
  bool only_record_level_denies = true;  // every deny is an opt-out, objection or restriction
  for (const outcome& o : outcomes) {
    if (o.result == effect::permit) {
      if (!permitted_by) permitted_by = o.rule;
      continue;
    }
    if (o.rule->kind == kind::ndoo && research_permitted) continue;  // the study's own consent overrides the national opt-out
    if (o.rule->kind == kind::granular && who.break_glass) {  // break-glass overrides granular denies, audited as such
      overridden = true;
      if (!permitted_by) permitted_by = o.rule;
      continue;
    }
    if (!denied_by) denied_by = o.rule;
    if (o.rule->kind != kind::optout && o.rule->kind != kind::art21_objection && o.rule->kind != kind::art18_restriction)
      only_record_level_denies = false;
  }
  // 5. Any deny left wins; then any permit; else implied consent for what RBAC allows.
  if (denied_by) {
    bool record_level = only_record_level_denies;
    bool clinical = who.purpose_kind == purpose_class::direct || who.purpose_kind == purpose_class::emergency;
    if (r.type == "Patient" && record_level && clinical && options.minimal_patient)
      return {verdict::minimal, "Consent/" + denied_by->id, false};
    return {verdict::deny, "Consent/" + denied_by->id, false};
  }
  if (permitted_by) return {verdict::permit, "Consent/" + permitted_by->id, overridden};
  return {verdict::permit, "default", false};
}

}  // namespace fhir::consent
