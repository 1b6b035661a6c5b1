#include "fhir/search/search_parameters.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>
#include <optional>
#include <utility>

#include "fhir/fhirpath/split.hpp"
#include "fhir/search/string_parts.hpp"

namespace fhir::search {

namespace {

constexpr std::array<std::pair<std::string_view, param_type>, 9> type_names{{
    {"number", param_type::number},
    {"date", param_type::date},
    {"string", param_type::string},
    {"token", param_type::token},
    {"reference", param_type::reference},
    {"composite", param_type::composite},
    {"quantity", param_type::quantity},
    {"uri", param_type::uri},
    {"special", param_type::special},
}};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The identifier a branch starts with, after any opening parentheses: "Observation" in
// "(Observation.value as Quantity)".
std::string_view leading_identifier(std::string_view branch) {
  while (!branch.empty() && (branch.front() == '(' || std::isspace(static_cast<unsigned char>(branch.front()))))
    branch.remove_prefix(1);
  std::size_t n = 0;
  while (n < branch.size() && (std::isalnum(static_cast<unsigned char>(branch[n])) || branch[n] == '_')) ++n;
  return branch.substr(0, n);
}

// The FHIR types of the element at `focus`.`path` (both plain paths, `focus` starting with its
// resource type), or none when that is not a plain path to one element of the definitions.
std::vector<std::string_view> element_types(std::string_view focus, std::string_view path, const definitions::registry& defs) {
  constexpr std::string_view not_plain = "()|[] %$'\"";
  if (focus.find_first_of(not_plain) != std::string_view::npos || path.find_first_of(not_plain) != std::string_view::npos)
    return {};
  const definitions::structure_definition* sd = defs.find_type(leading_identifier(focus));
  const definitions::element_definition* e = sd ? sd->find_by_id(std::string(focus) + "." + std::string(path)) : nullptr;
  std::vector<std::string_view> out;
  if (e)
    for (const auto& t : e->types) out.push_back(t.code);
  return out;
}

std::vector<std::string> strings_of(const json::value* array) {
  std::vector<std::string> out;
  if (array && array->is_array())
    for (const auto& v : array->as_array())
      if (v.is_string()) out.push_back(v.as_string());
  return out;
}

}  // namespace

bool search_parameter::searchable() const {
  if (!indexed()) return false;
  if (type == param_type::special) return position;
  if (full_text) return true;
  if (type != param_type::composite) return true;
  // The shapes ix_composite holds (docs/store-schema.md): a token or a reference, then a token,
  // quantity, date, string or number, then optionally a number: every composite of R4.
  if (components.size() != 2 && components.size() != 3) return false;
  param_type first = components[0].parameter->type;
  param_type second = components[1].parameter->type;
  bool third_fits = components.size() == 2 || components[2].parameter->type == param_type::number;
  return (first == param_type::token || first == param_type::reference) && third_fits &&
         (second == param_type::token || second == param_type::quantity || second == param_type::date ||
          second == param_type::string || second == param_type::number);
}

std::optional<param_type> parse_param_type(std::string_view code) {
  for (const auto& [name, type] : type_names)
    if (name == code) return type;
  return std::nullopt;
}

std::string_view to_string(param_type type) {
  for (const auto& [name, t] : type_names)
    if (t == type) return name;
  return "special";
}

// True when `expression` is a plain path (`Location.position`) to an element of `type` with decimal
// `latitude` and `longitude` children: a position that searches find by distance.
bool selects_positions(std::string_view expression, std::string_view type, const definitions::registry& definitions) {
  if (leading_identifier(expression) != type) return false;
  for (std::string_view child : {"latitude", "longitude"})
    if (element_types(expression, child, definitions) != std::vector<std::string_view>{"decimal"}) return false;
  return true;
}

namespace {

// `branch` without one pair of parentheses around all of it.
std::string_view unwrapped(std::string_view branch) {
  branch = trim(branch);
  if (branch.size() < 2 || branch.front() != '(' || branch.back() != ')') return branch;
  int depth = 0;
  for (std::size_t i = 0; i + 1 < branch.size(); ++i) {
    depth += branch[i] == '(' ? 1 : branch[i] == ')' ? -1 : 0;
    if (depth == 0) return branch;  // "(a) | (b)": the first parenthesis closes early
  }
  return trim(branch.substr(1, branch.size() - 2));
}

// What a reference parameter's branch selects: only Reference elements (a plain path to them,
// optionally filtered by a final `.where(...)`: `Observation.subject.where(resolve() is Patient)`, or
// any path cast to Reference), only canonical or uri elements (a plain path to them), or either.
enum class selects { references, urls, either };

selects branch_selects(std::string_view branch, const definitions::registry& defs) {
  branch = unwrapped(branch);
  if (branch.ends_with(" as Reference")) return selects::references;  // the cast keeps only Reference values
  std::string_view last = fhirpath::split_top_level(branch, '.').back();
  if (last == "ofType(Reference)" || last == "as(Reference)") return selects::references;
  if (last.starts_with("where(") && last.size() < branch.size()) branch.remove_suffix(last.size() + 1);  // a filter keeps the type
  std::string_view head = leading_identifier(branch);
  if (head.empty() || head.size() + 1 >= branch.size() || branch[head.size()] != '.') return selects::either;
  auto types = element_types(head, branch.substr(head.size() + 1), defs);
  auto all = [&](auto test) { return !types.empty() && std::all_of(types.begin(), types.end(), test); };
  if (all([](std::string_view t) { return t == "Reference"; })) return selects::references;
  if (all([](std::string_view t) { return t == "canonical" || t == "uri" || t == "url"; })) return selects::urls;
  return selects::either;
}

// How a reference parameter stores an absolute value under the server's base URL (search_parameter::urls).
search_parameter::own_base_urls own_base_urls_of(std::string_view expression, const definitions::registry& definitions) {
  bool references = false, urls = false;
  for (std::string_view branch : fhirpath::split_top_level(expression, '|')) {
    selects s = branch_selects(branch, definitions);
    references = references || s != selects::urls;
    urls = urls || s != selects::references;
  }
  using kind = search_parameter::own_base_urls;
  return urls ? (references ? kind::type_id_or_url : kind::url) : kind::type_id;
}

}  // namespace

std::string expression_for_type(std::string_view expression, std::string_view type,
                                const definitions::registry& definitions) {
  const definitions::type_info* info = definitions.find_type_info(type);
  std::string out;
  for (std::string_view branch : fhirpath::split_top_level(expression, '|')) {
    branch = trim(branch);
    std::string_view head = leading_identifier(branch);
    const definitions::type_info* head_type = head.empty() ? nullptr : definitions.find_type_info(head);
    bool applies = !head_type || !head_type->is_resource || (info && info->derives_from(head));
    if (!applies) continue;
    if (!out.empty()) out += " | ";
    out += branch;
  }
  return out;
}

search_parameters::search_parameters(const definitions::registry& definitions) : defs_(definitions) {
  std::map<std::string, const json::value*, std::less<>> by_url;
  for (const json::value& sp : defs_.search_parameters()) {
    if (const std::string* url = sp.find_string("url")) by_url[*url] = &sp;
    add(sp);
  }
  link_composites(by_url);
  for (auto& [type, params] : by_type_) share_rows(params);
}

void search_parameters::add(const json::value& definition) {
  const std::string* code = definition.find_string("code");
  const std::string* type_code = definition.find_string("type");
  // A '#' cannot begin a code (it would be read as a fragment); the store files contained resources'
  // rows under '#' + code.
  if (!code || !type_code || code->empty() || code->front() == '#') return;
  auto type = parse_param_type(*type_code);
  if (!type) return;
  const std::string* expression = definition.find_string("expression");
  for (const std::string& base : strings_of(definition.find("base"))) {
    // A parameter on Resource or DomainResource applies to every resource type deriving from it.
    std::vector<std::string> types;
    if (defs_.is_resource_type(base)) {
      types.push_back(base);
    } else {
      for (const std::string& t : defs_.resource_types())
        if (const auto* info = defs_.find_type_info(t); info && info->derives_from(base)) types.push_back(t);
    }
    for (const std::string& resource_type : types) {
      search_parameter p;
      p.code = *code;
      p.type = *type;
      if (const std::string* url = definition.find_string("url")) p.url = *url;
      if (const std::string* d = definition.find_string("description")) p.description = *d;
      p.targets = strings_of(definition.find("target"));
      if (p.code == "_text" || p.code == "_content") {
        p.full_text = true;
        p.type = param_type::string;
      }
      if (expression) {
        p.expression = expression_for_type(*expression, resource_type, defs_);
        if (p.type == param_type::special) p.position = selects_positions(p.expression, resource_type, defs_);
        if (p.type == param_type::reference) p.urls = own_base_urls_of(p.expression, defs_);
        if (!p.expression.empty() && (p.type != param_type::special || p.position)) {
          if (auto compiled = fhirpath::compile(p.expression, defs_)) p.compiled = std::move(*compiled);
        }
      }
      by_type_[resource_type].insert_or_assign(p.code, std::move(p));
    }
  }
}

void search_parameters::link_composites(const std::map<std::string, const json::value*, std::less<>>& by_url) {
  for (auto& [type, params] : by_type_) {
    for (auto& [code, p] : params) {
      if (p.type != param_type::composite) continue;
      const json::value* definition = by_url.contains(p.url) ? by_url.find(p.url)->second : nullptr;
      const json::value* components = definition ? definition->find("component") : nullptr;
      bool complete = components && components->is_array();
      if (complete) {
        for (const json::value& c : components->as_array()) {
          const std::string* url = c.find_string("definition");
          const std::string* expression = c.find_string("expression");
          auto target = url ? by_url.find(*url) : by_url.end();
          const std::string* target_code = target != by_url.end() ? target->second->find_string("code") : nullptr;
          auto own = target_code ? params.find(*target_code) : params.end();
          if (!expression || own == params.end()) {
            complete = false;
            break;
          }
          search_parameter::component component{&own->second, *expression, std::nullopt};
          if (auto compiled = fhirpath::compile(*expression, defs_)) component.compiled = std::move(*compiled);
          else complete = false;
          p.components.push_back(std::move(component));
        }
      }
      // A composite whose components cannot all be resolved is not searchable.
      if (!complete) {
        p.components.clear();
        p.compiled.reset();
        continue;
      }
      swap_misplaced_expressions(type, p);
    }
  }
}

namespace {

// Whether an element of FHIR type `type_code` can be indexed as a parameter of `type`; nullopt when
// this check does not judge that parameter type (only tokens and references are judged).
std::optional<bool> element_fits(param_type type, std::string_view type_code) {
  static constexpr std::array<std::string_view, 9> token_types{"code",    "Coding", "CodeableConcept", "Identifier", "ContactPoint",
                                                               "boolean", "string", "uri",             "id"};
  static constexpr std::array<std::string_view, 4> reference_types{"Reference", "canonical", "uri", "url"};
  auto in = [&](const auto& list) { return std::find(list.begin(), list.end(), type_code) != list.end(); };
  if (type == param_type::token) return in(token_types);
  if (type == param_type::reference) return in(reference_types);
  return std::nullopt;
}

// True when every type of the element at `focus`.`path` can be indexed as `type`; nullopt when the
// element or the parameter type cannot be judged.
std::optional<bool> path_fits(param_type type, std::string_view focus, std::string_view path, const definitions::registry& defs) {
  auto types = element_types(focus, path, defs);
  if (types.empty()) return std::nullopt;
  for (std::string_view t : types) {
    auto fits = element_fits(type, t);
    if (!fits) return std::nullopt;
    if (!*fits) return false;
  }
  return true;
}

std::vector<std::string> branch_set(std::string_view expression) {
  std::vector<std::string> out;
  for (std::string_view b : fhirpath::split_top_level(expression, '|')) out.emplace_back(trim(b));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The branches whose values a parameter's rows hold: its expression's branches, except that a string
// parameter's branch selecting a HumanName or an Address stands for one branch per part the indexer
// reads (`Patient.name` is `Patient.name.family | Patient.name.given | ...`), so that a parameter over
// one part (`family`) can hold those rows for it.
std::vector<std::string> row_branches(const search_parameter& p, const definitions::registry& defs) {
  std::vector<std::string> out;
  for (std::string& branch : branch_set(p.expression)) {
    std::string_view head = leading_identifier(branch);
    bool path = p.type == param_type::string && branch.size() > head.size() + 1 && branch[head.size()] == '.';
    auto types = path ? element_types(head, std::string_view(branch).substr(head.size() + 1), defs) : std::vector<std::string_view>{};
    auto parts = types.size() == 1 ? string_parts(types.front()) : std::span<const std::string_view>{};
    if (parts.empty()) {
      out.push_back(std::move(branch));
      continue;
    }
    for (std::string_view part : parts) out.push_back(branch + "." + std::string(part));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Two composites index the same rows for the same focus when their components are the same
// expressions over parameters of the same types.
bool same_components(const search_parameter& a, const search_parameter& b) {
  if (a.components.size() != b.components.size()) return false;
  for (std::size_t i = 0; i < a.components.size(); ++i)
    if (a.components[i].expression != b.components[i].expression ||
        a.components[i].parameter->type != b.components[i].parameter->type)
      return false;
  return true;
}

}  // namespace

// R4's DocumentReference-relationship gives each of its components the other's expression (`relatesto`,
// a reference, selects `relatesTo.code`; `relation`, a token, selects `relatesTo.target`), so as
// published it would index nothing. When two components each select an element their parameter cannot
// index, and each fits the other's, the definitions say the expressions were swapped: swap them back.
void search_parameters::swap_misplaced_expressions(std::string_view type, search_parameter& p) const {
  bool on_type = p.expression == type || p.expression.starts_with(std::string(type) + ".");
  std::string focus = on_type ? p.expression : std::string();
  for (std::size_t i = 0; i < p.components.size(); ++i)
    for (std::size_t j = i + 1; j < p.components.size(); ++j) {
      auto& a = p.components[i];
      auto& b = p.components[j];
      auto fits = [&](const search_parameter::component& c, const std::string& expression) {
        return path_fits(c.parameter->type, focus, expression, defs_);
      };
      if (fits(a, a.expression) == false && fits(b, b.expression) == false && fits(a, b.expression) == true &&
          fits(b, a.expression) == true) {
        std::swap(a.expression, b.expression);
        std::swap(a.compiled, b.compiled);
      }
    }
}

// Parameters are considered by their number of branches, fewest first; each may be covered by those
// before it whose stored branches (all of theirs, or what is left to them when they are covered in
// turn) are all among its own: their rows are its rows too, and it stores only the branches none of
// them stores. A parameter that stores nothing covers nothing.
void search_parameters::share_rows(std::map<std::string, search_parameter, std::less<>>& params) {
  struct candidate {
    search_parameter* parameter;
    std::vector<std::string> branches;  // sorted
    std::vector<std::string> stored;    // sorted: the branches whose rows it stores
  };
  std::vector<candidate> candidates;
  for (auto& [code, p] : params)
    if (p.compiled && !p.full_text && p.type != param_type::special) {
      auto branches = row_branches(p, defs_);
      candidates.push_back({&p, branches, branches});
    }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const candidate& a, const candidate& b) { return a.branches.size() < b.branches.size(); });
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    auto& wide = candidates[i];
    std::vector<std::string> covered;
    for (std::size_t j = 0; j < i; ++j) {
      const auto& narrow = candidates[j];
      if (narrow.stored.empty() || narrow.parameter->type != wide.parameter->type) continue;
      if (narrow.parameter->type == param_type::composite && !same_components(*narrow.parameter, *wide.parameter)) continue;
      if (!std::includes(wide.branches.begin(), wide.branches.end(), narrow.stored.begin(), narrow.stored.end())) continue;
      wide.parameter->covered_by.push_back(narrow.parameter->code);
      covered.insert(covered.end(), narrow.stored.begin(), narrow.stored.end());
    }
    if (covered.empty()) continue;
    std::sort(covered.begin(), covered.end());
    wide.stored.clear();
    std::set_difference(wide.branches.begin(), wide.branches.end(), covered.begin(), covered.end(),
                        std::back_inserter(wide.stored));
    std::string own;
    for (const std::string& b : wide.stored) own += (own.empty() ? "" : " | ") + b;
    wide.parameter->compiled.reset();
    if (!own.empty())
      if (auto compiled = fhirpath::compile(own, defs_)) wide.parameter->compiled = std::move(*compiled);
  }
}

const search_parameter* search_parameters::find(std::string_view type, std::string_view code) const {
  auto t = by_type_.find(type);
  if (t == by_type_.end()) return nullptr;
  auto p = t->second.find(code);
  return p == t->second.end() ? nullptr : &p->second;
}

const std::map<std::string, search_parameter, std::less<>>& search_parameters::of(std::string_view type) const {
  auto t = by_type_.find(type);
  return t == by_type_.end() ? empty_ : t->second;
}

}  // namespace fhir::search
