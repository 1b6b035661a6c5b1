#pragma once
// Writes a Bundle as compact JSON text, splicing in stored resources as they are (they already are
// compact FHIR JSON), so a page of results is never parsed and re-serialised.
//
// Usage: set total/links, add entries, then finish(). Element order follows the Bundle definition.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/context.hpp"
#include "store/store.hpp"

namespace server {

class bundle_writer {
 public:
  explicit bundle_writer(std::string_view type);

  void set_total(std::int64_t total) { total_ = total; }
  void clear_total() { total_.reset(); }
  void add_link(std::string_view relation, std::string_view url);

  // A history entry: fullUrl, the resource (absent for a deletion), request (the verb that made the
  // version: POST, PUT or DELETE) and response (status, etag, lastModified).
  void add_history_entry(const settings& settings, const store::resource_version& version);

  // A searchset entry: fullUrl, the resource and search.mode ("match" or "include"). With a
  // `contained_id`, version.json is the resource of that local id inside the resource `version.info`
  // names, and the fullUrl is the container's with the local id as its fragment (search.html#contained).
  void add_search_entry(const settings& settings, const store::resource_version& version, std::string_view mode,
                        std::string_view contained_id = {});
  // A searchset entry with an OperationOutcome (compact JSON) about the search, search.mode "outcome".
  void add_outcome_entry(std::string_view operation_outcome);

  // A transaction-response or batch-response entry: the resource (compact JSON, may be empty) and the
  // response element: status line, location, etag, lastModified (empty ones left out) and an
  // OperationOutcome (compact JSON, may be empty).
  struct entry_response {
    std::string full_url;
    std::string resource;
    std::string status;
    std::string location;
    std::string etag;
    std::string last_modified;
    std::string outcome;
  };
  void add_response_entry(const entry_response& entry);

  std::string finish() &&;

 private:
  std::string type_;
  std::optional<std::int64_t> total_;
  std::string links_;
  std::string entries_;
};

}  // namespace server
