#include "fhir/search/indexer.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>

#include "fhir/fhirpath/ucum.hpp"
#include "fhir/resource.hpp"
#include "fhir/search/date_range.hpp"
#include "fhir/search/normalize.hpp"
#include "fhir/search/string_parts.hpp"

namespace fhir::search {

namespace {

using fhirpath::item;
using fhirpath::item_kind;

constexpr std::size_t max_indexed_string = 512;  // longer text is indexed by its start

std::string clipped(std::string_view s) { return std::string(s.substr(0, max_indexed_string)); }

std::string string_of(const json::value* v) { return v && v->is_string() ? v->as_string() : std::string(); }

// The text of a primitive node as FHIR JSON writes it: strings as they are, numbers as written,
// booleans as true/false.
std::optional<std::string> primitive_text(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_string()) return v->as_string();
  if (v->is_number()) return v->as_number().text;
  if (v->is_bool()) return std::string(v->as_bool() ? "true" : "false");
  return std::nullopt;
}

bool is_a(const item& i, std::string_view type) { return i.kind() == item_kind::node && i.as_node().type->derives_from(type); }

// A canonical UCUM spelling of a unit's dimensions ("g.m-3"), used as the unit of canonical rows.
std::string canonical_unit_name(const fhirpath::ucum::dimensions& dims) {
  static constexpr const char* base[] = {"g", "m", "s", "mol", "K", "A", "cd", "[arb]", "Cel", "[degF]", "mo"};
  std::string out;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 0) continue;
    if (!out.empty()) out += '.';
    out += base[i];
    if (dims[i] != 1) out += std::to_string(dims[i]);
  }
  return out.empty() ? "1" : out;
}

class extraction {
 public:
  // `container`: the resource whose contained resources local references ("#m1") name.
  // `local_bases`: the base URLs whose absolute references name this server's resources.
  extraction(const search_parameter& p, index_set& out, const json::value& container, const std::vector<std::string>& local_bases)
      : p_(p), out_(out), container_(container), local_bases_(local_bases) {}

  void add(const item& i) {
    switch (p_.type) {
      case param_type::string: add_string(i); break;
      case param_type::token: add_token(i); break;
      case param_type::reference: add_reference(i); break;
      case param_type::date: add_date(i); break;
      case param_type::number: add_number(i); break;
      case param_type::quantity: add_quantity(i); break;
      case param_type::uri: add_uri(i); break;
      case param_type::special: add_position(i); break;
      case param_type::composite: break;
    }
  }

 private:
  const json::value* field(const item& i, std::string_view name) { return i.as_node().value ? i.as_node().value->find(name) : nullptr; }

  void string_value(std::string_view text) {
    if (text.empty()) return;
    out_.strings.push_back({p_.code, clipped(normalize(text)), clipped(text)});
  }
  void string_values(const json::value* v) {
    if (!v) return;
    if (v->is_string()) string_value(v->as_string());
    else if (v->is_array())
      for (const auto& e : v->as_array())
        if (e.is_string()) string_value(e.as_string());
  }

  void add_string(const item& i) {
    if (i.kind() == item_kind::string) return string_value(i.as_string());
    if (i.kind() != item_kind::node) return;
    for (std::string_view datatype : {"HumanName", "Address"})
      if (is_a(i, datatype)) {
        for (std::string_view part : string_parts(datatype)) string_values(field(i, part));
        return;
      }
    if (i.as_node().type->primitive)
      if (auto text = primitive_text(i.as_node().value)) string_value(*text);
  }

  // Only special parameters the definitions say select positions are compiled (search_parameter::position).
  void add_position(const item& i) {
    if (i.kind() != item_kind::node) return;
    auto degrees = [&](std::string_view name, double limit) -> std::optional<double> {
      const json::value* v = field(i, name);
      auto n = v && v->is_number() ? parse_number_range(v->as_number().text) : std::nullopt;
      if (!n || std::fabs(n->value) > limit) return std::nullopt;
      return n->value;
    };
    auto latitude = degrees("latitude", 90);
    auto longitude = degrees("longitude", 180);
    if (latitude && longitude) out_.positions.push_back({p_.code, *latitude, *longitude});
  }

  void token(std::string system, std::string value, std::string_view text) {
    if (value.empty() && system.empty() && text.empty()) return;
    out_.tokens.push_back({p_.code, std::move(system), clipped(value), clipped(normalize(text))});
  }

  void coding(const json::value& c, std::string_view fallback_text) {
    const std::string* display = c.find_string("display");
    token(string_of(c.find("system")), string_of(c.find("code")), display ? std::string_view(*display) : fallback_text);
  }

  void add_token(const item& i) {
    if (i.kind() == item_kind::string) return token("", std::string(i.as_string()), "");
    if (i.kind() == item_kind::boolean) return token("", i.as_boolean() ? "true" : "false", "");
    if (i.kind() != item_kind::node || !i.as_node().value) return;
    const json::value& v = *i.as_node().value;
    if (is_a(i, "CodeableConcept")) {
      std::string text = string_of(v.find("text"));
      const json::value* codings = v.find("coding");
      bool any = false;
      if (codings && codings->is_array())
        for (const auto& c : codings->as_array()) coding(c, text), any = true;
      if (!any) token("", "", text);
    } else if (is_a(i, "Coding")) {
      coding(v, "");
    } else if (is_a(i, "Identifier")) {
      const json::value* type = v.find("type");
      token(string_of(v.find("system")), string_of(v.find("value")), type ? string_of(type->find("text")) : "");
      // :of-type (type system|code|value): the identifier under each coding of its type, the value exact.
      const json::value* codings = type ? type->find("coding") : nullptr;
      if (codings && codings->is_array())
        for (const auto& c : codings->as_array())
          out_.tokens.push_back({p_.code + ":of-type", string_of(c.find("system")), string_of(c.find("code")),
                                 clipped(string_of(v.find("value")))});
    } else if (is_a(i, "ContactPoint")) {
      token(string_of(v.find("system")), string_of(v.find("value")), "");
    } else if (i.as_node().type->primitive) {
      if (auto text = primitive_text(&v)) token("", *text, "");
    }
  }

  void reference_string(std::string_view reference) {
    if (reference.empty()) return;
    if (reference.front() == '#') return local_reference(reference);
    // An absolute URL is kept as written; a versioned reference ("Patient/1/_history/2") is found by
    // searches for Patient/1. Another server's resource is found by its URL only: as Type/id it would
    // be taken for ours (in the compartment of our Patient with the same id, followed by chains and
    // includes).
    reference_parts parts = split_reference(reference);
    std::string url = parts.absolute ? std::string(reference) : std::string();
    if (parts.absolute && !under_local_base(reference, local_bases_)) parts.type.clear(), parts.id.clear();
    out_.references.push_back({p_.code, std::move(parts.type), std::move(parts.id), std::move(url)});
  }

  // "#m1": a contained resource, stored with its type and the reference as written, so a chain can
  // continue inside it (no resource's id has a '#'). "#" alone (the container) is not indexed.
  void local_reference(std::string_view reference) {
    const json::value* target = find_contained(container_, reference.substr(1));
    std::string_view type = target ? resource_type_of(*target) : std::string_view();
    if (!type.empty()) out_.references.push_back({p_.code, std::string(type), std::string(reference), {}});
  }

  void add_reference(const item& i) {
    if (i.kind() == item_kind::string) return reference_string(i.as_string());
    if (i.kind() != item_kind::node || !i.as_node().value) return;
    const json::value& v = *i.as_node().value;
    if (is_a(i, "Reference")) {
      if (const std::string* r = v.find_string("reference")) reference_string(*r);
      if (const json::value* identifier = v.find("identifier"))
        out_.tokens.push_back({p_.code + ":identifier", string_of(identifier->find("system")),
                               clipped(string_of(identifier->find("value"))), ""});
    } else if (v.is_string()) {  // canonical, uri
      const std::string& url = v.as_string();
      reference_parts parts = split_reference(url);
      out_.references.push_back({p_.code, parts.absolute ? std::string() : parts.type, parts.absolute ? std::string() : parts.id,
                                 url.substr(0, url.find('|'))});
    }
  }

  void date_text(std::string_view text) {
    if (auto r = parse_date_range(text)) out_.dates.push_back({p_.code, r->low, r->high});
  }

  void add_date(const item& i) {
    if (i.kind() != item_kind::node || !i.as_node().value) return;
    const json::value& v = *i.as_node().value;
    if (v.is_string()) return date_text(v.as_string());
    if (is_a(i, "Period")) {
      date_entry e{p_.code, date_range::open_low, date_range::open_high};
      if (const std::string* start = v.find_string("start"))
        if (auto r = parse_date_range(*start)) e.low = r->low;
      if (const std::string* end = v.find_string("end"))
        if (auto r = parse_date_range(*end)) e.high = r->high;
      if (v.find("start") || v.find("end")) out_.dates.push_back(e);
    } else if (is_a(i, "Timing")) {
      if (const json::value* events = v.find("event"); events && events->is_array())
        for (const auto& e : events->as_array())
          if (e.is_string()) date_text(e.as_string());
    }
  }

  void add_number(const item& i) {
    if (i.kind() == item_kind::integer) {
      auto v = static_cast<double>(i.as_integer());
      out_.numbers.push_back({p_.code, v, v - 0.5, v + 0.5});
      return;
    }
    if (i.kind() != item_kind::node || !i.as_node().value || !i.as_node().value->is_number()) return;
    if (auto r = parse_number_range(i.as_node().value->as_number().text))
      out_.numbers.push_back({p_.code, r->value, r->low, r->high});
  }

  void add_quantity(const item& i) {
    if (i.kind() != item_kind::node || !i.as_node().type->is_quantity || !i.as_node().value) return;
    const json::value& v = *i.as_node().value;
    const json::value* number = v.find("value");
    if (!number || !number->is_number()) return;
    auto r = parse_number_range(number->as_number().text);
    if (!r) return;
    quantity_entry e{p_.code, string_of(v.find("system")), string_of(v.find("code")), r->value, r->low, r->high, {}, 0};
    if (e.unit.empty()) e.unit = string_of(v.find("unit"));
    if (e.system == "http://unitsofmeasure.org" && !e.unit.empty())
      if (auto canonical = canonical_quantity(e.unit, r->value)) {
        e.canonical_unit = std::move(canonical->first);
        e.canonical_value = canonical->second;
      }
    out_.quantities.push_back(std::move(e));
  }

  void add_uri(const item& i) {
    if (i.kind() == item_kind::string) {
      out_.uris.push_back({p_.code, clipped(i.as_string())});
    } else if (i.kind() == item_kind::node && i.as_node().value && i.as_node().value->is_string()) {
      out_.uris.push_back({p_.code, clipped(i.as_node().value->as_string())});
    }
  }

  const search_parameter& p_;
  index_set& out_;
  const json::value& container_;
  const std::vector<std::string>& local_bases_;
};

}  // namespace

// resolve() during indexing: R4's expressions use `where(resolve() is Patient)` to keep references
// to one type. The indexer cannot fetch the target, but the reference names its type, which is all
// `is` needs: a stub resource of that type stands in.
struct indexer::reference_stubs {
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<json::value>, std::less<>> by_type;

  const json::value* stub(const definitions::registry& defs, std::string_view reference) {
    std::string type = split_reference(reference).type;
    if (type.empty() || !defs.is_resource_type(type)) return nullptr;
    std::lock_guard lock(mutex);
    auto it = by_type.find(type);
    if (it == by_type.end()) {
      json::object o;
      o.push_back(json::member{"resourceType", json::value(type)});
      it = by_type.emplace(type, std::make_unique<json::value>(std::move(o))).first;
    }
    return it->second.get();
  }
};

indexer::indexer(const search_parameters& parameters, std::vector<std::string> local_bases)
    : params_(parameters),
      local_bases_(std::move(local_bases)),
      environments_(parameters.definitions(),
                    [this](fhirpath::environment& env) {
                      env.resolve = [this](std::string_view reference) { return stubs_->stub(params_.definitions(), reference); };
                    }),
      stubs_(std::make_unique<reference_stubs>()) {
  std::erase(local_bases_, std::string());
  for (std::string& base : local_bases_)
    while (base.ends_with('/')) base.pop_back();
}

indexer::~indexer() = default;

index_set indexer::extract(const json::value& resource) const {
  index_set out = extract_own(resource, resource);
  const json::value* contained = resource.find("contained");
  if (!contained || !contained->is_array()) return out;
  for (const auto& c : contained->as_array()) {
    const std::string* id = c.find_string("id");
    std::string_view type = resource_type_of(c);
    if (id && !id->empty() && !type.empty()) out.contained.push_back({std::string(type), *id, extract_own(c, resource, true)});
  }
  return out;
}

index_set indexer::extract_own(const json::value& resource, const json::value& container, bool contained) const {
  index_set out;
  std::string_view type = resource_type_of(resource);
  auto env = environments_.acquire();
  for (const auto& [code, p] : params_.of(type)) {
    if (p.full_text) {
      if (contained) continue;  // the container's _content has its text already; _text is the container's
      add_full_text(p, resource, out);
      continue;
    }
    // Parameters covered by others (covered_by) store only their own branches, if any.
    if (!p.compiled || code == "_id" || code == "_lastUpdated") continue;
    auto values = p.compiled->evaluate(resource, *env);
    if (!values) continue;  // an expression that fails on this resource indexes nothing
    if (p.type == param_type::composite) {
      extract_composite(p, resource, container, *values, *env, out);
      continue;
    }
    extraction e(p, out, container, local_bases_);
    for (const item& i : *values) e.add(i);
  }
  return out;
}

namespace {

// A composite's row fields from its first component's values: a token (system, code) or a reference
// (type, id, url). Only the component's own entries: not the `:identifier` or `:of-type` tokens its
// extraction adds for other modifiers (a target known only by identifier is no resource id).
std::vector<composite_entry> first_component_rows(const std::string& code, const index_set& values) {
  std::vector<composite_entry> out;
  for (const auto& t : values.tokens)
    if (t.code == code) out.push_back({.system1 = t.system, .code1 = t.value});
  for (const auto& r : values.references)
    if (r.code == code) out.push_back({.system1 = r.target_type, .code1 = r.target_id, .url1 = r.url});
  return out;
}

// The fields of the second component's values: a token, string, date, quantity or number.
std::vector<composite_entry> second_component_rows(const std::string& code, const index_set& values) {
  std::vector<composite_entry> out;
  for (const auto& v : values.tokens)
    if (v.code == code) out.push_back({.system2 = v.system, .code2 = v.value});
  for (const auto& v : values.strings) out.push_back({.code2 = v.normalized});
  for (const auto& v : values.dates) out.push_back({.low2 = static_cast<double>(v.low), .high2 = static_cast<double>(v.high)});
  for (const auto& v : values.quantities)
    out.push_back({.system2 = v.system, .code2 = v.unit, .value2 = v.value, .low2 = v.low, .high2 = v.high,
                   .canonical_unit2 = v.canonical_unit, .canonical_value2 = v.canonical_value});
  for (const auto& v : values.numbers) out.push_back({.value2 = v.value});
  return out;
}

}  // namespace

// Each value the composite's expression selects is the focus of its components' expressions; every
// combination of the components' values there is a row (a token or reference, then a token, string,
// date, quantity or number, then a number when there is a third: search_parameter::searchable()).
void indexer::extract_composite(const search_parameter& p, const json::value& resource, const json::value& container,
                                const fhirpath::collection& foci, fhirpath::environment& env, index_set& out) const {
  if (!p.searchable()) return;
  // The foci live in env's arena, which each evaluation rewinds: copy them out first.
  std::vector<item> focus_items(foci.begin(), foci.end());
  for (const item& focus : focus_items) {
    std::vector<index_set> values(p.components.size());
    for (std::size_t i = 0; i < p.components.size(); ++i) {
      const auto& component = p.components[i];
      if (!component.compiled) break;
      auto selected = component.compiled->evaluate(focus, resource, env);
      if (!selected) break;
      extraction e(*component.parameter, values[i], container, local_bases_);
      for (const item& value : *selected) e.add(value);
    }
    auto seconds = second_component_rows(p.components[1].parameter->code, values[1]);
    std::vector<double> thirds;
    if (values.size() == 3)
      for (const auto& v : values[2].numbers) thirds.push_back(v.value);
    for (const auto& first : first_component_rows(p.components[0].parameter->code, values[0]))
      for (const auto& second : seconds) {
        composite_entry row = second;
        row.code = p.code;
        row.system1 = first.system1;
        row.code1 = first.code1;
        row.url1 = first.url1;
        if (values.size() == 2) {
          out.composites.push_back(std::move(row));
          continue;
        }
        for (double third : thirds) {
          row.value3 = third;
          out.composites.push_back(row);
        }
      }
  }
}

namespace {

constexpr std::size_t max_full_text = 4096;

// The text of XHTML: tags dropped, the five XML entities decoded, each tag a word break.
void append_xhtml_text(std::string_view xhtml, std::string& out) {
  bool in_tag = false;
  for (std::size_t i = 0; i < xhtml.size() && out.size() < max_full_text; ++i) {
    char c = xhtml[i];
    if (in_tag) {
      in_tag = c != '>';
    } else if (c == '<') {
      in_tag = true;
      out += ' ';
    } else if (c == '&') {
      static constexpr std::pair<std::string_view, char> entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool decoded = false;
      for (const auto& [entity, ch] : entities)
        if (xhtml.substr(i).starts_with(entity)) {
          out += ch;
          i += entity.size() - 1;
          decoded = true;
          break;
        }
      if (!decoded) out += c;
    } else {
      out += c;
    }
  }
}

// Every string value in the resource (not keys, not numbers), narrative as text.
void append_strings(const json::value& v, std::string_view key, std::string& out) {
  if (out.size() >= max_full_text) return;
  if (v.is_string()) {
    if (key == "div") append_xhtml_text(v.as_string(), out);
    else if (key != "reference" && key != "system" && key != "url" && key != "id") out += v.as_string();
    out += ' ';
  } else if (v.is_array()) {
    for (const auto& e : v.as_array()) append_strings(e, key, out);
  } else if (v.is_object()) {
    for (const auto& m : v.as_object()) append_strings(m.value, m.key, out);
  }
}

}  // namespace

void indexer::add_full_text(const search_parameter& p, const json::value& resource, index_set& out) const {
  std::string text;
  if (p.code == "_text") {
    const json::value* narrative = resource.find("text");
    const json::value* div = narrative ? narrative->find("div") : nullptr;
    if (div && div->is_string()) append_xhtml_text(div->as_string(), text);
  } else {
    append_strings(resource, "", text);
  }
  std::string normalized = normalize(text);
  if (normalized.size() > max_full_text) normalized.resize(max_full_text);
  if (!normalized.empty()) out.texts.push_back({p.code, std::move(normalized)});
}

reference_parts split_reference(std::string_view reference) {
  reference_parts out;
  out.absolute = reference.find("://") != std::string_view::npos || reference.starts_with("urn:");
  if (reference.starts_with("urn:")) return out;
  std::vector<std::string_view> segments;
  for (std::size_t start = 0; start <= reference.size();) {
    std::size_t slash = reference.find('/', start);
    if (slash == std::string_view::npos) slash = reference.size();
    segments.push_back(reference.substr(start, slash - start));
    start = slash + 1;
  }
  // [..., Type, id] or [..., Type, id, _history, version]
  std::size_t n = segments.size();
  if (n >= 4 && segments[n - 2] == "_history") {
    out.version = segments[n - 1];
    n -= 2;
  }
  if (n >= 2 && !segments[n - 2].empty() && std::isupper(static_cast<unsigned char>(segments[n - 2].front())) &&
      !segments[n - 1].empty()) {
    out.type = segments[n - 2];
    out.id = segments[n - 1];
  }
  return out;
}

bool under_local_base(std::string_view reference, std::span<const std::string> local_bases) {
  return std::any_of(local_bases.begin(), local_bases.end(), [&](std::string_view base) {
    while (base.ends_with('/')) base.remove_suffix(1);
    return !base.empty() && reference.size() > base.size() && reference.starts_with(base) && reference[base.size()] == '/';
  });
}

std::optional<local_target> local_target_of(std::string_view reference, std::span<const std::string> local_bases) {
  if (reference.empty() || reference.front() == '#') return std::nullopt;
  reference_parts parts = split_reference(reference);
  if (parts.type.empty() || (parts.absolute && !under_local_base(reference, local_bases))) return std::nullopt;
  return local_target{std::move(parts.type), std::move(parts.id)};
}

std::optional<std::pair<std::string, double>> canonical_quantity(std::string_view ucum_code, double value) {
  auto unit = fhirpath::ucum::resolve(ucum_code);
  if (!unit || unit->dims[8] != 0 || unit->dims[9] != 0) return std::nullopt;
  double factor = static_cast<double>(unit->numerator.to_long_double() / unit->denominator.to_long_double());
  return std::pair{canonical_unit_name(unit->dims), value * factor};
}

std::optional<number_range> parse_number_range(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  // The precision is the last digit written: count decimals (before any exponent), then the exponent.
  std::string_view mantissa = text.substr(0, text.find_first_of("eE"));
  int exponent = 0;
  if (mantissa.size() < text.size()) std::from_chars(text.data() + mantissa.size() + 1 + (text[mantissa.size() + 1] == '+'),
                                                      text.data() + text.size(), exponent);
  auto dot = mantissa.find('.');
  int decimals = dot == std::string_view::npos ? 0 : static_cast<int>(mantissa.size() - dot - 1);
  double half = 0.5 * std::pow(10.0, exponent - decimals);
  return number_range{value, value - half, value + half};
}

}  // namespace fhir::search
