#include "server/consent/contributors.hpp"

#include <algorithm>

#include "fhir/json/parse.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/http/url.hpp"

namespace server::consent {
namespace {

// Contributor pages read per clause before giving up (a clause with only hidden contributors among the
// first this many is treated as unsatisfied: fail closed).
constexpr int max_pages = 5;
constexpr std::size_t page_size = 50;
// Searches one match's check may run beyond the first hop of its clauses: a chain of several hops or a
// nested _has checks each contributor in turn, which without a bound multiplies by the contributors per
// hop. When it runs out, the clause is treated as unsatisfied (fail closed). The first hop's searches
// (one per target type and page) are bounded as before, by max_pages.
constexpr int max_searches_per_match = 40;

struct search_budget {
  int left = max_searches_per_match;
  int depth = 0;  // hops beyond the match's own clauses
};

// The search parameters whose elements a minimal Patient keeps (identifier, name, birthDate, gender): a
// Patient the caller sees only in minimal form contributes to a chain ending in one of these, and to no
// other (its address, telecom, ... are not the caller's to search by).
bool kept_by_minimal_patient(std::string_view parameter) {
  std::string_view code = parameter.substr(0, parameter.find(':'));
  for (std::string_view kept : {"_id", "identifier", "name", "family", "given", "phonetic", "birthdate", "gender"})
    if (code == kept) return true;
  return false;
}

bool clauses_hold_visibly(const context& ctx, const fhir_request& request, const fhir::search::search_query& query,
                          const store::resource_version& match, std::string_view skip, search_budget& budget);

// Whether `type` has a resource matching `criteria` that the caller may see (in minimal form only when
// `minimal_counts`). When the criteria reach further (a chain of several hops, a nested _has), the
// resource found must in turn hold them through resources the caller may see: a visible Encounter must
// not confirm the name of the hidden Patient it points at (`Observation?encounter.subject.name=x`). The
// first criterion leads back to the match being checked, so it is not checked again.
bool any_visible(const context& ctx, const fhir_request& request, const std::string& type, const http::query_params& criteria,
                 bool minimal_counts, bool reaches_further, search_budget& budget) {
  auto query = fhir::search::parse_query(ctx.search_parameters, type, criteria,
                                         {.strict = true, .terminology = &ctx.validator.terminology(), .local_bases = ctx.settings.own_bases()});
  if (!query) return false;  // a clause that cannot be restated is not trusted
  std::string token;
  for (int page = 0; page < max_pages; ++page) {
    if (budget.depth > 0 && budget.left-- <= 0) return false;
    auto found = ctx.store.search(store::search_request{*query, page_size, token});
    if (!found) return false;
    for (const store::search_entry& e : found->entries) {
      if (e.mode != store::search_mode::match) continue;
      fhir::consent::decision d = decide(ctx, *request.caller, e.version);
      bool seen = d.outcome == fhir::consent::verdict::permit || (d.outcome == fhir::consent::verdict::minimal && minimal_counts);
      if (seen && reaches_further) {
        ++budget.depth;
        bool holds = clauses_hold_visibly(ctx, request, *query, e.version, criteria.front().first, budget);
        --budget.depth;
        if (holds) return true;
      } else if (seen) {
        return true;
      }
    }
    if (found->next_token.empty()) return false;
    token = found->next_token;
  }
  return false;
}

// `subject:Patient.identifier` -> `identifier`: the chain after its first hop.
std::string after_first_hop(const std::string& name) {
  std::size_t dot = name.find('.');
  return dot == std::string::npos ? std::string() : name.substr(dot + 1);
}

// `_has:Observation:subject:code:text` -> `code:text`: the parameter the referring resource must meet
// (`_has:Provenance:target:agent` when nested).
std::string has_final_parameter(const std::string& name) {
  std::size_t at = 0;
  for (int colons = 0; colons < 3 && at != std::string::npos; ++colons) at = name.find(':', at + 1);
  return at == std::string::npos ? std::string() : name.substr(at + 1);
}

// A chain whose first hop is a local reference ("#m1") continues inside the match, in a resource it
// contains, which the caller sees with the match only when they see the match in full (a minimal form
// withholds it). Ending there, the chain holds with the match; continuing to other resources, each of
// those must hold the rest of the chain visibly, like any contributor.
bool holds_inside(const context& ctx, const fhir_request& request, const fhir::search::clause& c,
                  const store::resource_version& match, search_budget& budget) {
  // Stored bodies are compact JSON: without a local reference no chain can go inside.
  if (match.json.find("\"reference\":\"#") == std::string::npos) return false;
  if (decide(ctx, *request.caller, match).outcome != fhir::consent::verdict::permit) return false;
  std::string rest = after_first_hop(c.name);
  if (rest.find('.') == std::string::npos) {
    if (budget.depth > 0 && budget.left-- <= 0) return false;
    auto query = fhir::search::parse_query(ctx.search_parameters, match.info.type, {{"_id", match.info.id}, {c.name, c.raw_value}},
                                           {.strict = true, .terminology = &ctx.validator.terminology(),
                                            .local_bases = ctx.settings.own_bases()});
    if (!query) return false;
    auto found = ctx.store.search(store::search_request{.query = *query, .count = 1, .chains_inside_only = true});
    return found && !found->entries.empty();
  }
  // Further hops: from the references of the contained resources the first hop names, as the indexer
  // reads them (the store keeps no list of them by container).
  auto json = fhir::json::parse(match.json);
  if (!json) return false;
  store::prepared_resource prepared = ctx.store.prepare(std::move(*json));
  const fhir::search::chain_link& first = c.chain.front();
  const fhir::search::chain_link& second = c.chain[1];
  std::string beyond = after_first_hop(rest);
  bool single_hop = beyond.find('.') == std::string::npos;
  for (const fhir::search::reference_entry& local : prepared.index.references) {
    if (local.code != first.parameter->code || !local.target_id.starts_with('#') ||
        std::find(first.target_types.begin(), first.target_types.end(), local.target_type) == first.target_types.end())
      continue;
    for (const fhir::search::contained_index& inside : prepared.index.contained) {
      if (inside.id != local.target_id.substr(1) || inside.type != local.target_type) continue;
      for (const fhir::search::reference_entry& out : inside.index.references) {
        if (out.code != second.parameter->code || out.target_id.empty() || out.target_id.starts_with('#') ||
            std::find(second.target_types.begin(), second.target_types.end(), out.target_type) == second.target_types.end())
          continue;
        // Beyond the match's own content: charged to the match's budget like any later hop.
        ++budget.depth;
        bool holds = any_visible(ctx, request, out.target_type, {{"_id", out.target_id}, {beyond, c.raw_value}},
                                 single_hop && kept_by_minimal_patient(beyond), !single_hop, budget);
        --budget.depth;
        if (holds) return true;
      }
    }
  }
  return false;
}

bool clause_holds_visibly(const context& ctx, const fhir_request& request, const fhir::search::clause& c,
                          const store::resource_version& match, search_budget& budget) {
  const std::string& type = match.info.type;
  const std::string& id = match.info.id;
  if (!c.has.empty()) {
    std::string final_parameter = has_final_parameter(c.name);
    if (final_parameter.empty()) return false;
    // A Patient seen in minimal form never contributes here: it is found through its own reference to
    // the match (generalPractitioner, link), which the minimal form withholds. Through a canonical
    // parameter a source names the match by its URL (the store's _has follows those); restated so only
    // there: elsewhere a URL under the base would be read as another resource's Type/id.
    std::vector<std::string> names{type + "/" + id};
    const fhir::search::search_parameter& reference = *c.has.front().reference;
    if (reference.urls == fhir::search::search_parameter::own_base_urls::url && match.json.find("\"url\":") != std::string::npos)
      if (auto parsed = fhir::json::parse(match.json))
        if (const std::string* url = parsed->find_string("url")) names.push_back(fhir::search::escape_value(*url));
    for (const std::string& name : names)
      if (any_visible(ctx, request, c.has.front().source_type, {{c.has.front().reference->code, name}, {final_parameter, c.raw_value}},
                      false, c.has.size() > 1, budget))
        return true;
    return false;
  }
  const fhir::search::chain_link& first = c.chain.front();
  std::string rest = after_first_hop(c.name);
  if (rest.empty()) return false;
  // Every target type the chain may pass through is searched (a Location or Device target holds only if
  // one of those matches): a shortcut for reference data would let a chain pass through a hidden Patient.
  bool single_hop = rest.find('.') == std::string::npos;
  if (holds_inside(ctx, request, c, match, budget)) return true;
  for (const std::string& target : first.target_types)
    if (any_visible(ctx, request, target, {{"_has:" + type + ":" + first.parameter->code + ":_id", id}, {rest, c.raw_value}},
                    single_hop && kept_by_minimal_patient(rest), !single_hop, budget))
      return true;
  return false;
}

// Every chain and _has clause of `query` but the one named `skip` holds for `match` visibly.
bool clauses_hold_visibly(const context& ctx, const fhir_request& request, const fhir::search::search_query& query,
                          const store::resource_version& match, std::string_view skip, search_budget& budget) {
  for (const fhir::search::clause& c : query.clauses) {
    if ((c.chain.empty() && c.has.empty()) || c.name == skip) continue;
    if (!clause_holds_visibly(ctx, request, c, match, budget)) return false;
  }
  return true;
}

}  // namespace

bool contributors_visible(const context& ctx, const fhir_request& request, const fhir::search::search_query& query,
                          const store::resource_version& match) {
  if (!request.caller) return true;
  search_budget budget;
  return clauses_hold_visibly(ctx, request, query, match, {}, budget);
}

}  // namespace server::consent
