#pragma once
// Search page tokens: where a keyset page starts. A token holds the highest pk when the first page ran
// (later creations never join the result), the sort key values and pk of the row it starts after (or,
// backwards, before), and a hash of the query it belongs to. It is opaque to clients (base64url JSON);
// a token that does not decode, or belongs to another query, is rejected.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "fhir/result.hpp"

namespace store::sqlite {

using sql_value = std::variant<std::int64_t, double, std::string>;

struct page_position {
  std::int64_t max_pk = 0;
  std::vector<sql_value> keys;
  std::int64_t pk = 0;
  bool backwards = false;
  bool from_token = false;

  bool first_page() const { return !from_token; }
};

std::string encode_position(const page_position& position, const std::string& query_hash);

// History pages: the token is the commit-order key the next page starts below ("1234"); empty is the
// first page (no bound). Fails invalid for anything else.
fhir::result<std::int64_t> history_position(const std::string& token);
std::optional<page_position> decode_page_token(const std::string& token, const std::string& query_hash);

}  // namespace store::sqlite
