#include "server/audit/audit_record_codec.hpp"

#include <algorithm>
#include <charconv>
#include <tuple>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"

namespace server::audit {
namespace {

using fhir::json::value;

constexpr int format_version = 1;

// Writes one JSON object, member by member (the stored form is written often: no DOM).
class writer {
 public:
  explicit writer(std::string& out) : out_(out) { out_ += '{'; }
  void end() { out_ += '}'; }
  void text(std::string_view name, std::string_view v) {
    if (v.empty()) return;
    key(name);
    fhir::json::append_quoted(out_, v);
  }
  void integer(std::string_view name, std::int64_t v) {
    key(name);
    out_ += std::to_string(v);
  }
  void flag(std::string_view name, bool v) {
    if (!v) return;
    key(name);
    out_ += "true";
  }
  void texts(std::string_view name, const std::vector<std::string>& vs) {
    if (vs.empty()) return;
    key(name);
    out_ += '[';
    for (std::size_t i = 0; i < vs.size(); ++i) {
      if (i) out_ += ',';
      fhir::json::append_quoted(out_, vs[i]);
    }
    out_ += ']';
  }
  // An array of [text, text, integer] arrays, one per item (what `parts` returns for it).
  template <typename Items, typename Parts>
  void triples(std::string_view name, const Items& items, Parts parts) {
    if (items.empty()) return;
    key(name);
    out_ += '[';
    for (const auto& item : items) {
      auto [first, second, number] = parts(item);
      if (out_.back() != '[') out_ += ',';
      out_ += '[';
      fhir::json::append_quoted(out_, first);
      out_ += ',';
      fhir::json::append_quoted(out_, second);
      out_ += ',' + std::to_string(number) + ']';
    }
    out_ += ']';
  }
  // A member whose value the caller writes next.
  void key(std::string_view name) {
    if (out_.back() != '{') out_ += ',';
    fhir::json::append_quoted(out_, name);
    out_ += ':';
  }

 private:
  std::string& out_;
};

std::string text_of(const value& o, std::string_view name) {
  const std::string* s = o.find_string(name);
  return s ? *s : std::string();
}

std::int64_t integer_of(const value& o, std::string_view name) {
  const value* v = o.find(name);
  std::int64_t out = 0;
  if (v && v->is_number()) std::from_chars(v->as_number().text.data(), v->as_number().text.data() + v->as_number().text.size(), out);
  return out;
}

bool flag_of(const value& o, std::string_view name) {
  const value* v = o.find(name);
  return v && v->is_bool() && v->as_bool();
}

std::vector<std::string> texts_of(const value& o, std::string_view name) {
  std::vector<std::string> out;
  if (const value* v = o.find(name); v && v->is_array())
    for (const value& item : v->as_array())
      if (item.is_string()) out.push_back(item.as_string());
  return out;
}

// "Practitioner/1", and the last two segments of an absolute reference: the form search keys use.
std::string_view type_and_id(std::string_view reference) {
  std::size_t slash = reference.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return {};
  std::size_t type_start = reference.rfind('/', slash - 1);
  return type_start == std::string_view::npos ? reference : reference.substr(type_start + 1);
}

}  // namespace

store::audit_record record_of(const audit_facts& facts, const std::string& id) {
  store::audit_record r;
  r.id = id;
  r.recorded = facts.recorded;
  std::string_view interaction = facts.interaction.empty() ? std::string_view("unknown") : std::string_view(facts.interaction);
  r.type = facts.alert ? std::string(security_alert_code) : "rest";
  r.subtype = facts.alert ? std::string(emergency_override_started_code) : std::string(interaction);
  r.action = std::string(action_of(interaction));
  r.outcome = std::string(outcome_code(facts.status));

  std::string& out = r.json;
  out.reserve(512);
  writer w(out);
  w.integer("v", format_version);
  w.text("id", id);
  w.integer("at", facts.recorded);
  w.text("i", facts.interaction);
  w.text("m", facts.method);
  w.text("t", facts.target);
  w.text("q", facts.query);
  w.text("r", facts.request_id);
  w.text("a", facts.remote_address);
  if (facts.status) w.integer("s", facts.status);
  w.text("f", facts.failure);
  w.text("su", facts.server_url);
  if (facts.caller) {
    const audited_caller& c = *facts.caller;
    w.key("c");
    writer cw(out);
    cw.text("s", c.subject);
    cw.text("u", c.fhir_user);
    cw.texts("ro", c.roles);
    cw.text("pr", c.person_roleid);
    cw.text("o", c.org_ods);
    cw.text("cl", c.client_id);
    cw.text("p", c.purpose);
    cw.text("j", c.jti);
    cw.flag("pf", c.patient_facing);
    cw.flag("d", c.development);
    cw.end();
  }
  w.triples("res", facts.resources, [](const resource_ref& ref) { return std::tuple(std::string_view(ref.type), std::string_view(ref.id), ref.version); });
  w.integer("n", static_cast<std::int64_t>(facts.resource_count));
  w.texts("p", facts.patients);
  if (facts.alert) {
    w.key("al");
    writer aw(out);
    aw.text("p", facts.alert->patient);
    aw.text("c", facts.alert->reason_code);
    aw.text("x", facts.alert->reason_text);
    aw.integer("e", facts.alert->session_end);
    aw.end();
  }
  w.triples("dc", facts.decisions, [](const consent_decision& d) {
    return std::tuple(std::string_view(d.consent), std::string_view(d.decision), static_cast<std::int64_t>(d.suppressed));
  });
  w.end();

  // The keys store::make_audit_record takes from the rendered event (audit_event.cpp renders these).
  if (facts.caller) {
    if (std::string_view user = type_and_id(facts.caller->fhir_user); !user.empty()) r.keys.push_back(store::audit_agent_key(user));
    if (!facts.caller->subject.empty())
      r.keys.push_back(store::audit_agent_identifier_key(facts.caller->patient_facing ? patient_login_system : sds_user_system,
                                                         facts.caller->subject));
    if (!facts.caller->org_ods.empty()) r.keys.push_back(store::audit_agent_identifier_key(ods_system, facts.caller->org_ods));
  }
  auto entity_key = [&r](std::string_view target) {
    r.keys.push_back(target.starts_with("Patient/") ? store::audit_patient_key(target.substr(8)) : store::audit_entity_key(target));
  };
  for (const std::string& patient : facts.patients) r.keys.push_back(store::audit_patient_key(patient));
  for (const resource_ref& ref : facts.resources) entity_key(ref.type + "/" + ref.id);
  for (const consent_decision& d : facts.decisions)
    if (std::string_view consent = type_and_id(d.consent); !consent.empty()) entity_key(consent);
  std::sort(r.keys.begin(), r.keys.end());
  r.keys.erase(std::unique(r.keys.begin(), r.keys.end()), r.keys.end());
  return r;
}

std::optional<decoded_record> decode_record(std::string_view stored) {
  auto parsed = fhir::json::parse(stored);
  if (!parsed || !parsed->is_object() || integer_of(*parsed, "v") != format_version) return std::nullopt;
  const value& o = *parsed;
  decoded_record out;
  out.id = text_of(o, "id");
  audit_facts& f = out.facts;
  f.recorded = integer_of(o, "at");
  f.interaction = text_of(o, "i");
  f.method = text_of(o, "m");
  f.target = text_of(o, "t");
  f.query = text_of(o, "q");
  f.request_id = text_of(o, "r");
  f.remote_address = text_of(o, "a");
  f.status = static_cast<unsigned>(integer_of(o, "s"));
  f.failure = text_of(o, "f");
  f.server_url = text_of(o, "su");
  if (const value* c = o.find("c"); c && c->is_object()) {
    f.caller = audited_caller{.subject = text_of(*c, "s"), .fhir_user = text_of(*c, "u"), .roles = texts_of(*c, "ro"),
                              .person_roleid = text_of(*c, "pr"), .org_ods = text_of(*c, "o"), .client_id = text_of(*c, "cl"),
                              .purpose = text_of(*c, "p"), .jti = text_of(*c, "j"), .patient_facing = flag_of(*c, "pf"),
                              .development = flag_of(*c, "d")};
  }
  if (const value* res = o.find("res"); res && res->is_array())
    for (const value& item : res->as_array()) {
      if (!item.is_array() || item.as_array().size() != 3) continue;
      const auto& parts = item.as_array();
      std::int64_t version = 0;
      if (parts[2].is_number()) std::from_chars(parts[2].as_number().text.data(), parts[2].as_number().text.data() + parts[2].as_number().text.size(), version);
      f.resources.push_back({parts[0].is_string() ? parts[0].as_string() : "", parts[1].is_string() ? parts[1].as_string() : "", version});
    }
  f.resource_count = static_cast<std::size_t>(integer_of(o, "n"));
  f.patients = texts_of(o, "p");
  if (const value* dc = o.find("dc"); dc && dc->is_array())
    for (const value& item : dc->as_array()) {
      if (!item.is_array() || item.as_array().size() != 3) continue;
      const auto& parts = item.as_array();
      std::int64_t suppressed = 0;
      if (parts[2].is_number()) std::from_chars(parts[2].as_number().text.data(), parts[2].as_number().text.data() + parts[2].as_number().text.size(), suppressed);
      f.decisions.push_back({parts[0].is_string() ? parts[0].as_string() : "", parts[1].is_string() ? parts[1].as_string() : "",
                             static_cast<std::size_t>(suppressed)});
    }
  if (const value* al = o.find("al"); al && al->is_object())
    f.alert = emergency_override{.patient = text_of(*al, "p"), .reason_code = text_of(*al, "c"), .reason_text = text_of(*al, "x"),
                                 .session_end = integer_of(*al, "e")};
  return out;
}

std::string render_record(std::string_view stored) {
  if (auto decoded = decode_record(stored)) return fhir::json::serialize(audit_event(decoded->facts, decoded->id));
  return std::string(stored);  // a schema 3 record: the AuditEvent itself
}

}  // namespace server::audit
