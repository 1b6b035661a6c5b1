#include "fhir/terminology/terminology_service.hpp"

#include <algorithm>
#include <functional>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace fhir::terminology {

using code_set = std::unordered_set<std::string, definitions::string_hash, std::equal_to<>>;

namespace {

std::string_view string_member(const json::value& v, std::string_view key) {
  const std::string* s = v.find_string(key);
  return s ? std::string_view(*s) : std::string_view();
}

std::string_view without_version(std::string_view url) { return url.substr(0, url.find('|')); }

// A property value of a concept as text, whatever its type (code, string, boolean, integer...).
std::string property_text(const json::value& property) {
  for (const json::member& m : property.as_object()) {
    if (!m.key.starts_with("value")) continue;
    if (m.value.is_string()) return m.value.as_string();
    if (m.value.is_bool()) return m.value.as_bool() ? "true" : "false";
    if (m.value.is_number()) return m.value.as_number().text;
    if (const std::string* code = m.value.find_string("code")) return *code;  // valueCoding
  }
  return {};
}

}  // namespace

// The concepts of a local CodeSystem with their hierarchy (nesting, or `parent`/`subsumedBy` properties)
// and properties, for filters.
class code_system_index {
 public:
  explicit code_system_index(const json::value& cs) {
    std::string_view content = string_member(cs, "content");
    complete_ = content.empty() || content == "complete";
    if (const json::value* concepts = cs.find("concept"); concepts && concepts->is_array()) add(concepts->as_array(), {});
  }

  bool complete() const { return complete_; }
  bool contains(std::string_view code) const { return concepts_.find(code) != concepts_.end(); }
  void all(code_set& out) const {
    for (const auto& [code, c] : concepts_) out.insert(code);
  }
  // `code` and every concept below it.
  void self_and_descendants(std::string_view code, code_set& out) const {
    if (!contains(code) || !out.insert(std::string(code)).second) return;
    auto it = children_.find(code);
    if (it == children_.end()) return;
    for (const std::string& child : it->second) self_and_descendants(child, out);
  }
  void self_and_ancestors(std::string_view code, code_set& out) const {
    auto it = concepts_.find(code);
    if (it == concepts_.end() || !out.insert(std::string(code)).second) return;
    for (const std::string& parent : it->second.parents) self_and_ancestors(parent, out);
  }
  // Concepts whose property `property` has the value `value` (any value when `value` is empty).
  void with_property(std::string_view property, std::string_view value, bool any_value, code_set& out) const {
    for (const auto& [code, c] : concepts_)
      for (const auto& [name, v] : c.properties)
        if (name == property && (any_value || v == value)) {
          out.insert(code);
          break;
        }
  }

 private:
  struct concept_entry {
    std::vector<std::string> parents;
    std::vector<std::pair<std::string, std::string>> properties;
  };

  void add(const json::array& concepts, std::string_view parent) {
    for (const json::value& c : concepts) {
      std::string_view code = string_member(c, "code");
      if (code.empty()) continue;
      concept_entry& entry = concepts_[std::string(code)];
      if (!parent.empty()) link(code, parent, entry);
      if (const json::value* properties = c.find("property"); properties && properties->is_array()) {
        for (const json::value& p : properties->as_array()) {
          std::string name(string_member(p, "code"));
          std::string value = property_text(p);
          if (name == "parent" || name == "subsumedBy") link(code, value, entry);
          entry.properties.emplace_back(std::move(name), std::move(value));
        }
      }
      if (const json::value* nested = c.find("concept"); nested && nested->is_array()) add(nested->as_array(), code);
    }
  }
  void link(std::string_view child, std::string_view parent, concept_entry& entry) {
    if (std::find(entry.parents.begin(), entry.parents.end(), parent) != entry.parents.end()) return;
    entry.parents.emplace_back(parent);
    children_[std::string(parent)].emplace_back(child);
  }

  bool complete_ = true;
  std::unordered_map<std::string, concept_entry, definitions::string_hash, std::equal_to<>> concepts_;
  std::unordered_map<std::string, std::vector<std::string>, definitions::string_hash, std::equal_to<>> children_;
};

// What a ValueSet contains, as far as it can be known locally: enumerated codes per system, the systems
// where only a terminology server could tell (open), and whether anything at all is unknowable.
class value_set_expansion {
 public:
  bool known = true;     // false: the value set itself is not known
  bool all_open = false;  // some part cannot be evaluated for any system (an unknown imported value set)
  std::unordered_map<std::string, code_set, definitions::string_hash, std::equal_to<>> codes;
  code_set open_systems;

  membership find(std::string_view system, std::string_view code) const {
    if (!known) return membership::unknown;
    if (auto it = codes.find(system); it != codes.end() && it->second.find(code) != it->second.end()) return membership::member;
    if (all_open || open_systems.find(system) != open_systems.end()) return membership::unknown;
    return membership::not_member;
  }
  membership find_code(std::string_view code) const {
    if (!known) return membership::unknown;
    for (const auto& [system, set] : codes)
      if (set.find(code) != set.end()) return membership::member;
    return all_open || !open_systems.empty() ? membership::unknown : membership::not_member;
  }
  bool is_open() const { return all_open || !open_systems.empty(); }

  void merge(const value_set_expansion& other) {
    all_open |= other.all_open || !other.known;
    for (const auto& [system, set] : other.codes) codes[system].insert(set.begin(), set.end());
    open_systems.insert(other.open_systems.begin(), other.open_systems.end());
  }
  void subtract(const value_set_expansion& other) {
    for (const auto& [system, set] : other.codes)
      if (auto it = codes.find(system); it != codes.end())
        for (const std::string& code : set) it->second.erase(code);
    // An exclusion that cannot be evaluated makes what it might remove unknowable: no code of those
    // systems (of any system, when it is wholly unknown) is known to be in the value set any more.
    for (const std::string& system : other.open_systems) {
      codes.erase(system);
      open_systems.insert(system);
    }
    if (other.all_open || !other.known) {
      codes.clear();
      all_open = true;
    }
  }
  // Keeps only what `other` also contains.
  void intersect(const value_set_expansion& other) {
    for (auto& [system, set] : codes) {
      for (auto it = set.begin(); it != set.end();) {
        membership m = other.find(system, *it);
        if (m == membership::member) {
          ++it;
        } else {
          if (m == membership::unknown) open_systems.insert(system);
          it = set.erase(it);
        }
      }
    }
    all_open |= other.all_open || !other.known;
  }
};

// Evaluates compose (include/exclude with concepts, filters and imports), or a stored expansion when the
// compose needs terminology the server lacks.
class expander {
 public:
  explicit expander(const terminology_service& service) : service_(service) {}

  std::shared_ptr<value_set_expansion> expand(const json::value& vs, int depth) {
    auto out = std::make_shared<value_set_expansion>();
    if (depth > 16) {  // imports nested this deep are a cycle
      out->all_open = true;
      return out;
    }
    if (const json::value* compose = vs.find("compose")) {
      if (const json::value* includes = compose->find("include"); includes && includes->is_array())
        for (const json::value& include : includes->as_array()) out->merge(*part(include));
      if (const json::value* excludes = compose->find("exclude"); excludes && excludes->is_array())
        for (const json::value& exclude : excludes->as_array()) out->subtract(*part(exclude));
    } else if (!vs.find("expansion")) {
      out->all_open = true;
    }
    if (out->is_open() || !vs.find("compose"))
      if (const json::value* expansion = vs.find("expansion")) return from_expansion(*expansion);
    return out;
  }

 private:
  std::shared_ptr<value_set_expansion> part(const json::value& include) {
    auto out = std::make_shared<value_set_expansion>();
    std::string_view system = string_member(include, "system");
    if (!system.empty()) {
      code_set& codes = out->codes[std::string(system)];
      const json::value* concepts = include.find("concept");
      const json::value* filters = include.find("filter");
      auto cs = service_.code_system(system);
      if (concepts && concepts->is_array()) {
        for (const json::value& c : concepts->as_array())
          if (std::string_view code = string_member(c, "code"); !code.empty()) codes.insert(std::string(code));
      } else if (!cs || !cs->complete()) {
        out->open_systems.insert(std::string(system));
      } else if (filters && filters->is_array()) {
        bool first = true;
        for (const json::value& f : filters->as_array()) {
          code_set matched;
          if (!filter(*cs, f, matched)) {
            // One filter the server cannot evaluate makes the whole include unknowable.
            codes.clear();
            out->open_systems.insert(std::string(system));
            break;
          }
          if (first) {
            codes = std::move(matched);
            first = false;
          } else {
            std::erase_if(codes, [&](const std::string& c) { return !matched.contains(c); });
          }
        }
      } else {
        cs->all(codes);
      }
    }
    if (const json::value* imports = include.find("valueSet"); imports && imports->is_array()) {
      bool first = system.empty();
      for (const json::value& url : imports->as_array()) {
        if (!url.is_string()) continue;
        auto imported = service_.expansion(url.as_string());
        if (first) {
          out->merge(*imported);
          first = false;
        } else {
          out->intersect(*imported);
        }
      }
    }
    return out;
  }

  // One filter over a local, complete code system; false when the operator or property is not one the
  // server can evaluate.
  static bool filter(const code_system_index& cs, const json::value& f, code_set& out) {
    std::string_view property = string_member(f, "property");
    std::string_view op = string_member(f, "op");
    std::string_view value = string_member(f, "value");
    bool hierarchy = property == "concept" || property == "code";
    if (op == "is-a" && hierarchy) {
      cs.self_and_descendants(value, out);
    } else if (op == "descendent-of" && hierarchy) {
      cs.self_and_descendants(value, out);
      out.erase(std::string(value));
    } else if (op == "is-not-a" && hierarchy) {
      code_set below;
      cs.self_and_descendants(value, below);
      code_set all;
      cs.all(all);
      for (const std::string& c : all)
        if (!below.contains(c)) out.insert(c);
    } else if (op == "generalizes" && hierarchy) {
      cs.self_and_ancestors(value, out);
    } else if ((op == "in" || op == "not-in") && hierarchy) {
      code_set listed;
      for (std::size_t start = 0; start <= value.size();) {
        auto comma = value.find(',', start);
        std::string_view item = value.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (!item.empty() && cs.contains(item)) listed.insert(std::string(item));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      if (op == "in") {
        out = std::move(listed);
      } else {
        code_set all;
        cs.all(all);
        for (const std::string& c : all)
          if (!listed.contains(c)) out.insert(c);
      }
    } else if (op == "=" && !hierarchy) {
      cs.with_property(property, value, false, out);
    } else if (op == "exists" && !hierarchy) {
      code_set with;
      cs.with_property(property, {}, true, with);
      if (value == "true") {
        out = std::move(with);
      } else {
        code_set all;
        cs.all(all);
        for (const std::string& c : all)
          if (!with.contains(c)) out.insert(c);
      }
    } else {
      return false;  // regex and property filters the server does not evaluate
    }
    return true;
  }

  std::shared_ptr<value_set_expansion> from_expansion(const json::value& expansion) {
    auto out = std::make_shared<value_set_expansion>();
    std::size_t count = 0;
    std::vector<std::string> systems;
    std::function<void(const json::value&)> add = [&](const json::value& contains) {
      if (!contains.is_array()) return;
      for (const json::value& c : contains.as_array()) {
        std::string_view system = string_member(c, "system");
        std::string_view code = string_member(c, "code");
        if (!code.empty()) {
          out->codes[std::string(system)].insert(std::string(code));
          ++count;
        }
        if (const json::value* nested = c.find("contains")) add(*nested);
      }
    };
    if (const json::value* contains = expansion.find("contains")) add(*contains);
    // A partial expansion (total above what is listed, or flagged unclosed) cannot rule a code out.
    bool partial = false;
    if (const json::value* total = expansion.find("total"); total && total->is_number())
      partial = total->as_number().text != std::to_string(count);
    if (const json::value* extensions = expansion.find("extension"); extensions && extensions->is_array())
      for (const json::value& e : extensions->as_array())
        if (string_member(e, "url").ends_with("valueset-unclosed")) {
          const json::value* b = e.find("valueBoolean");
          partial |= b && b->is_bool() && b->as_bool();
        }
    if (const json::value* parameters = expansion.find("parameter"); parameters && parameters->is_array())
      for (const json::value& p : parameters->as_array())
        if (string_member(p, "name") == "unclosed") {
          const json::value* b = p.find("valueBoolean");
          partial |= b && b->is_bool() && b->as_bool();
        }
    if (partial) {
      if (out->codes.empty()) out->all_open = true;
      for (const auto& [system, set] : out->codes) out->open_systems.insert(system);
    }
    return out;
  }

  const terminology_service& service_;
};

terminology_service::terminology_service(const definitions::registry& definitions) : defs_(definitions) {}
terminology_service::~terminology_service() = default;

std::shared_ptr<const code_system_index> terminology_service::code_system(std::string_view url) const {
  url = without_version(url);
  {
    std::shared_lock lock(mutex_);
    if (auto it = code_systems_.find(url); it != code_systems_.end()) return it->second;
  }
  const json::value* cs = defs_.find_code_system(url);
  std::shared_ptr<const code_system_index> index = cs ? std::make_shared<code_system_index>(*cs) : nullptr;
  std::unique_lock lock(mutex_);
  return code_systems_.try_emplace(std::string(url), std::move(index)).first->second;
}

std::shared_ptr<const value_set_expansion> terminology_service::expansion(std::string_view url) const {
  url = without_version(url);
  {
    std::shared_lock lock(mutex_);
    if (auto it = expansions_.find(url); it != expansions_.end()) return it->second;
  }
  // Imports expand through this same function; a thread-local depth stops import cycles.
  thread_local int depth = 0;
  std::shared_ptr<value_set_expansion> computed;
  if (const json::value* vs = defs_.find_value_set(url)) {
    ++depth;
    computed = expander(*this).expand(*vs, depth);
    --depth;
  } else {
    computed = std::make_shared<value_set_expansion>();
    computed->known = false;
  }
  std::unique_lock lock(mutex_);
  return expansions_.try_emplace(std::string(url), std::move(computed)).first->second;
}

membership terminology_service::in_value_set(std::string_view value_set_url, std::string_view system,
                                             std::string_view code) const {
  return expansion(value_set_url)->find(system, code);
}

membership terminology_service::code_in_value_set(std::string_view value_set_url, std::string_view code) const {
  return expansion(value_set_url)->find_code(code);
}

membership terminology_service::in_code_system(std::string_view system, std::string_view code) const {
  auto cs = code_system(system);
  if (!cs || !cs->complete()) return membership::unknown;
  return cs->contains(code) ? membership::member : membership::not_member;
}

std::optional<std::vector<std::pair<std::string, std::string>>> terminology_service::enumerate(std::string_view value_set_url,
                                                                                            std::size_t max) const {
  auto e = expansion(value_set_url);
  if (!e || !e->known || e->is_open()) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [system, codes] : e->codes)
    for (const auto& code : codes) {
      if (out.size() == max) return std::nullopt;
      out.emplace_back(system, code);
    }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::vector<std::string>> terminology_service::hierarchy(std::string_view system, std::string_view code,
                                                                       bool descendants) const {
  auto cs = code_system(system);
  if (!cs || !cs->complete() || !cs->contains(code)) return std::nullopt;
  code_set found;
  if (descendants) cs->self_and_descendants(code, found);
  else cs->self_and_ancestors(code, found);
  std::vector<std::string> out(found.begin(), found.end());
  std::sort(out.begin(), out.end());
  return out;
}

bool terminology_service::knows_value_set(std::string_view value_set_url) const {
  return defs_.find_value_set(value_set_url) != nullptr;
}

}  // namespace fhir::terminology
