#include "fhir/search/search_query.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "fhir/search/date_range.hpp"
#include "fhir/search/indexer.hpp"

namespace fhir::search {

namespace {

constexpr std::array<std::pair<std::string_view, modifier>, 11> modifier_names{{
    {"missing", modifier::missing},
    {"exact", modifier::exact},
    {"contains", modifier::contains},
    {"text", modifier::text},
    {"not", modifier::not_},
    {"above", modifier::above},
    {"below", modifier::below},
    {"in", modifier::in},
    {"not-in", modifier::not_in},
    {"of-type", modifier::of_type},
    {"identifier", modifier::identifier},
}};

constexpr std::array<std::pair<std::string_view, prefix>, 9> prefix_names{{
    {"eq", prefix::eq}, {"ne", prefix::ne}, {"gt", prefix::gt}, {"lt", prefix::lt}, {"ge", prefix::ge},
    {"le", prefix::le}, {"sa", prefix::sa}, {"eb", prefix::eb}, {"ap", prefix::ap},
}};

// How far a forward chain (`subject.organization.partof.name`) or nested _has may reach: each hop is a
// nested subquery, and a search names its path explicitly; no real query needs more.
constexpr std::size_t max_chain_depth = 4;
constexpr std::size_t max_has_depth = 4;
// A chain without `:Type` follows every target type at each hop, one subquery per path of types: the
// hops after the first may multiply the first's types by at most this.
constexpr std::size_t max_chain_paths = 64;
constexpr std::size_t max_above_uri = 1024;
constexpr std::ptrdiff_t max_above_slashes = 64;
constexpr std::size_t max_above_values = 100;
// Values a search may OR in one parameter, and hold in all (local terminology expands :in and :below to
// at most 5,000 codes each, which count): bounded so a long query is a 400 before it costs much. The
// store refuses, as a 400 too, a statement over SQLite's own limits (search_executor.cpp).
constexpr std::size_t max_values_per_parameter = 1000;
constexpr std::size_t max_values_per_search = 20000;
// Each parameter is a clause of the statement, each include a query per page, each sort key a column
// (and a term of every page's keyset condition).
constexpr std::size_t max_clauses = 100;
constexpr std::size_t max_includes = 50;
constexpr std::size_t max_sort_keys = 8;
// Words of a _text or _content value, each a LIKE over the resource's text.
constexpr std::size_t max_text_words = 32;

// Parameters the server handles elsewhere (formatting, paging): neither clauses nor "ignored".
bool is_handled_elsewhere(std::string_view name) {
  return name == "_format" || name == "_pretty" || name == "_page_token" || name == "_type";
}

fhir::error bad(std::string_view name, std::string message) {
  return fhir::error(error_kind::invalid, issue_type::invalid, std::move(message), "search-parameter-invalid",
                     std::string(name));
}

// Which modifiers each parameter type accepts (search.html#modifiers).
bool modifier_allowed(param_type type, modifier m) {
  switch (m) {
    case modifier::none:
    case modifier::missing: return true;
    case modifier::exact:
    case modifier::contains: return type == param_type::string;
    case modifier::text:
    case modifier::not_:
    case modifier::in:
    case modifier::not_in:
    case modifier::of_type: return type == param_type::token;
    case modifier::above:
    case modifier::below: return type == param_type::uri || type == param_type::token || type == param_type::reference;
    case modifier::identifier:
    case modifier::type: return type == param_type::reference;
  }
  return false;
}

std::pair<prefix, std::string_view> split_prefix(std::string_view value) {
  if (value.size() > 2)
    for (const auto& [name, p] : prefix_names)
      if (value.starts_with(name)) {
        char next = value[2];
        if ((next >= '0' && next <= '9') || next == '-' || next == '.' || next == '+') return {p, value.substr(2)};
      }
  return {prefix::eq, value};
}

// Splits on unescaped `separator`, keeping every escape: the pieces may be split again.
std::vector<std::string> split_raw(std::string_view value, char separator) {
  std::vector<std::string> out(1);
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) {
      out.back() += value[i];
      out.back() += value[++i];
    } else if (value[i] == separator) {
      out.emplace_back();
    } else {
      out.back() += value[i];
    }
  }
  return out;
}

std::string unescape(std::string_view value) {
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size() &&
        (value[i + 1] == ',' || value[i + 1] == '|' || value[i + 1] == '$' || value[i + 1] == '\\'))
      ++i;
    out += value[i];
  }
  return out;
}

}  // namespace

std::string escape_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ',' || c == '|' || c == '$' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

namespace {

class query_parser {
 public:
  query_parser(const search_parameters& params, const parse_options& options) : params_(params), options_(options) {}

  result<search_query> parse(std::string_view type, const std::vector<std::pair<std::string, std::string>>& query) {
    if (!type.empty()) q_.types.emplace_back(type);
    for (const auto& [name, value] : query)
      if (name == "_type")
        for (const std::string& t : split_escaped(value, ',')) {
          if (!params_.definitions().is_resource_type(t)) return bad("_type", fmt::format("'{}' is not a resource type", t));
          if (type.empty() && std::find(q_.types.begin(), q_.types.end(), t) == q_.types.end()) q_.types.push_back(t);
        }
    for (const auto& [name, value] : query)
      if (auto done = parameter(name, value); !done) return std::move(done).error();
    if (q_.clauses.size() > max_clauses || q_.includes.size() > max_includes || q_.sort.size() > max_sort_keys)
      return bad("", fmt::format("The search is too large: {} parameters, {} includes and {} sort keys (at most {}, {} and {})",
                                 q_.clauses.size(), q_.includes.size(), q_.sort.size(), max_clauses, max_includes, max_sort_keys));
    if (auto ok = check_contained(); !ok) return std::move(ok).error();
    return std::move(q_);
  }

 private:
  // The type whose parameters a clause's first step names: the search's type, or the first of a
  // system search's types (common parameters such as _lastUpdated or _tag are the same on all).
  std::string_view context_type() const { return q_.types.empty() ? std::string_view("Resource") : std::string_view(q_.types.front()); }

  const search_parameter* lookup(std::string_view type, std::string_view code) const {
    // A system search without _type: only the parameters of Resource and DomainResource, which every
    // type has (their codes start with '_'); Basic stands for any type.
    if (type == "Resource") return code.starts_with('_') ? params_.find("Basic", code) : nullptr;
    return params_.find(type, code);
  }

  result<done> ignore(std::string_view name, std::string why) {
    if (options_.strict)
      return fhir::error(error_kind::invalid, issue_type::not_supported, std::move(why), "search-parameter-unknown", std::string(name));
    q_.ignored.emplace_back(name);
    return done{};
  }

  result<done> parameter(const std::string& name, const std::string& value) {
    if (is_handled_elsewhere(name)) return done{};
    if (name == "_count") return count(value);
    if (name == "_sort") return sort(value);
    if (name == "_total") return total(value);
    if (name == "_summary") return summary(value);
    if (name == "_elements") {
      for (std::string& e : split_escaped(value, ',')) q_.elements.push_back(std::move(e));
      return done{};
    }
    if (name == "_contained") {
      if (options_.containers || value == "false") return contained(value);
      return bad(name, "_contained is not supported here: it applies to a search's results only");
    }
    if (name == "_containedType") {
      static constexpr std::array<std::pair<std::string_view, bool>, 2> shapes{{{"container", false}, {"contained", true}}};
      return one_of("_containedType", value, shapes, q_.contained_alone);
    }
    if (name.starts_with("_include") || name.starts_with("_revinclude")) return include_parameter(name, value);
    if (name.starts_with("_has:")) return has(name, value);
    return clause_parameter(name, value);
  }

  result<done> contained(const std::string& value) {
    static constexpr std::array<std::pair<std::string_view, contained_mode>, 3> modes{
        {{"false", contained_mode::off}, {"true", contained_mode::only}, {"both", contained_mode::both}}};
    return one_of("_contained", value, modes, q_.contained);
  }

  // `value` as one of a result parameter's fixed values (`choices`, listed in that order when it is not).
  template <typename E, std::size_t N>
  static result<done> one_of(std::string_view name, std::string_view value, const std::array<std::pair<std::string_view, E>, N>& choices,
                             E& out) {
    std::string listed;
    for (std::size_t i = 0; i < N; ++i) {
      if (choices[i].first == value) {
        out = choices[i].second;
        return done{};
      }
      listed += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(choices[i].first);
    }
    return bad(name, fmt::format("{} must be {}, not '{}'", name, listed, value));
  }

  // With _contained the results are containers of any type: what is defined on the searched type alone
  // (its sort parameters, includes, reverse chains) has no meaning for them.
  result<done> check_contained() const {
    if (q_.contained == contained_mode::off) return done{};
    auto refuse = [](std::string_view what) {
      return bad("_contained", fmt::format("_contained=true or both cannot be combined with {}: the results are the containers", what));
    };
    if (!q_.includes.empty()) return refuse("_include or _revinclude");
    for (const clause& c : q_.clauses) {
      if (!c.has.empty() || !c.chain.empty()) return refuse("chained parameters or _has");
      // Contained resources have no narrative or text rows of their own, and no lastUpdated (dom-4).
      if (c.special == "_lastUpdated" || (c.parameter && c.parameter->full_text)) return refuse(c.name);
    }
    for (const sort_key& k : q_.sort)
      if (k.code != "_id" && k.code != "_lastUpdated") return refuse("_sort other than _id and _lastUpdated");
    return done{};
  }

  result<done> count(const std::string& value) {
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size())
      return bad("_count", fmt::format("_count must be a whole number, not '{}'", value));
    q_.count = n;
    return done{};
  }

  result<done> total(const std::string& value) {
    static constexpr std::array<std::pair<std::string_view, total_mode>, 3> modes{
        {{"none", total_mode::none}, {"estimate", total_mode::estimate}, {"accurate", total_mode::accurate}}};
    return one_of("_total", value, modes, q_.total);
  }

  result<done> summary(const std::string& value) {
    static constexpr std::array<std::pair<std::string_view, summary_mode>, 5> modes{{{"true", summary_mode::true_},
                                                                                    {"false", summary_mode::false_},
                                                                                    {"count", summary_mode::count},
                                                                                    {"data", summary_mode::data},
                                                                                    {"text", summary_mode::text}}};
    return one_of("_summary", value, modes, q_.summary);
  }

  result<done> sort(const std::string& value) {
    for (const std::string& key : split_escaped(value, ',')) {
      sort_key k;
      std::string_view code = key;
      if (code.starts_with('-')) {
        k.descending = true;
        code.remove_prefix(1);
      }
      k.code = code;
      if (code != "_id" && code != "_lastUpdated") {
        k.parameter = lookup(context_type(), code);
        if (!k.parameter || !k.parameter->searchable() || k.parameter->type == param_type::composite ||
            k.parameter->type == param_type::special || k.parameter->full_text)
          return bad("_sort", fmt::format("Cannot sort by '{}': it is not a search parameter of {} this server indexes", code,
                                          context_type()));
      }
      q_.sort.push_back(std::move(k));
    }
    return done{};
  }

  result<done> include_parameter(const std::string& name, const std::string& value) {
    include inc;
    inc.reverse = name.starts_with("_revinclude");
    std::string_view rest = std::string_view(name).substr(inc.reverse ? 11 : 8);
    if (rest == ":iterate" || rest == ":recurse") inc.iterate = true;
    else if (!rest.empty()) return bad(name, fmt::format("Unknown modifier on {}", name));
    inc.raw = value;
    if (value == "*") {
      inc.wildcard = true;
      inc.source_type = "*";
      q_.includes.push_back(std::move(inc));
      return done{};
    }
    auto parts = split_escaped(value, ':');
    if (parts.size() < 2 || parts.size() > 3)
      return bad(name, fmt::format("{} must be Type:parameter[:targetType] or *, not '{}'", name, value));
    inc.source_type = parts[0];
    if (!params_.definitions().is_resource_type(inc.source_type))
      return bad(name, fmt::format("'{}' in {}={} is not a resource type", parts[0], name, value));
    if (parts[1] == "*") {
      inc.wildcard = true;
    } else {
      inc.parameter = params_.find(inc.source_type, parts[1]);
      if (!inc.parameter || inc.parameter->type != param_type::reference)
        return bad(name, fmt::format("'{}' is not a reference search parameter of {}", parts[1], inc.source_type));
    }
    if (parts.size() == 3) {
      if (!params_.definitions().is_resource_type(parts[2]))
        return bad(name, fmt::format("'{}' in {}={} is not a resource type", parts[2], name, value));
      inc.target_type = parts[2];
    }
    q_.includes.push_back(std::move(inc));
    return done{};
  }

  // _has:Type:reference:parameter=value; the parameter may carry a modifier, or be another _has (nested:
  // _has:Observation:subject:_has:Provenance:target:agent=x).
  result<done> has(const std::string& name, const std::string& value) {
    clause c;
    std::string_view rest = std::string_view(name);
    while (rest.starts_with("_has:")) {
      auto parts = split_escaped(rest.substr(5), ':');
      if (parts.size() < 3)
        return bad(name, fmt::format("{} must be _has:Type:reference:parameter", name));
      if (!params_.definitions().is_resource_type(parts[0]))
        return bad(name, fmt::format("'{}' in {} is not a resource type", parts[0], name));
      const search_parameter* reference = params_.find(parts[0], parts[1]);
      if (!reference || reference->type != param_type::reference)
        return bad(name, fmt::format("'{}' is not a reference search parameter of {}", parts[1], parts[0]));
      if (c.has.size() == max_has_depth)
        return bad(name, fmt::format("{} nests _has more than {} deep", name, max_has_depth));
      c.has.push_back(reverse_chain{parts[0], reference});
      // What follows `_has:Type:reference:` (the two names hold no escaped colon: both were checked).
      rest = rest.substr(5 + parts[0].size() + 1 + parts[1].size() + 1);
    }
    auto done = final_step(c, c.has.back().source_type, rest, name, value);
    if (!done) return done;
    if (c.name.empty()) return done;  // ignored
    c.name = name;
    q_.clauses.push_back(std::move(c));
    return fhir::done{};
  }

  result<done> clause_parameter(const std::string& name, const std::string& value) {
    clause c;
    std::vector<std::string_view> steps;
    for (std::size_t start = 0;;) {
      std::size_t dot = name.find('.', start);
      steps.push_back(std::string_view(name).substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (steps.size() - 1 > max_chain_depth)
      return bad(name, fmt::format("{} chains more than {} references", name, max_chain_depth));
    std::string type(context_type());
    std::size_t paths = 1;
    for (std::size_t i = 0; i + 1 < steps.size(); ++i) {
      std::string_view step = steps[i];
      std::string_view code = step.substr(0, step.find(':'));
      std::string_view target = step.find(':') == std::string_view::npos ? std::string_view() : step.substr(step.find(':') + 1);
      const search_parameter* p = lookup(type, code);
      if (!p) return ignore(name, fmt::format("Unknown search parameter '{}' for {} in '{}'", code, type, name));
      if (p->type != param_type::reference) return bad(name, fmt::format("'{}' of {} is not a reference, so it cannot be chained", code, type));
      chain_link link{p, {}};
      if (!target.empty()) {
        if (!params_.definitions().is_resource_type(target))
          return bad(name, fmt::format("'{}' in '{}' is not a resource type", target, name));
        if (auto refused = refuse_foreign_target(*p, type, target, name)) return std::move(*refused);
        link.target_types.emplace_back(target);
      } else {
        // Without a type, the chain follows every target type that has the next parameter.
        std::string_view next = steps[i + 1].substr(0, steps[i + 1].find(':'));
        for (const std::string& t : p->targets)
          if (params_.find(t, next) || next == "_id" || next == "_lastUpdated") link.target_types.push_back(t);
        if (link.target_types.empty())
          return ignore(name, fmt::format("No target of {}.{} has a search parameter '{}'", type, code, next));
      }
      if (i > 0) paths *= link.target_types.size();
      if (paths > max_chain_paths)
        return bad(name, fmt::format("{} reaches too many combinations of resource types: name them with ':Type' (e.g. subject:Patient.name)", name));
      type = link.target_types.front();
      c.chain.push_back(std::move(link));
    }
    auto done = final_step(c, type, steps.back(), name, value);
    if (!done || c.name.empty()) return done;
    c.name = name;
    q_.clauses.push_back(std::move(c));
    return fhir::done{};
  }

  // `subject:Medication` on Observation: a type the parameter cannot point at matches nothing, ever; a
  // 400 says so rather than an empty page that reads as "no such data".
  std::optional<fhir::error> refuse_foreign_target(const search_parameter& p, std::string_view type, std::string_view target,
                                             std::string_view name) {
    if (p.targets.empty() || std::find(p.targets.begin(), p.targets.end(), target) != p.targets.end()) return std::nullopt;
    return bad(name, fmt::format("{}.{} cannot refer to a {} (its targets: {})", type, p.code, target, fmt::join(p.targets, ", ")));
  }

  // The last step of a parameter name, `code[:modifier]`, on `type`: fills the clause and its values.
  // Leaves c.name empty when the parameter is ignored.
  result<done> final_step(clause& c, const std::string& type, std::string_view step, const std::string& name,
                          const std::string& value) {
    std::string_view code = step.substr(0, step.find(':'));
    std::string_view modifier_text = step.find(':') == std::string_view::npos ? std::string_view() : step.substr(step.find(':') + 1);
    c.type = type;
    c.raw_value = value;
    param_type ptype;
    if (code == "_id") {
      c.special = code;
      ptype = param_type::token;
    } else if (code == "_lastUpdated") {
      c.special = code;
      ptype = param_type::date;
    } else {
      c.parameter = lookup(type, code);
      if (!c.parameter) return ignore(name, fmt::format("Unknown search parameter '{}' for {}", code, type));
      if (!c.parameter->searchable())
        return ignore(name, fmt::format("The search parameter '{}' is not supported by this server", code));
      ptype = c.parameter->type;
    }
    if (!modifier_text.empty()) {
      bool known = false;
      for (const auto& [text, m] : modifier_names)
        if (text == modifier_text) c.modifier = m, known = true;
      if (!known && ptype == param_type::reference && params_.definitions().is_resource_type(modifier_text)) {
        if (auto refused = refuse_foreign_target(*c.parameter, type, modifier_text, name)) return std::move(*refused);
        c.modifier = modifier::type;
        c.modifier_type = modifier_text;
        known = true;
      }
      if (!known) return bad(name, fmt::format("Unknown modifier ':{}' on '{}'", modifier_text, code));
      if (!modifier_allowed(ptype, c.modifier))
        return bad(name, fmt::format("The modifier ':{}' does not apply to {} parameter '{}'", modifier_text, to_string(ptype), code));
      // _id and _lastUpdated are columns of the resource, not indexed values: only :missing and :not.
      if (!c.special.empty() && c.modifier != modifier::missing && c.modifier != modifier::not_)
        return bad(name, fmt::format("The modifier ':{}' is not supported on '{}'", modifier_text, code));
      bool terminology_modifier = c.modifier == modifier::in || c.modifier == modifier::not_in ||
                                  (ptype == param_type::token && (c.modifier == modifier::above || c.modifier == modifier::below));
      if (terminology_modifier && options_.terminology) return expand_terminology(c, name, value);
      if (terminology_modifier || ((c.modifier == modifier::above || c.modifier == modifier::below) && ptype != param_type::uri))
        return ignore(name, fmt::format("The modifier ':{}' is not supported yet", modifier_text));
    }
    std::vector<std::string> values = split_raw(value, ',');
    std::size_t max_values = c.modifier == modifier::above ? max_above_values : max_values_per_parameter;
    if (values.size() > max_values)
      return bad(name, fmt::format("{} has {} values; at most {} may be ORed", name, values.size(), max_values));
    if (auto counted = count_values(name, values.size()); !counted) return counted;
    values_ += values.size();
    for (const std::string& v : values) {
      auto parsed = parse_value(ptype, c, v, name);
      if (!parsed) return std::move(parsed).error();
      c.values.push_back(std::move(*parsed));
    }
    if (c.values.empty()) return bad(name, fmt::format("'{}' has no value", name));
    c.name = name;
    return done{};
  }

  // :in / :not-in (value sets) and :below / :above on tokens (code system hierarchies), answered from
  // local terminology: the clause becomes the list of codes, so the store sees a plain token clause
  // (:not-in a :not clause). A value set or code the server cannot expand is a 400, not a guess.
  result<done> expand_terminology(clause& c, const std::string& name, const std::string& value) {
    constexpr std::size_t max_codes = 5000;
    bool value_sets = c.modifier == modifier::in || c.modifier == modifier::not_in;
    bool below = c.modifier == modifier::below;
    for (const std::string& v : split_escaped(value, ',')) {
      if (auto counted = count_values(name, c.values.size()); !counted) return counted;
      if (value_sets) {
        auto codes = options_.terminology->enumerate(v, max_codes);
        if (!codes)
          return bad(name, fmt::format("The value set '{}' is not known here, or cannot be expanded without a terminology "
                                       "server, or has more than {} codes", v, max_codes));
        for (auto& [system, code] : *codes)
          c.values.push_back(search_value{.text = code, .system = system, .has_system = true, .system_or_none = true});
        continue;
      }
      auto parts = split_escaped(v, '|');
      if (parts.size() != 2 || parts[0].empty() || parts[1].empty())
        return bad(name, fmt::format("'{}' must be system|code for a hierarchy search", v));
      auto codes = options_.terminology->hierarchy(parts[0], parts[1], below);
      if (!codes)
        return bad(name, fmt::format("The code '{}' of '{}' is not known here (its hierarchy needs a terminology server)",
                                     parts[1], parts[0]));
      for (auto& code : *codes)
        c.values.push_back(search_value{.text = code, .system = parts[0], .has_system = true, .system_or_none = true});
    }
    c.modifier = c.modifier == modifier::not_in ? modifier::not_ : modifier::none;
    // An empty expansion matches nothing (:in) or everything (:not-in): a value that cannot match.
    if (c.values.empty()) c.values.push_back(search_value{.text = "\x01", .system = "", .has_system = true});
    if (auto counted = count_values(name, c.values.size()); !counted) return counted;
    values_ += c.values.size();
    c.name = name;
    return done{};
  }

  // Fails when the values parsed so far and `more` exceed what a search may bind in all.
  result<done> count_values(const std::string& name, std::size_t more) const {
    if (values_ + more > max_values_per_search)
      return bad(name, fmt::format("The search has more than {} values in all (local value sets and hierarchies count their codes)",
                                   max_values_per_search));
    return done{};
  }

  result<search_value> parse_value(param_type type, const clause& c, const std::string& text, const std::string& name) {
    search_value v;
    if (c.modifier == modifier::missing) {
      if (text != "true" && text != "false") return bad(name, fmt::format(":missing takes true or false, not '{}'", text));
      v.missing = text == "true";
      return v;
    }
    if (text.empty()) return bad(name, fmt::format("'{}' has an empty value", name));
    switch (type) {
      case param_type::string:
        v.text = unescape(text);
        if (c.parameter && c.parameter->full_text) {
          std::size_t words = 0;
          for (std::size_t i = 0; i < v.text.size(); ++i) words += v.text[i] != ' ' && (i == 0 || v.text[i - 1] == ' ');
          if (words > max_text_words) return bad(name, fmt::format("'{}' has more than {} words", name, max_text_words));
        }
        return v;
      case param_type::uri:
        v.text = unescape(text);
        // :above seeks each path of the value: bounds on its length and depth bound the statement.
        if (c.modifier == modifier::above &&
            (v.text.size() > max_above_uri || std::count(v.text.begin(), v.text.end(), '/') > max_above_slashes))
          return bad(name, fmt::format("'{}' is longer than :above accepts ({} characters, {} '/')", name, max_above_uri,
                                       max_above_slashes));
        return v;
      case param_type::token: return token_value(c, text, name);
      case param_type::reference: return reference_value(c, text, name);
      case param_type::date: {
        auto [p, rest] = split_prefix(text);
        auto range = parse_date_range(rest);
        if (!range) return bad(name, fmt::format("'{}' is not a date, dateTime or instant (with an optional prefix: eq, ne, gt, lt, ge, le, sa, eb, ap)", text));
        v.prefix = p;
        v.low = range->low;
        v.high = range->high;
        return v;
      }
      case param_type::number:
      case param_type::quantity: {
        auto [p, rest] = split_prefix(text);
        v.prefix = p;
        auto parts = split_escaped(std::string(rest), '|');
        if (parts.empty() || (type == param_type::number && parts.size() != 1) || parts.size() > 3)
          return bad(name, fmt::format("'{}' is not a valid {} value", text, to_string(type)));
        auto range = parse_number_range(parts[0]);
        if (!range) return bad(name, fmt::format("'{}' is not a number (with an optional prefix: eq, ne, gt, lt, ge, le, sa, eb, ap)", text));
        v.number = range->value;
        v.number_low = range->low;
        v.number_high = range->high;
        if (parts.size() >= 2) v.system = parts[1], v.has_system = !parts[1].empty();
        if (parts.size() == 3) v.code = parts[2];
        return v;
      }
      case param_type::composite: return composite_value(c, text, name);
      case param_type::special:
        if (c.parameter && c.parameter->position) return near(text, name);
        break;
    }
    return bad(name, "Unsupported parameter type");
  }

  // `latitude|longitude|distance|units` (Location.near): degrees; the distance in km unless units
  // (UCUM: km, m, [mi_i], [nmi_i]) say otherwise; without a distance, default_near_km.
  result<search_value> near(const std::string& text, const std::string& name) {
    auto parts = split_escaped(text, '|');
    auto decimal = [](const std::string& s) -> std::optional<double> {
      auto n = parse_number_range(s);
      return n ? std::optional(n->value) : std::nullopt;
    };
    auto fail = [&] {
      return bad(name, fmt::format("'{}' must be latitude|longitude|distance|units (degrees, a distance of at least 0, units km, m, "
                                   "[mi_i] or [nmi_i]; distance and units optional)", text));
    };
    if (parts.size() < 2 || parts.size() > 4) return fail();
    auto latitude = decimal(parts[0]);
    auto longitude = decimal(parts[1]);
    if (!latitude || !longitude || std::fabs(*latitude) > 90 || std::fabs(*longitude) > 180) return fail();
    search_value v;
    v.near.latitude = *latitude;
    v.near.longitude = *longitude;
    if (parts.size() >= 3 && !parts[2].empty()) {
      auto distance = decimal(parts[2]);
      auto per_unit = km_per_unit(parts.size() == 4 ? std::string_view(parts[3]) : std::string_view());
      if (!distance || *distance < 0 || !per_unit) return fail();
      v.near.distance_km = *distance * *per_unit;
    }
    return v;
  }

  // "system|code$value" (or three parts): each parsed by its component's parameter (prefixes apply to
  // the components after the first).
  result<search_value> composite_value(const clause& c, const std::string& text, const std::string& name) {
    auto parts = split_raw(text, '$');
    std::size_t count = c.parameter->components.size();
    if (parts.size() != count)
      return bad(name, count == 3 ? fmt::format("'{}' must have three parts joined by '$' (e.g. code$value$value)", text)
                                  : fmt::format("'{}' must have two parts joined by '$' (e.g. code$value)", text));
    search_value v;
    for (std::size_t i = 0; i < count; ++i) {
      const search_parameter& component = *c.parameter->components[i].parameter;
      clause inner;
      inner.parameter = &component;
      auto part = parse_value(component.type, inner, parts[i], name);
      if (!part) return std::move(part).error();
      v.components.push_back(std::move(*part));
    }
    return v;
  }

  result<search_value> token_value(const clause& c, const std::string& text, const std::string& name) {
    search_value v;
    if (c.modifier == modifier::text) {
      v.text = unescape(text);
      return v;
    }
    auto parts = split_escaped(text, '|');
    if (c.modifier == modifier::of_type) {
      if (parts.size() != 3) return bad(name, fmt::format(":of-type takes system|code|value, not '{}'", text));
      v.system = parts[0];
      v.code = parts[1];
      v.text = parts[2];
      v.has_system = true;
      return v;
    }
    if (parts.size() == 1) {
      v.text = parts[0];
    } else if (parts.size() == 2) {
      v.has_system = true;
      v.system = parts[0];
      v.text = parts[1];
    } else {
      return bad(name, fmt::format("'{}' is not a token: use code, system|code, |code or system|", text));
    }
    return v;
  }

  result<search_value> reference_value(const clause& c, const std::string& text, std::string_view name) {
    search_value v;
    if (c.modifier == modifier::identifier) {
      auto parts = split_escaped(text, '|');
      if (parts.size() == 2) v.has_system = true, v.system = parts[0], v.text = parts[1];
      else v.text = text;
      return v;
    }
    using stored = search_parameter::own_base_urls;
    stored by = c.parameter ? c.parameter->urls : stored::type_id;
    // A canonical's "|version" (search.html#versions): the index keeps canonicals without their version,
    // so a versioned value finds the references to that canonical whatever version they name.
    std::string plain = by == stored::type_id ? unescape(text) : split_escaped(text, '|').front();
    reference_parts parts = split_reference(plain);
    auto local = parts.absolute ? local_target_of(plain, options_.local_bases) : std::nullopt;
    bool by_type_id = local && by != stored::url;
    // `subject:Group=Patient/p1`: the modifier and the value name different types; nothing can match both.
    // (A URL's path need not name a type: `https://example.org/Forms/phq9` is no Forms resource.)
    std::string_view value_type = local ? std::string_view(local->type) : parts.type;
    bool names_a_type = !value_type.empty() && (!parts.absolute || params_.definitions().is_resource_type(value_type));
    if (c.modifier == modifier::type && names_a_type && value_type != c.modifier_type)
      return bad(name, fmt::format("'{}' names a {}, but ':{}' asks for a {}", plain, value_type, c.modifier_type, c.modifier_type));
    // A canonical is stored as written, by URL: one of ours may be written under the base URL or
    // relative (not conformant, but not refused), so both spellings are matched.
    bool ours = local || (!parts.absolute && !parts.type.empty());
    if (by == stored::url && ours && !options_.local_bases.empty()) {
      std::string_view base = options_.local_bases.front();
      while (base.ends_with('/')) base.remove_suffix(1);
      v.url = local ? local->type + "/" + local->id : std::string(parts.type) + "/" + std::string(parts.id);
      v.text = std::string(base) + "/" + v.url;
      return v;
    }
    if (by_type_id) {
      v.target_type = local->type;
      v.text = local->id;
      if (by == stored::type_id_or_url) v.url = plain;
    } else if (parts.absolute) {  // another server's, or a canonical under ours: by URL
      v.text = plain;  // matched against the stored URL
      v.target_type = parts.type;
      v.code = parts.id;
    } else if (!parts.type.empty()) {
      v.target_type = parts.type;
      v.text = parts.id;
    } else {
      v.text = plain;  // a bare id: any target type (or the :[type] modifier's)
      v.target_type = c.modifier_type;
    }
    // No resource's id has a '#': "#m1" names a resource contained in each container, stored only so
    // that chains continue inside it.
    if ((!parts.absolute || by_type_id) && v.text.find('#') != std::string::npos)
      return bad(name, fmt::format("'{}' is a local reference to a contained resource; search inside contained resources "
                                         "with a chain (e.g. subject.name=...)", plain));
    return v;
  }

  const search_parameters& params_;
  const parse_options& options_;
  search_query q_;
  std::size_t values_ = 0;  // values of the clauses so far, expanded codes included
};

}  // namespace

result<search_query> parse_query(const search_parameters& parameters, std::string_view type,
                                 const std::vector<std::pair<std::string, std::string>>& query, const parse_options& options) {
  return query_parser(parameters, options).parse(type, query);
}

std::vector<std::string> split_escaped(std::string_view value, char separator) {
  std::vector<std::string> out = split_raw(value, separator);
  for (std::string& piece : out) piece = unescape(piece);
  return out;
}

std::string_view to_string(modifier m) {
  if (m == modifier::none) return "";
  if (m == modifier::type) return "[type]";
  for (const auto& [name, value] : modifier_names)
    if (value == m) return name;
  return "";
}

}  // namespace fhir::search
