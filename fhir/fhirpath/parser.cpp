#include "fhir/fhirpath/parser.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "fhir/fhirpath/ucum.hpp"

namespace fhir::fhirpath {
namespace {

enum class token_kind {
  end,
  identifier,  // plain or `delimited`
  string,      // 'text' (unescaped)
  number,      // 12, 3.14
  temporal,    // @2015-02-04, @T10:30 (the text after '@')
  symbol,      // operators and punctuation
  special,     // $this, $index, $total
  variable,    // %name or %`name` or %'name'
};

struct token {
  token_kind kind = token_kind::end;
  std::string text;
  std::uint32_t position = 0;
  bool delimited = false;  // a `quoted` identifier (never a keyword)
};

class syntax_error : public std::exception {
 public:
  syntax_error(std::uint32_t position, std::string message) : position(position), message(std::move(message)) {}
  const char* what() const noexcept override { return message.c_str(); }
  std::uint32_t position;
  std::string message;
};

bool is_identifier_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_identifier_char(char c) { return is_identifier_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class lexer {
 public:
  explicit lexer(std::string_view text) : s_(text) {}

  token next() {
    skip_space_and_comments();
    token t;
    t.position = static_cast<std::uint32_t>(pos_);
    if (pos_ >= s_.size()) return t;
    char c = s_[pos_];
    if (is_identifier_start(c)) {
      std::size_t start = pos_;
      while (pos_ < s_.size() && is_identifier_char(s_[pos_])) ++pos_;
      t.kind = token_kind::identifier;
      t.text = s_.substr(start, pos_ - start);
      return t;
    }
    if (c == '`') {
      t.kind = token_kind::identifier;
      t.text = quoted('`');
      t.delimited = true;
      return t;
    }
    if (c == '\'') {
      t.kind = token_kind::string;
      t.text = quoted('\'');
      return t;
    }
    if (is_digit(c)) {
      std::size_t start = pos_;
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
      // A fraction needs digits after the point: "1.is(...)" is 1 followed by an invocation.
      if (pos_ + 1 < s_.size() && s_[pos_] == '.' && is_digit(s_[pos_ + 1])) {
        ++pos_;
        while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
      }
      t.kind = token_kind::number;
      t.text = s_.substr(start, pos_ - start);
      return t;
    }
    if (c == '@') {
      ++pos_;
      std::size_t start = pos_;
      while (pos_ < s_.size() && (is_digit(s_[pos_]) || s_[pos_] == '-' || s_[pos_] == ':' || s_[pos_] == 'T' ||
                                  s_[pos_] == 'Z' || s_[pos_] == '+' || s_[pos_] == '.')) {
        // A '.' belongs to the literal only when digits follow (milliseconds), not an invocation.
        if (s_[pos_] == '.' && !(pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1]))) break;
        // '+' and '-' after the clock start a zone; a '-' or '+' elsewhere ends the literal.
        ++pos_;
      }
      t.kind = token_kind::temporal;
      t.text = s_.substr(start, pos_ - start);
      if (t.text.empty()) throw syntax_error(t.position, "expected a date or time after '@'");
      return t;
    }
    if (c == '$') {
      std::size_t start = pos_++;
      while (pos_ < s_.size() && is_identifier_char(s_[pos_])) ++pos_;
      t.kind = token_kind::special;
      t.text = s_.substr(start, pos_ - start);
      if (t.text != "$this" && t.text != "$index" && t.text != "$total")
        throw syntax_error(t.position, fmt::format("unknown special variable '{}'", t.text));
      return t;
    }
    if (c == '%') {
      ++pos_;
      t.kind = token_kind::variable;
      if (pos_ < s_.size() && s_[pos_] == '`') t.text = quoted('`');
      else if (pos_ < s_.size() && s_[pos_] == '\'') t.text = quoted('\'');
      else {
        std::size_t start = pos_;
        while (pos_ < s_.size() && (is_identifier_char(s_[pos_]) || s_[pos_] == '-')) ++pos_;
        t.text = s_.substr(start, pos_ - start);
      }
      if (t.text.empty()) throw syntax_error(t.position, "expected a variable name after '%'");
      return t;
    }
    static constexpr std::string_view two_char[] = {"<=", ">=", "!=", "!~"};
    for (std::string_view op : two_char) {
      if (s_.substr(pos_, 2) == op) {
        pos_ += 2;
        t.kind = token_kind::symbol;
        t.text = op;
        return t;
      }
    }
    static constexpr std::string_view one_char = ".[](),+-*/&|=~<>{}";
    if (one_char.find(c) != std::string_view::npos) {
      ++pos_;
      t.kind = token_kind::symbol;
      t.text = std::string(1, c);
      return t;
    }
    throw syntax_error(t.position, fmt::format("unexpected character '{}'", c));
  }

 private:
  void skip_space_and_comments() {
    for (;;) {
      while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r' || s_[pos_] == '\n')) ++pos_;
      if (s_.substr(pos_, 2) == "//") {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
        continue;
      }
      if (s_.substr(pos_, 2) == "/*") {
        auto end = s_.find("*/", pos_ + 2);
        if (end == std::string_view::npos) throw syntax_error(static_cast<std::uint32_t>(pos_), "unterminated comment");
        pos_ = end + 2;
        continue;
      }
      return;
    }
  }

  // Reads a quoted string or delimited identifier with FHIRPath's escapes.
  std::string quoted(char quote) {
    std::size_t start = pos_++;
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      char c = s_[pos_++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case '\'': case '"': case '`': case '\\': case '/': out.push_back(e); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          if (pos_ + 4 > s_.size()) throw syntax_error(static_cast<std::uint32_t>(pos_), "incomplete \\u escape");
          std::uint32_t cp = 0;
          for (int i = 0; i < 4; ++i) {
            char h = s_[pos_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= static_cast<std::uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= static_cast<std::uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= static_cast<std::uint32_t>(h - 'A' + 10);
            else throw syntax_error(static_cast<std::uint32_t>(pos_ - 1), "invalid \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default: throw syntax_error(static_cast<std::uint32_t>(pos_ - 2), fmt::format("invalid escape '\\{}'", e));
      }
    }
    if (pos_ >= s_.size())
      throw syntax_error(static_cast<std::uint32_t>(start), quote == '`' ? "unterminated identifier" : "unterminated string");
    ++pos_;
    return out;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

struct operator_info {
  binary_op op;
  int precedence;
};

// Binary operators by token; a higher precedence binds tighter.
std::optional<operator_info> binary_operator(const token& t) {
  if (t.kind == token_kind::symbol) {
    const std::string& s = t.text;
    if (s == "*") return operator_info{binary_op::multiply, 10};
    if (s == "/") return operator_info{binary_op::divide, 10};
    if (s == "+") return operator_info{binary_op::add, 9};
    if (s == "-") return operator_info{binary_op::subtract, 9};
    if (s == "&") return operator_info{binary_op::concatenate, 9};
    if (s == "|") return operator_info{binary_op::union_, 7};
    if (s == "<") return operator_info{binary_op::less, 6};
    if (s == ">") return operator_info{binary_op::greater, 6};
    if (s == "<=") return operator_info{binary_op::less_equal, 6};
    if (s == ">=") return operator_info{binary_op::greater_equal, 6};
    if (s == "=") return operator_info{binary_op::equal, 5};
    if (s == "~") return operator_info{binary_op::equivalent, 5};
    if (s == "!=") return operator_info{binary_op::not_equal, 5};
    if (s == "!~") return operator_info{binary_op::not_equivalent, 5};
    return std::nullopt;
  }
  if (t.kind != token_kind::identifier || t.delimited) return std::nullopt;
  const std::string& s = t.text;
  if (s == "div") return operator_info{binary_op::div, 10};
  if (s == "mod") return operator_info{binary_op::mod, 10};
  if (s == "in") return operator_info{binary_op::in, 4};
  if (s == "contains") return operator_info{binary_op::contains, 4};
  if (s == "and") return operator_info{binary_op::and_, 3};
  if (s == "or") return operator_info{binary_op::or_, 2};
  if (s == "xor") return operator_info{binary_op::xor_, 2};
  if (s == "implies") return operator_info{binary_op::implies, 1};
  return std::nullopt;
}

constexpr int type_operator_precedence = 8;
constexpr int unary_precedence = 11;

// How deep an expression may nest, in the parser's recursion (parentheses, arguments, unary signs) and in
// the tree it builds (long chains such as a.b.c... or 1+1+1... are deep trees built without recursion):
// the compiler and the evaluator recurse on the tree, so an unbounded depth would overflow the stack on
// hostile input. Real expressions (the R4 and UK Core invariants, search parameters) stay far below.
constexpr int max_nesting = 256;

class parser {
 public:
  explicit parser(std::string_view text) : lexer_(text) { advance(); }

  ast run() {
    out_.root = expression(0);
    if (current_.kind != token_kind::end) fail("an operator or the end of the expression");
    return std::move(out_);
  }

 private:
  std::int32_t expression(int min_precedence) {
    nesting_guard guard(*this);
    std::int32_t lhs = unary();
    for (;;) {
      if (current_.kind == token_kind::identifier && !current_.delimited && (current_.text == "is" || current_.text == "as")) {
        if (type_operator_precedence < min_precedence) break;
        bool is = current_.text == "is";
        std::uint32_t position = current_.position;
        advance();
        ast_node n{is ? node_kind::type_is : node_kind::type_as};
        n.position = position;
        n.args = {lhs};
        n.type = type_spec();
        lhs = add(std::move(n));
        continue;
      }
      auto op = binary_operator(current_);
      if (!op || op->precedence < min_precedence) break;
      std::uint32_t position = current_.position;
      advance();
      std::int32_t rhs = expression(op->precedence + 1);  // left-associative
      ast_node n{node_kind::binary};
      n.op = op->op;
      n.position = position;
      n.args = {lhs, rhs};
      lhs = add(std::move(n));
    }
    return lhs;
  }

  std::int32_t unary() {
    if (current_.kind == token_kind::symbol && (current_.text == "-" || current_.text == "+")) {
      bool minus = current_.text == "-";
      std::uint32_t position = current_.position;
      advance();
      std::int32_t operand = expression(unary_precedence);
      ast_node n{minus ? node_kind::unary_minus : node_kind::unary_plus};
      n.position = position;
      n.args = {operand};
      return add(std::move(n));
    }
    return postfix(term());
  }

  std::int32_t postfix(std::int32_t input) {
    for (;;) {
      if (is_symbol(".")) {
        advance();
        input = invocation(input);
      } else if (is_symbol("[")) {
        std::uint32_t position = current_.position;
        advance();
        std::int32_t index = expression(0);
        expect("]");
        ast_node n{node_kind::indexer};
        n.position = position;
        n.input = input;
        n.args = {index};
        input = add(std::move(n));
      } else {
        return input;
      }
    }
  }

  std::int32_t term() {
    token t = current_;
    switch (t.kind) {
      case token_kind::end: fail("an expression");
      case token_kind::number: return number_or_quantity();
      case token_kind::string: {
        advance();
        return literal_string(t);
      }
      case token_kind::temporal: {
        advance();
        return temporal_literal(t);
      }
      case token_kind::special: {
        advance();
        ast_node n{t.text == "$this" ? node_kind::this_value : t.text == "$index" ? node_kind::index_value : node_kind::total_value};
        n.position = t.position;
        return add(std::move(n));
      }
      case token_kind::variable: {
        advance();
        ast_node n{node_kind::variable};
        n.position = t.position;
        n.name = t.text;
        return add(std::move(n));
      }
      case token_kind::symbol:
        if (t.text == "(") {
          advance();
          std::int32_t inner = expression(0);
          expect(")");
          return inner;
        }
        if (t.text == "{") {
          advance();
          expect("}");
          ast_node n{node_kind::literal};
          n.position = t.position;
          n.empty_literal = true;
          return add(std::move(n));
        }
        fail("an expression");
      case token_kind::identifier:
        if (!t.delimited && (t.text == "true" || t.text == "false")) {
          advance();
          ast_node n{node_kind::literal};
          n.position = t.position;
          n.value = item::of_boolean(t.text == "true");
          return add(std::move(n));
        }
        return invocation(-1);
    }
    fail("an expression");
  }

  // identifier | identifier '(' args ')' applied to `input` (-1: the focus).
  std::int32_t invocation(std::int32_t input) {
    if (current_.kind == token_kind::special) {
      // "$this" after a dot is unusual but legal: treat as the special value.
      return term();
    }
    if (current_.kind != token_kind::identifier) fail("a name after '.'");
    token name = current_;
    advance();
    if (is_symbol("(")) {
      advance();
      ast_node n{node_kind::function};
      n.position = name.position;
      n.input = input;
      n.name = name.text;
      if (!is_symbol(")")) {
        for (;;) {
          n.args.push_back(expression(0));
          if (is_symbol(",")) {
            advance();
            continue;
          }
          break;
        }
      }
      expect(")");
      return add(std::move(n));
    }
    ast_node n{node_kind::member};
    n.position = name.position;
    n.input = input;
    n.name = name.text;
    return add(std::move(n));
  }

  type_specifier type_spec() {
    if (current_.kind != token_kind::identifier) fail("a type name");
    type_specifier spec;
    spec.name = current_.text;
    advance();
    if (is_symbol(".") ) {
      advance();
      if (current_.kind != token_kind::identifier) fail("a type name after '.'");
      spec.namespace_name = std::move(spec.name);
      spec.name = current_.text;
      advance();
    }
    return spec;
  }

  std::int32_t number_or_quantity() {
    token number = current_;
    advance();
    // A quantity: a number followed by a unit string or a calendar duration keyword.
    if (current_.kind == token_kind::string ||
        (current_.kind == token_kind::identifier && !current_.delimited && !ucum::calendar_keyword(current_.text).empty())) {
      token unit = current_;
      advance();
      auto value = decimal::parse(number.text);
      if (!value) throw syntax_error(number.position, fmt::format("number '{}' is out of range", number.text));
      ast_node n{node_kind::literal};
      n.position = number.position;
      n.literal_text = unit.text;  // calendar keywords keep their spelling ("4 days"); resolution normalises
      n.value = item::of_quantity(quantity{*value, {}});  // the unit view is bound after parsing
      return add(std::move(n));
    }
    ast_node n{node_kind::literal};
    n.position = number.position;
    if (number.text.find('.') == std::string::npos) {
      std::int64_t v = 0;
      bool overflow = false;
      for (char c : number.text) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v)) overflow = true;
      }
      if (!overflow) {
        n.value = item::of_integer(v);
        return add(std::move(n));
      }
    }
    auto value = decimal::parse(number.text);
    if (!value) throw syntax_error(number.position, fmt::format("number '{}' is out of range", number.text));
    n.value = item::of_decimal(*value);
    return add(std::move(n));
  }

  std::int32_t literal_string(const token& t) {
    ast_node n{node_kind::literal};
    n.position = t.position;
    n.literal_text = t.text;
    n.value = item::of_string({});  // bound to literal_text after parsing
    return add(std::move(n));
  }

  std::int32_t temporal_literal(const token& t) {
    std::optional<temporal> value;
    std::string_view text = t.text;
    if (text.starts_with('T')) {
      value = temporal::parse_time(text.substr(1));
    } else if (text.find('T') != std::string_view::npos) {
      // "2015T" and "2015-02-04T" are DateTimes with date precision.
      std::string_view trimmed = text.ends_with('T') ? text.substr(0, text.size() - 1) : text;
      value = temporal::parse_date_time(trimmed);
    } else {
      value = temporal::parse_date(text);
    }
    if (!value) throw syntax_error(t.position, fmt::format("'@{}' is not a valid date, dateTime or time", t.text));
    ast_node n{node_kind::literal};
    n.position = t.position;
    n.value = item::of_temporal(*value);
    return add(std::move(n));
  }

  std::int32_t add(ast_node n) {
    int depth = 1;
    if (n.input >= 0) depth = std::max(depth, 1 + depths_[static_cast<std::size_t>(n.input)]);
    for (std::int32_t a : n.args) depth = std::max(depth, 1 + depths_[static_cast<std::size_t>(a)]);
    if (depth > max_nesting) too_deep(n.position);
    out_.nodes.push_back(std::move(n));
    depths_.push_back(depth);
    return static_cast<std::int32_t>(out_.nodes.size() - 1);
  }

  struct nesting_guard {
    explicit nesting_guard(parser& p) : p_(p) {
      if (++p_.nesting_ > max_nesting) p_.too_deep(p_.current_.position);
    }
    ~nesting_guard() { --p_.nesting_; }
    parser& p_;
  };

  [[noreturn]] void too_deep(std::uint32_t position) {
    throw syntax_error(position, fmt::format("the expression nests more than {} levels deep", max_nesting));
  }

  bool is_symbol(std::string_view s) const { return current_.kind == token_kind::symbol && current_.text == s; }

  void expect(std::string_view s) {
    if (!is_symbol(s)) fail(fmt::format("'{}'", s));
    advance();
  }

  [[noreturn]] void fail(std::string_view expected) {
    std::string found = current_.kind == token_kind::end ? "the end of the expression" : fmt::format("'{}'", current_.text);
    throw syntax_error(current_.position, fmt::format("expected {} but found {}", expected, found));
  }

  void advance() { current_ = lexer_.next(); }

  lexer lexer_;
  token current_;
  ast out_;
  std::vector<int> depths_;  // per node of out_: the depth of its subtree
  int nesting_ = 0;          // expression() calls active
};

}  // namespace

result<ast> parse(std::string_view text) {
  try {
    return parser(text).run();
  } catch (const syntax_error& e) {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < e.position && i < text.size(); ++i) {
      if (text[i] == '\n') ++line, column = 1;
      else ++column;
    }
    return error(error_kind::invalid, issue_type::invalid,
                 fmt::format("FHIRPath syntax error at line {}, column {}: {}", line, column, e.message),
                 "fhirpath-syntax");
  }
}

}  // namespace fhir::fhirpath
