#pragma once
// The search index tables (schema version 2): the ids of search parameters, and writing a resource's
// index rows (fhir::search::index_set) inside the writer's transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fhir/search/index_entries.hpp"
#include "fhir/search/search_parameters.hpp"
#include "store/sqlite/database.hpp"

namespace store::sqlite {

// (resource type id, parameter code) -> param_id. Filled when the store opens (every parameter of the
// definitions gets an id then), immutable afterwards, so readers share it without locks.
class param_ids {
 public:
  // Registers every search parameter of `parameters` for the given types and loads the table.
  void load(database& db, const fhir::search::search_parameters* parameters,
            const std::unordered_map<std::string, std::int64_t>& type_ids);

  std::optional<std::int64_t> find(std::int64_t type_id, std::string_view code) const;
  // The id of resource type `name`, or nullopt.
  std::optional<std::int64_t> type_id(std::string_view name) const;
  // Every param_id whose rows a search on `code` reads: its own and those of the parameters covering
  // it (search_parameter::covered_by), with the same derived suffix (":identifier", ":of-type").
  std::vector<std::int64_t> find_all(std::int64_t type_id, std::string_view code) const;
  // Every reference parameter id whose (type, code) is known, by type id: for wildcard includes.
  const std::vector<std::int64_t>& reference_params(std::int64_t type_id) const;

 private:
  // Looked up for every index row written: by type, then by code without building a key string.
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::int64_t, std::unordered_map<std::string, std::int64_t, string_hash, std::equal_to<>>> ids_;
  std::unordered_map<std::int64_t, std::vector<std::int64_t>> references_;
  std::unordered_map<std::string, std::vector<std::string>> covered_by_;  // key: type_id + '/' + code
  std::unordered_map<std::string, std::int64_t, string_hash, std::equal_to<>> type_ids_;
  std::vector<std::int64_t> none_;
};

// The code under which contained resources' rows of parameter `code` are stored (schema 8).
inline std::string contained_code(std::string_view code) { return "#" + std::string(code); }

// Replaces the index rows of resource `pk` (of type `type_id`) with `index`, its contained resources'
// included. `fresh`: the resource is new, so it has no rows to remove.
void write_index(database& db, const param_ids& ids, std::int64_t pk, std::int64_t type_id,
                 const fhir::search::index_set& index, bool fresh = false);
// Deletes the index rows of resource `pk` and of the resources it contains.
void delete_index(database& db, std::int64_t pk);

}  // namespace store::sqlite
