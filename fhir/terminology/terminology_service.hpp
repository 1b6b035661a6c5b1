#pragma once
// Local terminology: which codes a ValueSet contains and which a CodeSystem defines, worked out from the
// ValueSets and CodeSystems the registry holds (R4 base, UK Core, packages). No terminology server:
// anything that needs one (SNOMED CT or dm+d filters, BCP-47 languages, UCUM units, a code system
// published only as a fragment) is `unknown`, never a guess, and a binding check then stays silent.
//
// Expansions are computed on first use and cached; the service is thread-safe.

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fhir/definitions/registry.hpp"

namespace fhir::terminology {

enum class membership { member, not_member, unknown };

class value_set_expansion;
class code_system_index;

class terminology_service {
 public:
  explicit terminology_service(const definitions::registry& definitions);
  ~terminology_service();
  terminology_service(const terminology_service&) = delete;
  terminology_service& operator=(const terminology_service&) = delete;

  // Is (system, code) in the value set? `unknown` when the value set is not known or the answer needs
  // terminology the server does not have.
  membership in_value_set(std::string_view value_set_url, std::string_view system, std::string_view code) const;
  // For a bare `code` element (its system is implied by the binding): is some code `code` in it?
  membership code_in_value_set(std::string_view value_set_url, std::string_view code) const;
  // Does the code system define `code`? `unknown` unless the code system is local and complete.
  membership in_code_system(std::string_view system, std::string_view code) const;
  // True when the value set is known locally (it may still be only partly expandable).
  bool knows_value_set(std::string_view value_set_url) const;

  // Every (system, code) of the value set, when it is known and fully expandable here and has at most
  // `max` codes; nullopt otherwise. For search's :in and :not-in.
  std::optional<std::vector<std::pair<std::string, std::string>>> enumerate(std::string_view value_set_url,
                                                                            std::size_t max) const;
  // `code` and the codes below it (descendants = true) or above it in a local, complete code system's
  // hierarchy; nullopt when the code system or the code is not known here. For :below and :above.
  std::optional<std::vector<std::string>> hierarchy(std::string_view system, std::string_view code, bool descendants) const;

 private:
  std::shared_ptr<const value_set_expansion> expansion(std::string_view url) const;
  std::shared_ptr<const code_system_index> code_system(std::string_view url) const;
  friend class expander;

  const definitions::registry& defs_;
  mutable std::shared_mutex mutex_;
  mutable std::unordered_map<std::string, std::shared_ptr<const value_set_expansion>, definitions::string_hash, std::equal_to<>>
      expansions_;  // guarded by mutex_
  mutable std::unordered_map<std::string, std::shared_ptr<const code_system_index>, definitions::string_hash, std::equal_to<>>
      code_systems_;  // guarded by mutex_
};

}  // namespace fhir::terminology
