#pragma once
// The search parameters of every resource type, compiled from the SearchParameter resources the
// registry holds (R4's and any package's): per type, each parameter's code, type, targets and the
// FHIRPath expression restricted to that type (R4 shares one expression between many types, e.g.
// "AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) | ..."; each type keeps
// only its own branches, so indexing a resource evaluates only what can match it).
//
// Immutable after construction and shared by the indexer, the query parser and the store.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/definitions/registry.hpp"
#include "fhir/fhirpath/fhirpath.hpp"

namespace fhir::search {

enum class param_type { number, date, string, token, reference, composite, quantity, uri, special };

std::optional<param_type> parse_param_type(std::string_view code);
std::string_view to_string(param_type type);

struct search_parameter {
  std::string code;         // "family", "_lastUpdated"
  param_type type = param_type::string;
  std::string url;          // canonical of the SearchParameter
  std::string description;
  std::string expression;   // restricted to one resource type; empty when not indexed from content
  std::optional<fhirpath::expression> compiled;
  std::vector<std::string> targets;  // reference targets ("Patient", ...); empty: any
  // Composite: the components' parameters (same resource type) and their expressions relative to each
  // value the composite's expression selects.
  struct component {
    const search_parameter* parameter = nullptr;
    std::string expression;
    std::optional<fhirpath::expression> compiled;
  };
  std::vector<component> components;
  // _text (the narrative) and _content (all the resource's text): R4 gives them no expression; the
  // indexer extracts their text itself and searches match every word given.
  bool full_text = false;
  // Parameters of the same type whose rows are also this one's: what they store is branches of this
  // one's (R4's combo-code is code | component-code; a HumanName or Address branch counts as one branch
  // per part, so Patient.name is covered by family and given), so those values are stored once, under
  // them, and `compiled` keeps only the branches they do not cover (none at all for combo-code).
  std::vector<std::string> covered_by;
  // A `special` parameter whose expression selects elements with a latitude and a longitude (R4's
  // Location.near over Location.position): indexed as positions, searched by distance.
  bool position = false;
  // How a reference parameter's rows hold a value under the server's base URL: a Reference element's
  // by type and id (and URL when written absolute), a canonical or uri element's by URL alone; so a
  // search value `[base]/Type/id` is matched by type and id, by URL, or by either (a parameter over
  // both kinds of element, or one whose expression does not show which).
  enum class own_base_urls { type_id, url, type_id_or_url };
  own_base_urls urls = own_base_urls::type_id;

  // True when the server indexes the parameter from the resource's content.
  bool indexed() const { return compiled.has_value() || full_text || !covered_by.empty(); }
  // True when searches can use it: indexed, not `special`, and for a composite, of a shape the server
  // indexes (a token or reference, then a token, quantity, date, string or number, then optionally a
  // number: every composite of R4).
  bool searchable() const;
};

class search_parameters {
 public:
  explicit search_parameters(const definitions::registry& definitions);
  search_parameters(const search_parameters&) = delete;
  search_parameters& operator=(const search_parameters&) = delete;

  const definitions::registry& definitions() const { return defs_; }

  // The parameter `code` of resource type `type` (own or inherited from Resource/DomainResource).
  const search_parameter* find(std::string_view type, std::string_view code) const;
  // Every parameter of `type`, by code.
  const std::map<std::string, search_parameter, std::less<>>& of(std::string_view type) const;

 private:
  void add(const json::value& definition);
  void link_composites(const std::map<std::string, const json::value*, std::less<>>& by_url);
  void swap_misplaced_expressions(std::string_view type, search_parameter& p) const;
  void share_rows(std::map<std::string, search_parameter, std::less<>>& params);

  const definitions::registry& defs_;
  std::map<std::string, std::map<std::string, search_parameter, std::less<>>, std::less<>> by_type_;
  std::map<std::string, search_parameter, std::less<>> empty_;
};

// `expression` reduced to the top-level `|` branches that can apply to a resource of `type`: those
// starting with the type's name, with a type it derives from (Resource, DomainResource), or with
// something other than a type name. Empty when no branch applies.
std::string expression_for_type(std::string_view expression, std::string_view type,
                                const definitions::registry& definitions);

}  // namespace fhir::search
