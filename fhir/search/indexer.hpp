#pragma once
// Extracts a resource's search index: every indexed search parameter of its type is evaluated
// (FHIRPath) and each value turned into entries of the parameter's type (index_entries.hpp).
// _id and _lastUpdated are not extracted: the store keeps them on every resource row.
//
// Thread-safe; evaluation environments are pooled.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fhir/json/value.hpp"
#include "fhir/search/index_entries.hpp"
#include "fhir/search/search_parameters.hpp"
#include "fhir/validation/environment_pool.hpp"

namespace fhir::search {

class indexer {
 public:
  // `local_bases`: this server's base URLs ("https://example.org/fhir"); an absolute reference under
  // one names a resource of this server (indexed as its Type/id), any other absolute reference a
  // resource elsewhere (indexed by its URL only). None: every absolute reference is another server's.
  indexer(const search_parameters& parameters, std::vector<std::string> local_bases);

  const std::vector<std::string>& local_bases() const { return local_bases_; }
  ~indexer();

  const search_parameters& parameters() const { return params_; }

  // The index of `resource`, and of each resource it contains (index_set::contained). Values a
  // parameter's expression yields that its type cannot index (a string where a date is expected) are
  // skipped, as search.html allows.
  index_set extract(const json::value& resource) const;

 private:
  // The index of `resource` alone; `container` is the resource whose `contained` its local references
  // ("#m1") name; `contained`: `resource` is one of them (no full text of its own).
  index_set extract_own(const json::value& resource, const json::value& container, bool contained = false) const;
  void add_full_text(const search_parameter& p, const json::value& resource, index_set& out) const;
  void extract_composite(const search_parameter& p, const json::value& resource, const json::value& container,
                         const fhirpath::collection& foci, fhirpath::environment& env, index_set& out) const;

  const search_parameters& params_;
  std::vector<std::string> local_bases_;  // without a final '/'
  mutable validation::environment_pool environments_;
  struct reference_stubs;
  std::unique_ptr<reference_stubs> stubs_;
};

// The parts of a reference string: "Patient/1", "Patient/1/_history/2", "http://x/fhir/Patient/1",
// "urn:uuid:...", "#contained". Fills type and id when the string has the RESTful form.
struct reference_parts {
  std::string type;
  std::string id;
  std::string version;
  bool absolute = false;
};
reference_parts split_reference(std::string_view reference);

// The resource of this server a reference names: a relative "Type/id" (a versioned one names its
// resource) or an absolute URL under one of `local_bases` ("https://example.org/fhir"). nullopt for
// another server's URL, a urn:, a local "#id" or a string without the RESTful form.
struct local_target {
  std::string type;
  std::string id;
};
std::optional<local_target> local_target_of(std::string_view reference, std::span<const std::string> local_bases);
// True when `reference` is an absolute URL under one of `local_bases` (each with or without a final '/').
bool under_local_base(std::string_view reference, std::span<const std::string> local_bases);

// The implicit range of a decimal as written (search.html#number): half a unit of its last digit
// either side. "100" -> [99.5, 100.5), "1.50" -> [1.495, 1.505).
struct number_range {
  double value, low, high;
};
std::optional<number_range> parse_number_range(std::string_view text);

// A UCUM quantity in canonical units: the unit named by its dimensions ("g.m-3") and the value scaled
// to it; nullopt when the unit is not understood or has an offset (Cel, [degF]).
std::optional<std::pair<std::string, double>> canonical_quantity(std::string_view ucum_code, double value);

}  // namespace fhir::search
