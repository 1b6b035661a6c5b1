#include "fhir/json/parse.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <fmt/format.h>

namespace fhir::json {
namespace {

// Builds a json::value from Boost.JSON's SAX events. Containers under construction live on `stack_`; a
// finished value is attached to the container below it (with the pending key when that is an object).
class dom_builder {
 public:
  explicit dom_builder(std::size_t max_values) : remaining_(max_values) {}
  bool too_many_values() const { return too_many_; }

  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  bool on_document_begin(boost::json::error_code&) { return true; }
  bool on_document_end(boost::json::error_code&) { return true; }

  bool on_array_begin(boost::json::error_code& ec) { return count(ec) && open(value(array{})); }
  bool on_array_end(std::size_t, boost::json::error_code&) { return close(); }
  bool on_object_begin(boost::json::error_code& ec) { return count(ec) && open(value(object{})); }
  bool on_object_end(std::size_t, boost::json::error_code&) { return close(); }

  bool on_string_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
    text_.append(s.data(), s.size());
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t, boost::json::error_code& ec) {
    if (!count(ec)) return false;
    text_.append(s.data(), s.size());
    add(value(std::exchange(text_, {})));
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::json::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_number_part(boost::json::string_view s, boost::json::error_code&) {
    text_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t, boost::json::string_view s, boost::json::error_code& ec) { return count(ec) && on_number(s); }
  bool on_uint64(std::uint64_t, boost::json::string_view s, boost::json::error_code& ec) { return count(ec) && on_number(s); }
  bool on_double(double, boost::json::string_view s, boost::json::error_code& ec) { return count(ec) && on_number(s); }
  bool on_bool(bool b, boost::json::error_code& ec) {
    if (!count(ec)) return false;
    add(value(b));
    return true;
  }
  bool on_null(boost::json::error_code& ec) {
    if (!count(ec)) return false;
    add(value(nullptr));
    return true;
  }
  bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }

  value take_result() { return std::move(result_); }

 private:
  bool on_number(boost::json::string_view s) {
    text_.append(s.data(), s.size());
    add(value(number{std::exchange(text_, {})}));
    return true;
  }

  bool count(boost::json::error_code& ec) {
    if (remaining_ > 0) {
      --remaining_;
      return true;
    }
    too_many_ = true;
    ec = boost::json::error::exception;  // any error stops the parser; too_many_ says which
    return false;
  }

  bool open(value container) {
    keys_.push_back(std::exchange(key_, {}));
    stack_.push_back(std::move(container));
    return true;
  }

  bool close() {
    value done = std::move(stack_.back());
    stack_.pop_back();
    key_ = std::move(keys_.back());
    keys_.pop_back();
    add(std::move(done));
    return true;
  }

  void add(value v) {
    if (stack_.empty()) {
      result_ = std::move(v);
      return;
    }
    value& top = stack_.back();
    if (top.is_array()) {
      top.as_array().push_back(std::move(v));
    } else {
      top.as_object().push_back(member{std::exchange(key_, {}), std::move(v)});
    }
  }

  std::vector<value> stack_;
  std::vector<std::string> keys_;  // the key each open container will be stored under in its parent
  std::string key_;                // the pending key in the innermost object
  std::string text_;               // string or number text accumulated across parts
  value result_;
  std::size_t remaining_;          // values still allowed
  bool too_many_ = false;
};

struct line_column {
  std::size_t line = 1, column = 1;
};

line_column locate(std::string_view text, std::size_t offset) {
  line_column lc;
  offset = std::min(offset, text.size());
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++lc.line;
      lc.column = 1;
    } else {
      ++lc.column;
    }
  }
  return lc;
}

}  // namespace

result<value> parse(std::string_view text, const parse_options& options) {
  boost::json::parse_options opts;
  opts.max_depth = options.max_depth;
  opts.allow_comments = false;
  opts.allow_trailing_commas = false;
  opts.allow_invalid_utf8 = false;

  boost::json::basic_parser<dom_builder> parser(opts, options.max_values);
  boost::json::error_code ec;
  std::size_t consumed = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && consumed < text.size()) ec = boost::json::error::extra_data;
  if (ec) {
    line_column lc = locate(text, consumed);
    std::string reason = ec == boost::json::error::too_deep ? fmt::format("nesting deeper than {} levels", options.max_depth)
                         : parser.handler().too_many_values() ? fmt::format("more than {} values", options.max_values)
                                                              : ec.message();
    return error(error_kind::invalid, issue_type::structure,
                 fmt::format("The body is not valid JSON: {} at line {}, column {}", reason, lc.line, lc.column),
                 "json-syntax");
  }
  return parser.handler().take_result();
}

}  // namespace fhir::json
