#pragma once
// SQL built at run time (searches): the text with a `?` for every value, and the values in order, so
// every value is bound (ARCHITECTURE invariant 8).

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "store/sqlite/database.hpp"
#include "store/sqlite/page_token.hpp"

namespace store::sqlite {

struct sql {
  std::string text;
  std::vector<sql_value> values;

  sql& operator<<(std::string_view s) {
    text += s;
    return *this;
  }
  sql& bind(sql_value v) {
    text += '?';
    values.push_back(std::move(v));
    return *this;
  }
  sql& append(const sql& other) {
    text += other.text;
    values.insert(values.end(), other.values.begin(), other.values.end());
    return *this;
  }
};

inline void bind_all(statement& st, const std::vector<sql_value>& values) {
  int i = 1;
  for (const sql_value& v : values) {
    if (const auto* n = std::get_if<std::int64_t>(&v)) st.bind(i, *n);
    else if (const auto* d = std::get_if<double>(&v)) st.bind_real(i, *d);
    else st.bind(i, std::get<std::string>(v));
    ++i;
  }
}

}  // namespace store::sqlite
