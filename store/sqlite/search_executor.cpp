#include "store/sqlite/search_executor.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <limits>
#include <set>
#include <variant>

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/search/normalize.hpp"
#include "fhir/time.hpp"
#include "store/sqlite/page_token.hpp"
#include "store/sqlite/sql_text.hpp"

namespace store::sqlite {

namespace {

using fhir::search::clause;
using fhir::search::modifier;
using fhir::search::param_type;
using fhir::search::prefix;
using fhir::search::search_parameter;
using fhir::search::search_value;

constexpr std::size_t probe_cap = 500;        // rows counted when estimating a clause's selectivity
constexpr std::size_t max_included = 1000;    // included resources per page
constexpr int max_include_rounds = 4;         // :iterate levels
// The clauses of one search, in bound values and SQL text (a page's statement holds each at most twice;
// SQLite's limits here: 250,000 variables, 1 GB of text).
constexpr std::size_t max_statement_binds = 100000;
constexpr std::size_t max_statement_bytes = 8 << 20;

fhir::error invalid(std::string message, std::string id = "search-invalid") {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, std::move(message), std::move(id));
}

std::string_view table_of(param_type type);

// The index table a clause's final parameter lives in.
std::string_view table_for(const clause& c) {
  if (c.parameter && c.parameter->full_text) return "ix_text";
  if (c.parameter && c.parameter->type == param_type::reference && c.modifier == modifier::identifier) return "ix_token";
  return table_of(c.parameter ? c.parameter->type : param_type::token);
}

std::string_view table_of(param_type type) {
  switch (type) {
    case param_type::string: return "ix_string";
    case param_type::token: return "ix_token";
    case param_type::date: return "ix_date";
    case param_type::number: return "ix_number";
    case param_type::quantity: return "ix_quantity";
    case param_type::reference: return "ix_reference";
    case param_type::uri: return "ix_uri";
    case param_type::composite: return "ix_composite";
    case param_type::special: return "ix_position";  // only position parameters are searchable specials
    default: return "";
  }
}

std::string like_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// search.html#prefix on ranges: the resource's range [lo, hi) against the value's range [plo, phi).
void range_predicate(sql& q, std::string_view lo, std::string_view hi, prefix p, sql_value plo, sql_value phi,
                     sql_value approx_lo, sql_value approx_hi) {
  auto col = [&](std::string_view c) { q << c; };
  // Each form bounds lo or hi on its own too, so an index on (param_id, lo) or (param_id, hi) can seek.
  switch (p) {
    case prefix::eq:
      col(lo), q << " >= ", q.bind(plo), q << " AND ", col(lo), q << " < ", q.bind(phi), q << " AND ", col(hi), q << " <= ", q.bind(phi);
      break;
    case prefix::ne: q << "NOT (", col(lo), q << " >= ", q.bind(plo), q << " AND ", col(hi), q << " <= ", q.bind(phi), q << ")"; break;
    case prefix::gt: col(hi), q << " > ", q.bind(phi); break;
    case prefix::lt: col(lo), q << " < ", q.bind(plo); break;
    case prefix::ge:  // after the value, or within it: hi > phi, or lo >= plo (and then hi > plo)
      col(hi), q << " > ", q.bind(plo), q << " AND (", col(hi), q << " > ", q.bind(phi), q << " OR ", col(lo), q << " >= ", q.bind(plo),
          q << ")";
      break;
    case prefix::le:  // before the value, or within it: lo < plo, or hi <= phi (and then lo < phi)
      col(lo), q << " < ", q.bind(phi), q << " AND (", col(lo), q << " < ", q.bind(plo), q << " OR ", col(hi), q << " <= ", q.bind(phi),
          q << ")";
      break;
    case prefix::sa: col(lo), q << " >= ", q.bind(phi); break;
    case prefix::eb: col(hi), q << " <= ", q.bind(plo); break;
    case prefix::ap: col(lo), q << " < ", q.bind(approx_hi), q << " AND ", col(hi), q << " > ", q.bind(approx_lo); break;
  }
}

// search.html#number: the resource's value against the value's implicit range.
void number_predicate(sql& q, std::string_view column, const search_value& v) {
  auto c = [&] { q << column; };
  double margin = std::abs(v.number) * 0.1;
  switch (v.prefix) {
    case prefix::eq: c(), q << " >= ", q.bind(v.number_low), q << " AND ", c(), q << " < ", q.bind(v.number_high); break;
    case prefix::ne: q << "NOT (", c(), q << " >= ", q.bind(v.number_low), q << " AND ", c(), q << " < ", q.bind(v.number_high), q << ")"; break;
    case prefix::gt:
    case prefix::sa: c(), q << " > ", q.bind(v.number); break;
    case prefix::lt:
    case prefix::eb: c(), q << " < ", q.bind(v.number); break;
    case prefix::ge: c(), q << " >= ", q.bind(v.number); break;
    case prefix::le: c(), q << " <= ", q.bind(v.number); break;
    case prefix::ap: c(), q << " BETWEEN ", q.bind(v.number - margin), q << " AND ", q.bind(v.number + margin); break;
  }
}

class search_run {
 public:
  search_run(database& db, const param_ids& params, const type_table& types, const search_request& request)
      : db_(db), params_(params), types_(types), request_(request), query_(request.query) {}

  fhir::result<search_page> run() {
    if (auto ok = resolve_types(); !ok) return std::move(ok).error();
    auto position = decode_position();
    if (!position) return std::move(position).error();
    page_position pos = std::move(*position);
    if (pos.max_pk == 0) pos.max_pk = highest_pk();

    const bool containers = query_.contained != fhir::search::contained_mode::off;
    if (containers && query_.compartment)
      return invalid("_contained cannot be combined with a compartment search", "search-parameter-invalid");
    if (query_.compartment) {
      clause_sets_.push_back(compartment_set(*query_.compartment));
      clause_filters_.emplace_back();
    }
    // Clauses repeat per type (a system search, _has, a chain's paths): bounded here, before the
    // statements are assembled and prepared, well inside SQLite's limits.
    std::size_t binds = 0, bytes = 0;
    auto count_size = [&](const sql& q) { binds += q.values.size(), bytes += q.text.size(); };
    std::vector<sql> inside;  // with _contained: each clause over contained resources
    for (const clause& c : query_.clauses) {
      if (containers) count_size(inside.emplace_back(clause_set(c, 0, query_type_ids_, true)));
      if (!containers || query_.contained == fhir::search::contained_mode::both)
        count_size(clause_sets_.emplace_back(clause_set(c, 0, query_type_ids_)));
      if (!containers) {
        clause_filters_.push_back(correlated_filter(c));
        if (clause_filters_.back()) count_size(*clause_filters_.back());
      }
      if (binds > max_statement_binds || bytes > max_statement_bytes)
        return invalid(fmt::format("The search is too large to run here: it needs more than {} values bound across the resource "
                                   "types it reaches; narrow it, e.g. fewer values or ':Type' on chains",
                                   max_statement_binds),
                       "search-too-large");
    }
    std::size_t driver = 0;
    if (containers) {
      use_container_types();
      if (query_.contained_alone) {
        contained_source_ = contained_matches(inside);
        clause_sets_.clear();
        clause_filters_.clear();
      } else {
        clause_sets_ = {containers_set(inside)};
        clause_filters_ = {std::nullopt};
      }
      drive_ = drive::set;
    } else {
      driver = plan_driver();
    }
    const std::vector<sql>& sets = clause_sets_;

    search_page page;
    if (request_.count > 0) {
      if (auto rows = page_rows(sets, driver, pos, page); !rows) return std::move(rows).error();
    }
    if (query_.total != fhir::search::total_mode::none || request_.count == 0) page.total = count_all(sets, driver, pos.max_pk);
    else if (pos.first_page() && page.next_token.empty()) page.total = static_cast<std::int64_t>(page.entries.size());
    add_includes(page);
    return page;
  }

 private:
  // ---- types and parameters ----

  fhir::result<fhir::done> resolve_types() {
    if (query_.types.empty()) {
      for (const auto& [name, id] : types_.ids) query_type_ids_.push_back(id);
      std::sort(query_type_ids_.begin(), query_type_ids_.end());
    } else {
      for (const std::string& t : query_.types) {
        auto it = types_.ids.find(t);
        if (it == types_.ids.end()) return invalid(fmt::format("The store does not hold resources of type '{}'", t), "type-not-stored");
        query_type_ids_.push_back(it->second);
      }
    }
    return fhir::done{};
  }

  // _contained: the types a result may have (the containers'; any when none are named).
  void use_container_types() {
    any_result_type_ = query_.container_types.empty();
    for (const std::string& t : query_.container_types)
      if (auto id = type_id(t)) result_type_ids_.push_back(*id);
    if (!any_result_type_ && result_type_ids_.empty()) result_type_ids_.push_back(0);  // no type: nothing
  }

  // search.html#contained: the contained resources of the searched types that satisfy every clause
  // (`inside`: each clause over contained resources) and, with _contained=both, the resources that do
  // (clause_sets_). `contained_row` and `resource_row` are the columns each kind of match gives:
  // containers_set() their containers' pks; contained_matches() `(container_pk, local_id)` rows.
  sql contained_results(const std::vector<sql>& inside, std::string_view contained_row, std::string_view resource_row,
                        std::string_view union_kind) {
    sql q;
    q << "SELECT " << contained_row << " FROM contained_resource k WHERE ";
    type_condition(q, "k.type_id", query_type_ids_);
    for (const sql& set : inside) {
      q << " AND k.cpk IN (";
      q.append(set);
      q << ")";
    }
    if (query_.contained == fhir::search::contained_mode::both) {
      q << " " << union_kind << " SELECT " << resource_row << " FROM resource t WHERE ";
      type_condition(q, "t.type_id", query_type_ids_);
      q << " AND t.deleted = 0";
      for (const sql& set : clause_sets_) {
        q << " AND t.pk IN (";
        q.append(set);
        q << ")";
      }
    }
    return q;
  }

  sql containers_set(const std::vector<sql>& inside) { return contained_results(inside, "k.container_pk", "t.pk", "UNION"); }

  // _containedType=contained: the rows a page is drawn from; a resource matched itself has no local id.
  sql contained_matches(const std::vector<sql>& inside) {
    return contained_results(inside, "k.container_pk AS container_pk, k.local_id AS local_id", "t.pk, NULL", "UNION ALL");
  }

  std::optional<std::int64_t> type_id(std::string_view name) const {
    auto it = types_.ids.find(std::string(name));
    return it == types_.ids.end() ? std::nullopt : std::optional(it->second);
  }

  // `x.param_id IN (...)` for a parameter code over several types (a system search), or `= ?`; with
  // `contained`, the parameter's ids for resources contained in others (schema 8).
  void param_condition(sql& q, std::string_view alias, const std::vector<std::int64_t>& type_ids, std::string_view code,
                       bool contained = false) {
    std::vector<std::int64_t> ids;
    std::string stored = contained ? contained_code(code) : std::string(code);
    for (std::int64_t t : type_ids)
      for (std::int64_t id : params_.find_all(t, stored)) ids.push_back(id);
    if (ids.empty()) {
      q << "0";  // nobody has it: no row can match
      return;
    }
    q << alias << ".param_id ";
    if (ids.size() == 1) {
      q << "= ";
      q.bind(ids.front());
      return;
    }
    q << "IN (";
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (i) q << ", ";
      q.bind(ids[i]);
    }
    q << ")";
  }

  void type_condition(sql& q, std::string_view column, const std::vector<std::int64_t>& type_ids) {
    if (type_ids.size() == 1) {
      q << column << " = ";
      q.bind(type_ids.front());
      return;
    }
    q << column << " IN (";
    for (std::size_t i = 0; i < type_ids.size(); ++i) {
      if (i) q << ", ";
      q.bind(type_ids[i]);
    }
    q << ")";
  }

  // ---- clauses as sets of resource pks ----

  // The pks of resources of `type_ids` that satisfy clause `c` from chain step `level` on; with
  // `contained`, the cpks of contained resources of those types that do (a chain inside a container).
  sql clause_set(const clause& c, std::size_t level, const std::vector<std::int64_t>& type_ids, bool contained = false) {
    if (!c.has.empty() && level == 0) return has_set(c, 0, type_ids);
    if (level < c.chain.size()) return chain_set(c, level, type_ids, contained);
    return final_set(c, type_ids, contained);
  }

  // One SELECT per target type, joined by UNION ALL: each one seeks (param_id, target_id, target_type)
  // in the target index, where an OR over the types would read every reference of the parameter.
  // A resource's chain also continues inside the resources it contains (search.html#contained: its
  // reference rows name them "#m1"); a contained resource's continues to resources only.
  sql chain_set(const clause& c, std::size_t level, const std::vector<std::int64_t>& type_ids, bool contained) {
    const auto& link = c.chain[level];
    sql q;
    bool inside_only = level == 0 && request_.chains_inside_only;
    for (const std::string& target : link.target_types) {
      auto target_id = type_id(target);
      if (!target_id) continue;
      if (!q.text.empty()) q << " UNION ALL ";
      if (inside_only) {
        q << "SELECT NULL WHERE 0";
      } else {
        q << "SELECT s.res_pk FROM ix_reference s WHERE ";
        param_condition(q, "s", type_ids, link.parameter->code, contained);
        q << " AND s.target_type = ";
        q.bind(target);
        // +t.type_id: the inner set drives (by rowid); the type only filters.
        const sql inner = clause_set(c, level + 1, {*target_id});
        q << " AND s.target_id IN (SELECT t.id FROM resource t WHERE +t.type_id = ";
        q.bind(*target_id);
        q << " AND t.pk IN (";
        q.append(inner);
        q << "))";
        // A canonical (or an absolute URL) names the target whose `url` it is: driven from the matching
        // targets' url rows to the sources' rows by URL (the partial index on (param_id, url)).
        if (auto url = params_.find(*target_id, "url")) {
          q << " UNION ALL SELECT s.res_pk FROM ix_uri u CROSS JOIN ix_reference s ON ";
          param_condition(q, "s", type_ids, link.parameter->code, contained);
          q << " AND s.url = u.uri AND s.url <> '' WHERE u.param_id = ";
          q.bind(*url);
          q << " AND u.res_pk IN (";
          q.append(inner);
          q << ")";
        }
      }
      if (contained || !any_contained(*target_id)) continue;
      // Driven from the matching contained resources to their container's reference row ("#" + id): CROSS
      // JOIN keeps k the outer loop (the planner would otherwise read every row of the parameter).
      q << " UNION ALL SELECT s.res_pk FROM contained_resource k CROSS JOIN ix_reference s ON s.res_pk = k.container_pk AND "
           "s.target_id = '#' || k.local_id WHERE ";
      param_condition(q, "s", type_ids, link.parameter->code);
      q << " AND s.target_type = ";
      q.bind(target);
      q << " AND k.cpk IN (";
      q.append(clause_set(c, level + 1, {*target_id}, true));
      q << ")";
    }
    if (q.text.empty()) q << "SELECT NULL WHERE 0";
    return q;
  }

  // Whether the store holds a resource of this type contained in another: a chain's branch into
  // contained resources is left out when none can match (most types are never contained).
  bool any_contained(std::int64_t type_id) {
    auto [it, fresh] = contained_types_.try_emplace(type_id, false);
    if (fresh) {
      auto st = db_.cached("SELECT 1 FROM contained_resource WHERE type_id = ?1 LIMIT 1");
      st->bind(1, type_id);
      it->second = st->step();
    }
    return it->second;
  }

  static void owner_ids(sql& q, const fhir::search::compartment_filter& f) {
    q.bind(f.owner_id);
    for (const std::string& id : f.linked_ids) {
      q << ", ";
      q.bind(id);
    }
  }

  sql compartment_set(const fhir::search::compartment_filter& f) {
    sql q;
    if (f.owner_is_self) {
      q << "SELECT t.pk FROM resource t WHERE ";
      type_condition(q, "t.type_id", query_type_ids_);
      q << " AND t.id IN (";
      owner_ids(q, f);
      q << ")";
      if (f.codes.empty()) return q;
      q << " UNION ";
    }
    q << "SELECT x.res_pk FROM ix_reference x WHERE (";
    for (std::size_t i = 0; i < f.codes.size(); ++i) {
      if (i) q << " OR ";
      param_condition(q, "x", query_type_ids_, f.codes[i]);
    }
    if (f.codes.empty()) q << "0";
    q << ") AND x.target_id IN (";
    owner_ids(q, f);
    q << ") AND x.target_type = ";
    q.bind(f.owner_type);
    return q;
  }

  // _has:Source:reference:param=value: resources that a matching Source points at. Driven from the
  // matching sources, through their references, to the targets' rows. Link `level` of a nested _has:
  // its sources are the targets of the next link's.
  sql has_set(const clause& c, std::size_t level, const std::vector<std::int64_t>& type_ids) {
    const fhir::search::reverse_chain& link = c.has[level];
    auto source = type_id(link.source_type);
    sql q;
    if (!source) {
      q << "SELECT NULL WHERE 0";
      return q;
    }
    for (std::size_t i = 0; i < type_ids.size(); ++i) {
      auto name = types_.names.find(type_ids[i]);
      if (name == types_.names.end()) continue;
      if (!q.text.empty()) q << " UNION ";
      q << "SELECT t.pk FROM ix_reference s INDEXED BY ix_reference_res JOIN resource t ON t.type_id = ";
      q.bind(type_ids[i]);
      q << " AND t.id = s.target_id WHERE ";
      param_condition(q, "s", {*source}, link.reference->code);
      q << " AND s.target_type = ";
      q.bind(name->second);
      const sql sources = level + 1 < c.has.size() ? has_set(c, level + 1, {*source}) : final_set(c, {*source});
      q << " AND s.res_pk IN (";
      q.append(sources);
      q << ")";
      // Targets a matching source names by URL (a canonical, or an absolute reference): by their `url`.
      if (auto url = params_.find(type_ids[i], "url")) {
        q << " UNION SELECT u.res_pk FROM ix_reference s INDEXED BY ix_reference_res CROSS JOIN ix_uri u ON u.param_id = ";
        q.bind(*url);
        q << " AND u.uri = s.url WHERE ";
        param_condition(q, "s", {*source}, link.reference->code);
        q << " AND s.url <> '' AND s.res_pk IN (";
        q.append(sources);
        q << ")";
      }
    }
    if (q.text.empty()) q << "SELECT NULL WHERE 0";
    return q;
  }

  sql final_set(const clause& c, const std::vector<std::int64_t>& type_ids, bool contained = false) {
    sql q;
    if (contained && (c.special == "_id" || c.special == "_lastUpdated")) return contained_column_set(c, type_ids);
    if (c.special == "_id" || c.special == "_lastUpdated") {
      q << "SELECT t.pk FROM resource t WHERE ";
      type_condition(q, "t.type_id", type_ids);
      q << " AND t.deleted = 0 AND ";
      // Every resource has an id and a lastUpdated: :missing=true matches none, :missing=false all.
      if (c.modifier == modifier::missing) {
        q << (c.values.front().missing ? "0" : "1");
        return q;
      }
      q << (c.modifier == modifier::not_ ? "NOT (" : "(");
      resource_column_values(q, c);
      q << ")";
      return q;
    }
    param_type type = c.parameter->type;
    std::string code = c.parameter->code;
    if (type == param_type::reference && c.modifier == modifier::identifier) {
      type = param_type::token;
      code += ":identifier";
    }
    std::string_view table = table_for(c);
    if (c.modifier == modifier::missing || c.modifier == modifier::not_) {
      // Resources without a (matching) value: the complement, over the live resources of the types.
      bool want_missing = c.modifier == modifier::not_ || c.values.front().missing;
      if (contained) {
        q << "SELECT t.cpk FROM contained_resource t WHERE ";
        type_condition(q, "t.type_id", type_ids);
        q << " AND " << (want_missing ? "NOT " : "") << "EXISTS (SELECT 1 FROM " << table << " x WHERE x.res_pk = t.cpk AND ";
      } else {
        q << "SELECT t.pk FROM resource t WHERE ";
        type_condition(q, "t.type_id", type_ids);
        q << " AND t.deleted = 0 AND " << (want_missing ? "NOT " : "") << "EXISTS (SELECT 1 FROM " << table
          << " x WHERE x.res_pk = t.pk AND ";
      }
      param_condition(q, "x", type_ids, code, contained);
      if (c.modifier == modifier::not_) {
        q << " AND (";
        values_predicate(q, c, type);
        q << ")";
      }
      q << ")";
      return q;
    }
    q << "SELECT x.res_pk FROM " << table << " x WHERE ";
    q.append(index_condition(c, type_ids, contained));
    return q;
  }

  // _id and _lastUpdated of contained resources: the local id; they have no lastUpdated of their own
  // (dom-4), so none matches one, and :missing=true finds all.
  sql contained_column_set(const clause& c, const std::vector<std::int64_t>& type_ids) {
    sql q;
    q << "SELECT k.cpk FROM contained_resource k WHERE ";
    type_condition(q, "k.type_id", type_ids);
    q << " AND ";
    bool id = c.special == "_id";
    if (c.modifier == modifier::missing) {
      q << (c.values.front().missing != id ? "1" : "0");
      return q;
    }
    if (!id) {
      q << (c.modifier == modifier::not_ ? "1" : "0");
      return q;
    }
    q << (c.modifier == modifier::not_ ? "NOT (" : "(");
    or_tree(q, 0, c.values.size(), [&](std::size_t i) {
      q << "k.local_id = ";
      q.bind(c.values[i].text);
    });
    q << ")";
    return q;
  }

  // A plain clause (no chain, _has, :missing, :not, _id or _lastUpdated) tests one index table.
  static bool is_plain(const clause& c) {
    return c.chain.empty() && c.has.empty() && c.parameter && c.modifier != modifier::missing && c.modifier != modifier::not_;
  }

  // The condition a plain clause puts on its index table's rows (alias x): parameter and values.
  sql index_condition(const clause& c, const std::vector<std::int64_t>& type_ids, bool contained = false) {
    param_type type = c.parameter->type;
    std::string code = c.parameter->code;
    if (type == param_type::reference && c.modifier == modifier::identifier) {
      type = param_type::token;
      code += ":identifier";
    }
    if (c.modifier == modifier::of_type) code += ":of-type";
    sql q;
    param_condition(q, "x", type_ids, code, contained);
    q << " AND (";
    values_predicate(q, c, type);
    q << ")";
    return q;
  }

  // A plain clause as a filter on the candidate row r: a correlated lookup in the table's (res_pk,
  // param_id) index, so a clause that matches half the table costs one probe per candidate instead of
  // reading all its matches.
  std::optional<sql> correlated_filter(const clause& c) {
    if (!is_plain(c)) return std::nullopt;
    std::string_view table = table_for(c);
    sql q;
    // INDEXED BY: the planner would otherwise pick the value index for a range (a date's lo/hi) and
    // read every row of the parameter for each candidate. ix_text's key starts with res_pk already.
    q << "EXISTS (SELECT 1 FROM " << table << " x";
    if (table != "ix_text") q << " INDEXED BY " << table << "_res";
    q << " WHERE x.res_pk = r.pk AND ";
    q.append(index_condition(c, query_type_ids_));
    q << ")";
    return q;
  }

  void resource_column_values(sql& q, const clause& c) {
    or_tree(q, 0, c.values.size(), [&](std::size_t i) {
      const search_value& v = c.values[i];
      if (c.special == "_id") {
        q << "t.id = ";
        q.bind(v.text);
      } else {
        std::int64_t width = v.high - v.low;
        std::int64_t margin = std::max<std::int64_t>(width, std::abs(fhir::now_ms() - v.low) / 10);
        range_predicate(q, "t.last_updated", "(t.last_updated + 1)", v.prefix, v.low, v.high, v.low - margin, v.high + margin);
      }
    });
  }

  // The ORed predicate of a clause's values on index alias `x`.
  void values_predicate(sql& q, const clause& c, param_type type) {
    or_tree(q, 0, c.values.size(), [&](std::size_t i) { value_predicate(q, c, type, c.values[i]); });
  }

  // `emit(i)` for i in [begin, end), ORed as a balanced tree: SQLite refuses expressions nested 1,000
  // deep, which a flat chain of 1,000 ORs is.
  template <typename Emit>
  static void or_tree(sql& q, std::size_t begin, std::size_t end, const Emit& emit) {
    q << "(";
    if (begin == end) {
      q << "0";  // no value: nothing matches
    } else if (end - begin == 1) {
      emit(begin);
    } else {
      std::size_t middle = begin + (end - begin) / 2;
      or_tree(q, begin, middle, emit);
      q << " OR ";
      or_tree(q, middle, end, emit);
    }
    q << ")";
  }

  void value_predicate(sql& q, const clause& c, param_type type, const search_value& v) {
    switch (type) {
      case param_type::string: {
        if (c.parameter && c.parameter->full_text) {
          full_text_predicate(q, v.text);
          break;
        }
        if (c.modifier == modifier::exact) {
          q << "x.exact = ";
          q.bind(v.text);
        } else if (c.modifier == modifier::contains) {
          q << "x.norm LIKE ";
          q.bind("%" + like_escape(fhir::search::normalize(v.text)) + "%");
          q << " ESCAPE '\\'";
        } else {
          prefix_range(q, "x.norm", fhir::search::normalize(v.text));
        }
        break;
      }
      case param_type::token: {
        if (c.modifier == modifier::text) {
          std::string text = like_escape(fhir::search::normalize(v.text));
          q << "(x.text LIKE ";
          q.bind(text + "%");
          q << " ESCAPE '\\' OR x.text LIKE ";
          q.bind("% " + text + "%");
          q << " ESCAPE '\\')";
          break;
        }
        if (c.modifier == modifier::of_type) {  // type system|code, then the identifier's value exactly
          q << "x.code = ";
          q.bind(v.code);
          q << " AND x.system = ";
          q.bind(v.system);
          q << " AND x.text = ";
          q.bind(v.text);
          break;
        }
        if (!v.has_system) {
          q << "x.code = ";
          q.bind(v.text);
        } else if (v.text.empty()) {
          q << "x.system = ";
          q.bind(v.system);
        } else {
          q << "x.code = ";
          q.bind(v.text);
          q << (v.system_or_none ? " AND x.system IN ('', " : " AND x.system = ");
          q.bind(v.system);
          if (v.system_or_none) q << ")";
        }
        break;
      }
      case param_type::reference: reference_predicate(q, *c.parameter, c.modifier_type, v, reference_table); break;
      case param_type::date: {
        std::int64_t margin = std::max<std::int64_t>(v.high - v.low, std::abs(fhir::now_ms() - v.low) / 10);
        range_predicate(q, "x.lo", "x.hi", v.prefix, v.low, v.high, v.low - margin, v.high + margin);
        break;
      }
      case param_type::number: number_predicate(q, "x.value", v); break;
      case param_type::quantity: quantity_predicate(q, v, quantity_table); break;
      case param_type::uri: {
        if (c.modifier == modifier::below) {
          prefix_range(q, "x.uri", v.text);
        } else if (c.modifier == modifier::above) {
          // The stored uri is the value or one of its paths (`url:above=http://acme.org/fhir/ValueSet/123/_history/5`
          // finds http://acme.org/fhir/ValueSet/123 and http://acme.org/fhir/, not .../ValueSet/12): one seek each.
          // Paths start after the scheme and authority; the parser bounds the '/' a value has.
          std::set<std::string> paths{v.text};
          std::size_t authority = v.text.find("://");
          std::size_t from = authority == std::string::npos ? 0 : v.text.find('/', authority + 3);
          for (std::size_t slash = v.text.find('/', from); slash != std::string::npos; slash = v.text.find('/', slash + 1)) {
            paths.insert(v.text.substr(0, slash));
            paths.insert(v.text.substr(0, slash + 1));
          }
          q << "x.uri IN (";
          bool first = true;
          for (const std::string& path : paths) {
            if (!first) q << ", ";
            first = false;
            q.bind(path);
          }
          q << ")";
        } else {
          q << "x.uri = ";
          q.bind(v.text);
        }
        break;
      }
      case param_type::composite: composite_predicate(q, c, v); break;
      case param_type::special: near_predicate(q, v.near); break;
      default: q << "0";
    }
  }

  // Within the distance of the point on the sphere: seek the latitudes a match can have, then compare
  // the chord between the stored and the query's unit vectors (fhir/search/position.hpp).
  static void near_predicate(sql& q, const fhir::search::near_value& near) {
    fhir::search::unit_vector p = fhir::search::on_unit_sphere(near.latitude, near.longitude);
    q << "x.lat >= ";
    q.bind(near.min_latitude());
    q << " AND x.lat <= ";
    q.bind(near.max_latitude());
    if (near.whole_sphere()) return;  // half the circumference or more: every point
    q << " AND ";
    bool first = true;
    for (auto [column, value] : {std::pair{"x.x", p.x}, {"x.y", p.y}, {"x.z", p.z}}) {
      q << (first ? "" : " + ") << "(" << column << " - ";
      q.bind(value);
      q << ") * (" << column << " - ";
      q.bind(value);
      q << ")";
      first = false;
    }
    q << " <= ";
    q.bind(near.max_chord_squared());
  }

  // _text/_content: every word of the value appears in the text (as a word start).
  static void full_text_predicate(sql& q, const std::string& value) {
    std::string words = fhir::search::normalize(value);
    bool first = true;
    for (std::size_t start = 0; start < words.size();) {
      std::size_t end = words.find(' ', start);
      if (end == std::string::npos) end = words.size();
      std::string word = like_escape(words.substr(start, end - start));
      start = end + 1;
      if (word.empty()) continue;
      if (!first) q << " AND ";
      first = false;
      q << "(x.text LIKE ";
      q.bind(word + "%");
      q << " ESCAPE '\\' OR x.text LIKE ";
      q.bind("% " + word + "%");
      q << " ESCAPE '\\')";
    }
    if (first) q << "1";
  }

  // Where a reference's parts are stored: ix_reference and the first component of ix_composite.
  struct reference_columns {
    std::string_view id, type, url;
  };
  static constexpr reference_columns reference_table{"x.target_id", "x.target_type", "x.url"};
  static constexpr reference_columns composite_first{"x.code1", "x.system1", "x.url1"};

  // A reference value: an absolute URL by the stored URL, else by id and (given, from :[type], or the
  // parameter's only target) type; one under the server's base URL by either.
  static void reference_predicate(sql& q, const search_parameter& parameter, const std::string& modifier_type,
                                  const search_value& v, const reference_columns& columns) {
    // `url <> ''` lets the partial index on (param_id, url) serve every URL match.
    bool absolute = (!v.target_type.empty() && !v.code.empty()) ||  // an absolute RESTful URL
                    (v.target_type.empty() && (v.text.find("://") != std::string::npos || v.text.starts_with("urn:")));
    if (absolute) {
      q << columns.url;
      if (v.url.empty()) {
        q << " = ";
        q.bind(v.text);
      } else {  // a canonical of ours, under the base URL or relative
        q << " IN (";
        q.bind(v.text);
        q << ", ";
        q.bind(v.url);
        q << ")";
      }
      q << " AND " << columns.url << " <> ''";
      return;
    }
    if (!v.url.empty()) {
      search_value local = v;
      local.url.clear();
      q << "((";
      reference_predicate(q, parameter, modifier_type, local, columns);
      q << ") OR (" << columns.url << " = ";
      q.bind(v.url);
      q << " AND " << columns.url << " <> ''))";
      return;
    }
    q << columns.id << " = ";
    q.bind(v.text);
    std::string target = v.target_type.empty() ? modifier_type : v.target_type;
    if (target.empty() && parameter.targets.size() == 1) target = parameter.targets.front();
    if (!target.empty()) {
      q << " AND " << columns.type << " = ";
      q.bind(target);
    }
  }

  // The first component is a token on (system1, code1) or a reference on (code1, system1, url1); the
  // second is compared by its own type, and a third (a number) on value3.
  void composite_predicate(sql& q, const clause& c, const search_value& v) {
    const search_value& first = v.components.at(0);
    const search_value& second = v.components.at(1);
    const search_parameter& first_parameter = *c.parameter->components.at(0).parameter;
    if (first_parameter.type == param_type::reference) {
      reference_predicate(q, first_parameter, {}, first, composite_first);
    } else {
      q << "x.code1 = ";
      q.bind(first.text);
      if (first.has_system) {
        q << " AND x.system1 = ";
        q.bind(first.system);
      }
    }
    if (v.components.size() == 3) {
      q << " AND ";
      number_predicate(q, "x.value3", v.components[2]);
    }
    q << " AND ";
    switch (c.parameter->components.at(1).parameter->type) {
      case param_type::token:
        q << "x.code2 = ";
        q.bind(second.text);
        if (second.has_system) {
          q << " AND x.system2 = ";
          q.bind(second.system);
        }
        break;
      case param_type::string: prefix_range(q, "x.code2", fhir::search::normalize(second.text)); break;
      case param_type::date: {
        std::int64_t margin = std::max<std::int64_t>(second.high - second.low, std::abs(fhir::now_ms() - second.low) / 10);
        range_predicate(q, "x.low2", "x.high2", second.prefix, static_cast<double>(second.low), static_cast<double>(second.high),
                        static_cast<double>(second.low - margin), static_cast<double>(second.high + margin));
        break;
      }
      case param_type::quantity: quantity_predicate(q, second, composite_second); break;
      case param_type::number: number_predicate(q, "x.value2", second); break;
      default: q << "0";
    }
  }

  // A UCUM quantity value in canonical units (the unit's name and the value with its implicit range
  // scaled), or nullopt when it has no UCUM unit this server converts.
  static std::optional<std::pair<std::string, search_value>> in_canonical_units(const search_value& v) {
    if (v.system != "http://unitsofmeasure.org" || v.code.empty()) return std::nullopt;
    // The unit's factor from one unit of it: a value of 0 must scale its implicit range too.
    auto canonical = fhir::search::canonical_quantity(v.code, 1.0);
    if (!canonical) return std::nullopt;
    search_value scaled = v;
    double factor = canonical->second;
    scaled.number = v.number * factor;
    scaled.number_low = v.number_low * factor;
    scaled.number_high = v.number_high * factor;
    if (factor < 0) std::swap(scaled.number_low, scaled.number_high);
    return std::pair{std::move(canonical->first), std::move(scaled)};
  }

  // Where a quantity's parts are stored: ix_quantity and the second component of ix_composite.
  struct quantity_columns {
    std::string_view unit, system, value, canonical_unit, canonical_value;
  };
  static constexpr quantity_columns quantity_table{"x.unit", "x.system", "x.value", "x.cunit", "x.cvalue"};
  static constexpr quantity_columns composite_second{"x.code2", "x.system2", "x.value2", "x.cunit2", "x.cvalue2"};

  // A quantity value: in canonical UCUM units when the value's unit converts, else by its own unit.
  static void quantity_predicate(sql& q, const search_value& v, const quantity_columns& columns) {
    if (auto canonical = in_canonical_units(v)) {
      q << columns.canonical_unit << " = ";
      q.bind(canonical->first);
      q << " AND ";
      number_predicate(q, columns.canonical_value, canonical->second);
      return;
    }
    if (!v.code.empty()) {
      q << columns.unit << " = ";
      q.bind(v.code);
      q << " AND ";
    }
    if (v.has_system) {
      q << columns.system << " = ";
      q.bind(v.system);
      q << " AND ";
    }
    number_predicate(q, columns.value, v);
  }

  static void prefix_range(sql& q, std::string_view column, const std::string& prefix) {
    q << column << " >= ";
    q.bind(prefix);
    std::string upper = fhir::search::prefix_upper_bound(prefix);
    if (!upper.empty()) {
      q << " AND " << column << " < ";
      q.bind(upper);
    }
  }

  // ---- choosing the driver ----

  // How the page's statement finds its rows (see the file comment):
  //  - set:    the clause with the fewest matches is materialised and drives (r.pk IN (...)): right when
  //            some clause is selective;
  //  - stream: every clause is large; rows are read in pk order straight from the index of a clause
  //            whose index yields them in pk order (one token or reference value), the others filter,
  //            and the scan stops as soon as the page is full;
  //  - scan:   the same over the type's live resources (resource_live), when no clause can stream.
  // Streaming and scanning need pk order, so they are used only without _sort.
  enum class drive { set, stream, scan };

  std::size_t plan_driver() {
    const std::vector<sql>& sets = clause_sets_;
    if (sets.empty()) {
      drive_ = drive::scan;
      return 0;
    }
    // Probe the clauses that are cheap to count (seeks on one value, chains, _has, the compartment)
    // before ranges and prefixes, which may read further into their index to find probe_cap rows.
    std::vector<std::size_t> cheap, costly;
    for (std::size_t i = 0; i < sets.size(); ++i) (is_costly_to_probe(i) ? costly : cheap).push_back(i);
    std::size_t best = 0;
    std::int64_t best_count = std::numeric_limits<std::int64_t>::max();
    auto probe_all = [&](const std::vector<std::size_t>& which) {
      for (std::size_t i : which) {
        if (best_count == 0) return;
        if (never_probe(i)) continue;
        std::int64_t n = probe(sets[i]);
        if (n < best_count) best = i, best_count = n;
      }
      return;
    };
    auto selective = [&] { return best_count < static_cast<std::int64_t>(probe_cap); };
    const bool pk_order = query_.sort.empty();
    probe_all(cheap);
    if (selective()) return best;
    if (pk_order)
      for (std::size_t i = 0; i < sets.size(); ++i)
        if (streamable(i)) {
          drive_ = drive::stream;
          return i;
        }
    probe_all(costly);
    if (selective()) return best;
    if (pk_order && std::all_of(clause_filters_.begin(), clause_filters_.end(), [](const auto& f) { return f.has_value(); }))
      drive_ = drive::scan;
    return best;
  }

  std::int64_t probe(const sql& set) {
    sql q;
    q << "SELECT count(*) FROM (";
    q.append(set);
    q << " LIMIT " << std::to_string(probe_cap) << ")";
    auto st = db_.prepared(q.text);
    bind_all(*st, q.values);
    st->step();
    return st->column_int64(0);
  }

  // The clause behind set i, or null for the compartment filter.
  const clause* clause_at(std::size_t i) const {
    std::size_t offset = query_.compartment ? 1 : 0;
    return i < offset ? nullptr : &query_.clauses[i - offset];
  }

  // Full-text clauses are LIKE matches over every row of the parameter: counting them is a scan.
  bool never_probe(std::size_t i) const {
    const clause* c = clause_at(i);
    return c && c->parameter && c->parameter->full_text;
  }

  bool is_costly_to_probe(std::size_t i) const {
    const clause* c = clause_at(i);
    if (!c || !c->chain.empty() || !c->has.empty() || c->special == "_id") return false;
    if (!c->parameter || c->modifier == modifier::missing || c->modifier == modifier::not_) return true;
    param_type type = c->parameter->type;
    return !(type == param_type::token && c->modifier != modifier::text) && type != param_type::reference;
  }

  // One token value with its system, or one reference with its type: the index rows of that value are
  // stored in res_pk order.
  bool streamable(std::size_t i) const {
    const clause* c = clause_at(i);
    // A parameter whose rows are split over several param_ids (covered_by) has no single ordered stream.
    if (!c || !is_plain(*c) || c->values.size() != 1 || c->modifier != modifier::none || !c->parameter->covered_by.empty())
      return false;
    const search_value& v = c->values.front();
    if (c->parameter->type == param_type::token) return v.has_system && !v.text.empty() && !v.system_or_none;
    if (c->parameter->type == param_type::reference)
      return !v.target_type.empty() && v.code.empty() && v.text.find("://") == std::string::npos && v.url.empty();
    return false;
  }

  std::int64_t highest_pk() {
    auto st = db_.cached("SELECT coalesce(max(pk), 0) FROM resource");
    st->step();
    return st->column_int64(0);
  }

  // ---- sorting and pages ----

  struct key_column {
    std::string expression;  // SQL over r, NULLs replaced by a sentinel that sorts last
    std::vector<sql_value> values;
    bool descending;
  };

  std::vector<key_column> sort_columns() {
    std::vector<key_column> keys;
    for (const auto& k : query_.sort) {
      key_column col{{}, {}, k.descending};
      if (k.code == "_id") {
        col.expression = contained_source_ ? "coalesce(m.local_id, r.id)" : "r.id";
      } else if (k.code == "_lastUpdated") {
        col.expression = "r.last_updated";
      } else {
        param_type type = k.parameter->type;
        std::string_view table = table_of(type);
        std::string column;
        std::string sentinel;
        bool text = false;
        switch (type) {
          case param_type::date: column = k.descending ? "x.hi" : "x.lo"; break;
          case param_type::number:
          case param_type::quantity: column = "x.value"; break;
          case param_type::string: column = "x.norm", text = true; break;
          case param_type::token: column = "x.code", text = true; break;
          case param_type::reference: column = "x.target_id", text = true; break;
          case param_type::uri: column = "x.uri", text = true; break;
          default: column = "NULL";
        }
        if (text) sentinel = k.descending ? "''" : "char(1114111)";
        else sentinel = k.descending ? "-9223372036854775808" : "9223372036854775807";
        sql q;
        q << "coalesce((SELECT " << (k.descending ? "max(" : "min(") << column << ") FROM " << table << " x INDEXED BY "
          << table << "_res WHERE x.res_pk = r.pk AND ";
        param_condition(q, "x", query_type_ids_, k.code);
        if (type == param_type::reference) q << " AND x.target_id NOT LIKE '#%'";  // local references (chains only)
        q << "), " << sentinel << ")";
        col.expression = q.text;
        col.values = q.values;
      }
      keys.push_back(std::move(col));
    }
    // _containedType=contained: (local id, container) names a match for good; '' for a resource itself.
    if (contained_source_) keys.push_back(key_column{"coalesce(m.local_id, '')", {}, false});
    return keys;
  }

  // WHERE and ORDER BY of a page: the driver set, the other clauses, the types, the keyset position.
  // FROM and WHERE of a page or a count, for the plan: the rows' source, the clauses, the types, the
  // snapshot bound. `r` is the resource row; when streaming, `x` is the driving index row.
  sql from_where(const std::vector<sql>& sets, std::size_t driver, std::int64_t max_pk, bool with_body) {
    sql q;
    if (contained_source_) {
      q << " FROM (";
      q.append(*contained_source_);
      q << ") m JOIN resource r ON r.pk = m.container_pk";
      if (with_body) q << " JOIN resource_version v ON v.pk = r.pk AND v.version = r.version";
      q << " WHERE +r.deleted = 0";
      if (!any_result_type_) {
        q << " AND ";
        type_condition(q, "+r.type_id", result_type_ids_);
      }
      q << " AND r.pk <= ";
      q.bind(max_pk);
      return q;
    }
    if (drive_ == drive::stream) {
      const clause& c = *clause_at(driver);
      std::string_view table = table_of(c.parameter->type);
      // NOT INDEXED: the table's primary key, whose rows for one value are in res_pk order
      // (streamable() checked the value), not the reverse index.
      q << " FROM " << table << " x NOT INDEXED JOIN resource r ON r.pk = x.res_pk";
      if (with_body) q << " JOIN resource_version v ON v.pk = r.pk AND v.version = r.version";
      q << " WHERE ";
      q.append(index_condition(c, query_type_ids_));
      q << " AND +r.deleted = 0";
      append_filters(q, sets, driver);
      q << " AND x.res_pk <= ";
      q.bind(max_pk);
      return q;
    }
    q << " FROM resource r";
    if (with_body) q << " JOIN resource_version v ON v.pk = r.pk AND v.version = r.version";
    q.append(where_clause(sets, driver, max_pk));
    return q;
  }

  void append_filters(sql& q, const std::vector<sql>& sets, std::size_t driver) {
    for (std::size_t i = 0; i < sets.size(); ++i) {
      if (i == driver && drive_ != drive::scan) continue;
      if (clause_filters_[i]) {
        q << " AND ";
        q.append(*clause_filters_[i]);
        continue;
      }
      q << " AND r.pk IN (";
      q.append(sets[i]);
      q << ")";
    }
  }

  // The column pages are ordered by last: a resource's pk, or a contained one's container's (after its
  // local id: sort_columns()). Not the contained resource's cpk, which every update of its container
  // renews: a page position must survive updates.
  std::string_view pk_column() const {
    return contained_source_ ? "m.container_pk" : drive_ == drive::stream ? "x.res_pk" : "r.pk";
  }

  sql where_clause(const std::vector<sql>& sets, std::size_t driver, std::int64_t max_pk) {
    sql q;
    q << " WHERE ";
    if (!sets.empty() && drive_ == drive::set) {
      q << "r.pk IN (";
      q.append(sets[driver]);
      q << ") AND +r.deleted = 0";
      // Unary plus: the type filters rows, it must not make the planner scan the type instead.
      if (!any_result_type_) {
        q << " AND ";
        type_condition(q, "+r.type_id", result_type_ids_.empty() ? query_type_ids_ : result_type_ids_);
      }
    } else {
      type_condition(q, "r.type_id", query_type_ids_);
      q << " AND r.deleted = 0";
    }
    append_filters(q, sets, driver);
    q << " AND r.pk <= ";
    q.bind(max_pk);
    return q;
  }

  fhir::result<fhir::done> page_rows(const std::vector<sql>& sets, std::size_t driver, const page_position& pos,
                                     search_page& page) {
    auto keys = sort_columns();
    bool backwards = pos.backwards;
    if (!pos.first_page() && pos.keys.size() != keys.size()) return invalid("The page token does not belong to this search", "page-token-invalid");

    sql q;
    q << "SELECT r.pk, r.type_id, r.id, r.version, r.last_updated, v.verb, v.created, v.body";
    for (const auto& k : keys) {
      q << ", " << k.expression;
      q.values.insert(q.values.end(), k.values.begin(), k.values.end());
    }
    if (contained_source_) q << ", m.local_id";  // the match inside the container r
    q.append(from_where(sets, driver, pos.max_pk, true));
    if (!pos.first_page()) {
      q << " AND (";
      keyset_condition(q, keys, pos, backwards);
      q << ")";
    }
    q << " ORDER BY ";
    for (const auto& k : keys) {
      q << k.expression << ((k.descending != backwards) ? " DESC, " : ", ");
      q.values.insert(q.values.end(), k.values.begin(), k.values.end());
    }
    q << pk_column() << (backwards ? " DESC" : "") << " LIMIT ";
    q.bind(static_cast<std::int64_t>(request_.count + 1));

    if (request_.explain) explain(q, driver, page);

    struct row {
      resource_version version;
      std::int64_t pk;  // r.pk, which pk_column() always equals: a resource's, or a contained match's container's
      std::vector<sql_value> keys;
      std::string contained_id;
    };
    std::vector<row> rows;
    {
      auto st = db_.prepared(q.text);
      bind_all(*st, q.values);
      const int local_id_at = static_cast<int>(8 + keys.size());
      while (st->step()) {
        // Streaming from an index, a resource with the same value twice comes twice, adjacently.
        if (drive_ == drive::stream && !rows.empty() && rows.back().pk == st->column_int64(0)) continue;
        row r{read_version(*st, 0), st->column_int64(0), {}, contained_source_ ? std::string(st->column_text(local_id_at)) : ""};
        for (std::size_t i = 0; i < keys.size(); ++i) r.keys.push_back(column_value(*st, static_cast<int>(8 + i)));
        rows.push_back(std::move(r));
      }
    }
    bool more = rows.size() > request_.count;
    if (more) rows.pop_back();
    if (backwards) std::reverse(rows.begin(), rows.end());

    for (row& r : rows) {
      page_pks_.push_back(r.pk);  // where includes start (_contained refuses them)
      page.entries.push_back(search_entry{std::move(r.version), search_mode::match, std::move(r.contained_id)});
    }
    if (rows.empty()) return fhir::done{};
    // Forwards, a next page exists when a row beyond this page was found; backwards, when we came from one.
    bool has_next = backwards ? true : more;
    bool has_previous = backwards ? more : !pos.first_page();
    if (has_next) page.next_token = encode_position({pos.max_pk, rows.back().keys, rows.back().pk, false}, query_hash());
    if (has_previous) page.previous_token = encode_position({pos.max_pk, rows.front().keys, rows.front().pk, true}, query_hash());
    return fhir::done{};
  }

  // The strategy, the driving clause and SQLite's plan for the page statement, one line per step
  // (indented by depth), as `EXPLAIN QUERY PLAN` reports it.
  void explain(const sql& q, std::size_t driver, search_page& page) {
    static constexpr const char* strategies[] = {"set", "stream", "scan"};
    std::string driving = contained_source_ ? "the contained resources (_containedType=contained)"
                          : query_.contained != fhir::search::contained_mode::off ? "the containers (_contained)"
                          : clause_sets_.empty()                                ? "none"
                          : clause_at(driver)                                   ? clause_at(driver)->name
                                                                                : "compartment";
    page.plan.push_back(fmt::format("strategy: {}; driving clause: {}", strategies[static_cast<int>(drive_)],
                                    drive_ == drive::scan ? "none (type scan)" : driving));
    append_plan(q, page.plan);
  }

  // SQLite's plan for `q`, one line per step (indented by depth), as `EXPLAIN QUERY PLAN` reports it.
  void append_plan(const sql& q, std::vector<std::string>& plan) {
    auto st = db_.prepared("EXPLAIN QUERY PLAN " + q.text);
    bind_all(*st, q.values);
    std::map<std::int64_t, int> depth;
    while (st->step()) {
      int d = depth.contains(st->column_int64(1)) ? depth[st->column_int64(1)] + 1 : 0;
      depth[st->column_int64(0)] = d;
      plan.push_back(std::string(static_cast<std::size_t>(2 * d), ' ') + std::string(st->column_text(3)));
    }
  }

  // With explain, an include's statement and its plan follow the page's (each once per include).
  void explain_include(const fhir::search::include& inc, const sql& q) {
    if (!request_.explain || !explained_includes_.insert(inc.raw).second) return;
    include_plan_.push_back("include: " + inc.raw);
    append_plan(q, include_plan_);
  }

  // (k1, ..., kn, pk) after (or, backwards, before) the token's position, each key in its direction.
  void keyset_condition(sql& q, const std::vector<key_column>& keys, const page_position& pos, bool backwards) {
    for (std::size_t level = 0; level <= keys.size(); ++level) {
      if (level) q << " OR ";
      q << "(";
      for (std::size_t i = 0; i < level; ++i) {
        q << keys[i].expression << " = ";
        q.values.insert(q.values.end(), keys[i].values.begin(), keys[i].values.end());
        q.bind(pos.keys[i]);
        q << " AND ";
      }
      if (level < keys.size()) {
        bool greater = keys[level].descending == backwards;
        q << keys[level].expression << (greater ? " > " : " < ");
        q.values.insert(q.values.end(), keys[level].values.begin(), keys[level].values.end());
        q.bind(pos.keys[level]);
      } else {
        q << pk_column() << (backwards ? " < " : " > ");
        q.bind(pos.pk);
      }
      q << ")";
    }
  }

  std::int64_t count_all(const std::vector<sql>& sets, std::size_t driver, std::int64_t max_pk) {
    sql q;
    q << (drive_ == drive::stream ? "SELECT count(DISTINCT r.pk)" : "SELECT count(*)");
    q.append(from_where(sets, driver, max_pk, false));
    auto st = db_.prepared(q.text);
    bind_all(*st, q.values);
    st->step();
    return st->column_int64(0);
  }

  static sql_value column_value(statement& st, int index) {
    switch (st.column_type(index)) {
      case column_kind::integer: return st.column_int64(index);
      case column_kind::real: return st.column_double(index);
      default: return std::string(st.column_text(index));
    }
  }

  // Columns (pk, type_id, id, version, last_updated, verb, created, body) from `first`.
  resource_version read_version(statement& st, int first) const {
    auto name = types_.names.find(st.column_int64(first + 1));
    return resource_version{version_info{name == types_.names.end() ? std::string() : name->second,
                                         std::string(st.column_text(first + 2)), st.column_int64(first + 3),
                                         st.column_int64(first + 4), false, static_cast<verb>(st.column_int64(first + 5)),
                                         st.column_int64(first + 6) != 0},
                            std::string(st.column_text(first + 7))};
  }

  // ---- page tokens ----

  std::string query_hash() const {
    std::string text;
    for (const auto& t : query_.types) text += t + ",";
    text += "contained=" + std::to_string(static_cast<int>(query_.contained)) + (query_.contained_alone ? "alone," : ",");
    for (const auto& t : query_.container_types) text += t + ",";
    if (query_.compartment) {
      text += query_.compartment->owner_type + "/" + query_.compartment->owner_id + "/";
      for (const std::string& id : query_.compartment->linked_ids) text += id + "/";
    }
    for (const auto& c : query_.clauses) text += c.name + "=" + c.raw_value + "&";
    for (const auto& k : query_.sort) text += (k.descending ? "-" : "") + k.code + ",";
    return fmt::format("{:016x}", std::hash<std::string>{}(text));
  }

  fhir::result<page_position> decode_position() {
    if (request_.page_token.empty()) return page_position{};
    auto pos = decode_page_token(request_.page_token, query_hash());
    if (!pos) return invalid("The page token is not valid for this search (it may belong to another query)", "page-token-invalid");
    return *pos;
  }

  // ---- includes ----

  struct found {
    std::int64_t pk;
    std::int64_t type_id;
    std::string id;
  };

  void add_includes(search_page& page) {
    if (query_.includes.empty() || page.entries.empty()) return;
    const std::set<std::int64_t> matches(page_pks_.begin(), page_pks_.end());
    std::set<std::int64_t> seen = matches;  // and the includes found so far
    std::vector<found> frontier;
    for (std::size_t i = 0; i < page.entries.size(); ++i) {
      const auto& info = page.entries[i].version.info;
      frontier.push_back({page_pks_[i], *type_id(info.type), info.id});
    }
    // Every link that reached an include, by the entry it came from (search_entry::included_by): an
    // include reached again from another entry records that link too.
    std::map<std::int64_t, std::string> key_of;
    auto remember = [&](const found& f, std::string_view role) {
      key_of[f.pk] = included_from(role, types_.names.at(f.type_id), f.id);
    };
    for (const found& f : frontier) remember(f, included_from_match);
    std::map<std::int64_t, std::vector<std::string>> included_by;  // set on the entries once every round ran
    std::map<std::int64_t, std::size_t> entry_of;                   // an include's entry on the page
    for (int round = 0; round < max_include_rounds && !frontier.empty(); ++round) {
      std::vector<std::int64_t> added;
      for (const auto& inc : query_.includes) {
        if (round > 0 && !inc.iterate) continue;
        for (const include_link& link : inc.reverse ? reverse_targets(inc, frontier) : forward_targets(inc, frontier)) {
          if (matches.contains(link.found)) continue;
          if (seen.insert(link.found).second) {
            if (seen.size() - page_pks_.size() > max_included) continue;
            added.push_back(link.found);
          }
          std::vector<std::string>& from = included_by[link.found];
          if (std::find(from.begin(), from.end(), key_of[link.from]) == from.end()) from.push_back(key_of[link.from]);
        }
      }
      frontier.clear();
      for (auto& v : load(added)) {
        frontier.push_back({v.first, *type_id(v.second.info.type), v.second.info.id});
        remember(frontier.back(), included_from_include);
        entry_of[v.first] = page.entries.size();
        page.entries.push_back(search_entry{std::move(v.second), search_mode::include});
      }
    }
    for (auto& [pk, at] : entry_of) page.entries[at].included_by = std::move(included_by[pk]);
    page.plan.insert(page.plan.end(), include_plan_.begin(), include_plan_.end());
  }

  // An include's resource and the page entry (a match or an earlier include) whose link reached it.
  struct include_link {
    std::int64_t found;
    std::int64_t from;
  };

  static std::string json_list(const std::vector<std::int64_t>& values) {
    std::string out = "[";
    for (std::size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
    return out + "]";
  }

  static std::string json_strings(const std::vector<std::string>& values) {
    fhir::json::array a;
    for (const auto& v : values) a.emplace_back(v);
    return fhir::json::serialize(fhir::json::value(std::move(a)));
  }

  // The reference parameters an include follows from sources of `source_type_id`.
  std::vector<std::int64_t> include_params(const fhir::search::include& inc, std::int64_t source_type_id) {
    if (inc.wildcard) return params_.reference_params(source_type_id);
    return params_.find_all(source_type_id, inc.parameter->code);
  }

  std::vector<include_link> forward_targets(const fhir::search::include& inc, const std::vector<found>& sources) {
    std::map<std::int64_t, std::vector<std::int64_t>> by_type;
    for (const auto& s : sources) {
      auto name = types_.names.find(s.type_id);
      if (inc.source_type == "*" || (name != types_.names.end() && name->second == inc.source_type)) by_type[s.type_id].push_back(s.pk);
    }
    std::vector<include_link> out;
    for (const auto& [source_type, pks] : by_type) {
      auto params = include_params(inc, source_type);
      if (params.empty()) continue;
      sql q;
      q << "SELECT DISTINCT t.pk, s.res_pk FROM ix_reference s JOIN resource_type rt ON rt.name = s.target_type "
           "JOIN resource t ON t.type_id = rt.type_id AND t.id = s.target_id "
           "WHERE s.res_pk IN (SELECT value FROM json_each(";
      q.bind(json_list(pks));
      q << ")) AND s.param_id IN (SELECT value FROM json_each(";
      q.bind(json_list(params));
      q << ")) AND t.deleted = 0";
      if (!inc.target_type.empty()) {
        q << " AND s.target_type = ";
        q.bind(inc.target_type);
      }
      // A canonical (or an absolute URL) names the resource whose `url` is that URL. CROSS JOIN: from the
      // sources' rows to the targets' url rows (the planner would read every url row of the parameter).
      if (auto urls = canonical_url_params(inc); !urls.empty()) {
        q << " UNION SELECT u.res_pk, s.res_pk FROM ix_reference s CROSS JOIN ix_uri u ON u.param_id IN (SELECT value FROM json_each(";
        q.bind(json_list(urls));
        q << ")) AND u.uri = s.url CROSS JOIN resource t ON t.pk = u.res_pk WHERE s.res_pk IN (SELECT value FROM json_each(";
        q.bind(json_list(pks));
        q << ")) AND s.param_id IN (SELECT value FROM json_each(";
        q.bind(json_list(params));
        q << ")) AND s.url <> '' AND t.deleted = 0";
      }
      explain_include(inc, q);
      auto st = db_.prepared(q.text);
      bind_all(*st, q.values);
      while (st->step()) out.push_back({st->column_int64(0), st->column_int64(1)});
    }
    return out;
  }

  // The `url` parameters of the types an include may reach (its target type, else the parameter's
  // targets, else every type): a canonical reference is resolved through them.
  std::vector<std::int64_t> canonical_url_params(const fhir::search::include& inc) const {
    std::vector<std::int64_t> out;
    auto add = [&](std::int64_t type) {
      if (auto url = params_.find(type, "url")) out.push_back(*url);
    };
    if (!inc.target_type.empty()) {
      if (auto t = type_id(inc.target_type)) add(*t);
    } else if (inc.parameter && !inc.parameter->targets.empty()) {
      for (const std::string& target : inc.parameter->targets)
        if (auto t = type_id(target)) add(*t);
    } else {
      for (const auto& [name, id] : types_.ids) add(id);
    }
    return out;
  }

  static std::vector<std::int64_t> pks_of(const std::vector<found>& resources, std::int64_t type_id) {
    std::vector<std::int64_t> out;
    for (const found& r : resources)
      if (r.type_id == type_id) out.push_back(r.pk);
    return out;
  }

  std::vector<include_link> reverse_targets(const fhir::search::include& inc, const std::vector<found>& targets) {
    std::map<std::int64_t, std::vector<std::string>> ids_by_type;
    std::map<std::pair<std::int64_t, std::string>, std::int64_t> pk_of;  // (type id, id) -> pk
    for (const auto& t : targets) {
      ids_by_type[t.type_id].push_back(t.id);
      pk_of[{t.type_id, t.id}] = t.pk;
    }
    std::vector<std::int64_t> source_types;
    if (inc.source_type == "*") {
      for (const auto& [name, id] : types_.ids) source_types.push_back(id);
    } else if (auto id = type_id(inc.source_type)) {
      source_types.push_back(*id);
    }
    std::vector<std::int64_t> params;
    for (std::int64_t t : source_types) {
      auto p = include_params(inc, t);
      params.insert(params.end(), p.begin(), p.end());
    }
    std::vector<include_link> out;
    if (params.empty()) return out;
    for (const auto& [target_type, ids] : ids_by_type) {
      auto name = types_.names.find(target_type);
      if (name == types_.names.end()) continue;
      if (!inc.target_type.empty() && inc.target_type != name->second) continue;
      sql q;
      q << "SELECT DISTINCT s.res_pk, s.target_id FROM ix_reference s WHERE s.param_id IN (SELECT value FROM json_each(";
      q.bind(json_list(params));
      q << ")) AND s.target_id IN (SELECT value FROM json_each(";
      q.bind(json_strings(ids));
      q << ")) AND s.target_type = ";
      q.bind(name->second);
      // The sources whose canonical (or absolute URL) is a target's `url`: from the targets' url rows to
      // the sources' by URL (CROSS JOIN keeps that order; the partial index on (param_id, url) serves it).
      if (auto url = params_.find(target_type, "url")) {
        q << " UNION SELECT s.res_pk, t.id FROM ix_uri u CROSS JOIN resource t ON t.pk = u.res_pk CROSS JOIN ix_reference s ON "
             "s.param_id IN (SELECT value FROM json_each(";
        q.bind(json_list(params));
        q << ")) AND s.url = u.uri AND s.url <> '' WHERE u.param_id = ";
        q.bind(*url);
        q << " AND u.res_pk IN (SELECT value FROM json_each(";
        q.bind(json_list(pks_of(targets, target_type)));
        q << "))";
      }
      explain_include(inc, q);
      auto st = db_.prepared(q.text);
      bind_all(*st, q.values);
      while (st->step())
        if (auto target = pk_of.find({target_type, std::string(st->column_text(1))}); target != pk_of.end())
          out.push_back({st->column_int64(0), target->second});
    }
    return out;
  }

  std::vector<std::pair<std::int64_t, resource_version>> load(const std::vector<std::int64_t>& pks) {
    std::vector<std::pair<std::int64_t, resource_version>> out;
    if (pks.empty()) return out;
    auto st = db_.cached(
        "SELECT r.pk, r.type_id, r.id, r.version, r.last_updated, v.verb, v.created, v.body FROM resource r "
        "JOIN resource_version v ON v.pk = r.pk AND v.version = r.version "
        "WHERE r.pk IN (SELECT value FROM json_each(?1)) AND r.deleted = 0 ORDER BY r.pk");
    st->bind(1, json_list(pks));
    while (st->step()) out.emplace_back(st->column_int64(0), read_version(*st, 0));
    return out;
  }

  database& db_;
  const param_ids& params_;
  const type_table& types_;
  const search_request& request_;
  const fhir::search::search_query& query_;
  std::vector<std::int64_t> query_type_ids_;
  // The types of the results when they are not the query's (_contained: the containers'; any when set).
  std::vector<std::int64_t> result_type_ids_;
  bool any_result_type_ = false;
  std::optional<sql> contained_source_;  // _containedType=contained: contained_matches()
  std::set<std::string> explained_includes_;  // with explain: the includes whose plan is in include_plan_
  std::vector<std::string> include_plan_;
  std::map<std::int64_t, bool> contained_types_;  // any_contained()
  std::vector<std::int64_t> page_pks_;
  drive drive_ = drive::set;
  std::vector<sql> clause_sets_;                    // each clause's matching pks
  std::vector<std::optional<sql>> clause_filters_;  // each clause as a correlated filter, when it has one
};

}  // namespace

// True for the errors SQLite gives a statement beyond its own limits (bound variables, expression depth,
// terms of a compound SELECT, the parser's stack, a statement's length): the search is too large, which
// the caller can change; the store is not at fault. SQLite's messages are stable text.
bool beyond_sqlite_limits(const sqlite_error& e) {
  if (e.code() == SQLITE_TOOBIG) return true;
  std::string_view what = e.what();
  for (std::string_view limit : {"too many SQL variables", "Expression tree is too large", "too many terms in compound SELECT",
                                 "parser stack overflow", "too many columns", "too many FROM clause terms"})
    if (what.find(limit) != std::string_view::npos) return true;
  return false;
}

fhir::result<search_page> run_search(database& db, const param_ids& params, const type_table& types,
                                     const search_request& request) {
  try {
    return search_run(db, params, types, request).run();
  } catch (const sqlite_error& e) {
    if (!beyond_sqlite_limits(e)) throw;
    return invalid("The search is too large to run here (it reaches too many resource types, values or levels at once): "
                   "narrow it, e.g. name the target types of chains with ':Type'",
                   "search-too-large");
  }
}

}  // namespace store::sqlite
