#pragma once
// A FHIR search request as a data structure (search.html): what the URL's parameters mean, checked
// against the search parameters of the type. The store turns it into SQL; nothing here knows SQL.
//
//   Observation?subject.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009&code=8867-4,8480-6
//       &date=ge2024-01-01&_sort=-date&_count=20&_include=Observation:subject
//
// Parameters are ANDed (each a `clause`); the comma-separated values of one clause are ORed.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fhir/outcome.hpp"
#include "fhir/result.hpp"
#include "fhir/search/position.hpp"
#include "fhir/search/search_parameters.hpp"
#include "fhir/terminology/terminology_service.hpp"

namespace fhir::search {

enum class prefix { eq, ne, gt, lt, ge, le, sa, eb, ap };

enum class modifier {
  none,
  missing,
  exact,
  contains,
  text,
  not_,
  above,
  below,
  in,
  not_in,
  of_type,
  identifier,
  type,  // :[type] on a reference: `type_name` holds it
};

// One value of a clause, parsed for the parameter's type. Only the fields of that type are set.
struct search_value {
  search::prefix prefix = prefix::eq;
  std::string text;         // string, uri, token code (unescaped), reference id or url, :text text
  std::string system;       // token / quantity system
  bool has_system = false;  // token: "system|code" or "|code" (no system) was written
  // token from a value set or hierarchy: the system, or none (a `code` element's system is implied by
  // its binding, so it is indexed without one)
  bool system_or_none = false;
  std::string code;         // quantity unit code; token code for :of-type
  std::int64_t low = 0, high = 0;  // date range
  double number = 0, number_low = 0, number_high = 0;
  std::string target_type;  // reference "Patient/123": Patient
  // reference: another spelling of one of this server's resources, also matched (search_parameter::urls):
  // the absolute URL of a value searched as Type/id, for a parameter whose rows may hold it by URL alone
  // too; or, for a parameter over canonicals, the relative `Type/id` beside `text`'s `[base]/Type/id`
  std::string url;
  bool missing = false;     // :missing=true
  near_value near;          // special: a Location.near point and distance
  // Composite: the values of the two components, each parsed for its own parameter's type.
  std::vector<search_value> components;
};

// A step of a chain: a reference parameter of the current type and the type(s) it leads to.
struct chain_link {
  const search_parameter* parameter = nullptr;
  std::vector<std::string> target_types;
};

// `_has:Observation:subject:code=x`: resources that an Observation's `subject` points at and whose
// `code` matches. Nested (`_has:Observation:subject:_has:Provenance:target:agent=x`): the Observations
// must in turn be the `target` of a Provenance whose `agent` matches.
struct reverse_chain {
  std::string source_type;
  const search_parameter* reference = nullptr;  // of source_type, pointing at us
};

struct clause {
  std::string name;  // as written, for messages and the self link
  std::vector<chain_link> chain;           // forward chain, applied first
  std::vector<reverse_chain> has;          // or a reverse chain, outermost first
  std::string type;                        // the resource type the final parameter belongs to
  const search_parameter* parameter = nullptr;  // null for _id and _lastUpdated (resource columns)
  std::string special;                     // "_id" or "_lastUpdated" when parameter is null
  search::modifier modifier = modifier::none;
  std::string modifier_type;               // :[type]
  std::vector<search_value> values;        // ORed
  std::string raw_value;                   // as written, for the self link
};

struct include {
  bool reverse = false;   // _revinclude
  bool iterate = false;   // :iterate (also :recurse)
  std::string source_type;  // the type holding the reference ("*" for all)
  const search_parameter* parameter = nullptr;  // null with wildcard
  std::string target_type;  // optional third part
  bool wildcard = false;
  std::string raw;          // as written
};

struct sort_key {
  std::string code;  // "_id", "_lastUpdated", or a parameter code
  const search_parameter* parameter = nullptr;
  bool descending = false;
};

enum class total_mode { none, estimate, accurate };
enum class summary_mode { none, true_, count, data, text, false_ };

// Compartment search (`Patient/123/Observation`): resources that any of `codes` (the compartment
// definition's parameters for the type) points at the compartment's owner. `owner_is_self`: the type
// is the compartment's own type (Patient in the Patient compartment), so only the owner matches.
struct compartment_filter {
  std::string owner_type;
  std::string owner_id;
  // Other resources standing for the same owner (linked Patient records of the same person): their
  // compartments are searched too.
  std::vector<std::string> linked_ids;
  std::vector<std::string> codes;
  bool owner_is_self = false;
};

// _contained (search.html#contained): whether the results are resources (the default), contained
// resources that match, or both. _containedType says how a contained match is returned: its container
// whole (`container`, the default) or the contained resource alone (`contained`).
enum class contained_mode { off, only, both };

struct search_query {
  std::vector<std::string> types;
  std::optional<compartment_filter> compartment;  // one type, or several for a system search with _type (empty: all)
  std::vector<clause> clauses;
  std::vector<include> includes;
  std::vector<sort_key> sort;
  std::optional<std::size_t> count;
  total_mode total = total_mode::none;
  summary_mode summary = summary_mode::none;
  std::vector<std::string> elements;
  std::vector<std::string> ignored;  // unknown or unsupported parameters (left out of the self link)
  contained_mode contained = contained_mode::off;
  bool contained_alone = false;  // _containedType=contained (no effect without _contained=true|both)
  // With _contained: the types a container may have (the caller's readable types; empty: any).
  std::vector<std::string> container_types;
};

struct parse_options {
  bool strict = false;  // Prefer: handling=strict: an unknown parameter is an error
  // _contained=true|both accepted: the results may be containers of other types. Only a search's own
  // results may be (conditional criteria, export filters and restated queries select the type's own
  // resources): elsewhere it is a 400.
  bool containers = false;
  // Expands :in/:not-in value sets and :below/:above code hierarchies (local terminology only);
  // without one those modifiers are unsupported.
  const terminology::terminology_service* terminology = nullptr;
  // The server's base URLs: a reference value under one (`[base]/Patient/1`) names that resource, and
  // is searched as `Patient/1` (which also finds it written relative); another URL by the URL alone.
  std::span<const std::string> local_bases = {};
};

// Parses the query's (name, value) pairs (already percent-decoded, in order) for a search on `type`
// (empty for a system search). Fails with kind invalid naming the parameter for malformed values,
// unknown modifiers and, when strict, unknown parameters. Paging parameters (_page_token and the
// like) are the caller's and must be removed first.
result<search_query> parse_query(const search_parameters& parameters, std::string_view type,
                                 const std::vector<std::pair<std::string, std::string>>& query,
                                 const parse_options& options = {});

// Splits a parameter value on unescaped `separator` (',' between OR values, '|' in tokens, '$' in
// composites) and removes the escapes (`\,` `\|` `\$` `\\`).
std::vector<std::string> split_escaped(std::string_view value, char separator);
// `text` as one search value: its `,` `|` `$` and `\` escaped, so it is read back as written.
std::string escape_value(std::string_view text);

std::string_view to_string(modifier m);

}  // namespace fhir::search
