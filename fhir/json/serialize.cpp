#include "fhir/json/serialize.hpp"

#include "fhir/text.hpp"

namespace fhir::json {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void write(std::string& out, const value& v, int indent, int depth);

void newline(std::string& out, int indent, int depth) {
  if (indent < 0) return;
  out.push_back('\n');
  out.append(static_cast<std::size_t>(indent * depth), ' ');
}

void write_array(std::string& out, const array& a, int indent, int depth) {
  out.push_back('[');
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (i) out.push_back(',');
    newline(out, indent, depth + 1);
    write(out, a[i], indent, depth + 1);
  }
  if (!a.empty()) newline(out, indent, depth);
  out.push_back(']');
}

void write_object(std::string& out, const object& o, int indent, int depth) {
  out.push_back('{');
  for (std::size_t i = 0; i < o.size(); ++i) {
    if (i) out.push_back(',');
    newline(out, indent, depth + 1);
    append_quoted(out, o[i].key);
    out.push_back(':');
    if (indent >= 0) out.push_back(' ');
    write(out, o[i].value, indent, depth + 1);
  }
  if (!o.empty()) newline(out, indent, depth);
  out.push_back('}');
}

void write(std::string& out, const value& v, int indent, int depth) {
  switch (v.kind()) {
    case kind::null: out += "null"; break;
    case kind::boolean: out += v.as_bool() ? "true" : "false"; break;
    case kind::number: out += v.as_number().text; break;
    case kind::string: append_quoted(out, v.as_string()); break;
    case kind::array: write_array(out, v.as_array(), indent, depth); break;
    case kind::object: write_object(out, v.as_object(), indent, depth); break;
  }
}

}  // namespace

void append_quoted(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t run = 0;  // start of the pending run of characters that need no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      // Text from the parser is valid UTF-8; text from elsewhere (a decoded URL) may not be. Invalid bytes
      // become U+FFFD so that the output is always valid JSON.
      std::size_t length = utf8_sequence_length(s.substr(i));
      if (length > 0) {
        i += length - 1;
        continue;
      }
      out.append(s.data() + run, i - run);
      run = i + 1;
      out += "\xEF\xBF\xBD";
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(hex_digits[c >> 4]);
        out.push_back(hex_digits[c & 0xF]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

std::string serialize(const value& v) {
  std::string out;
  write(out, v, -1, 0);
  return out;
}

std::string serialize_pretty(const value& v) {
  std::string out;
  write(out, v, 2, 0);
  return out;
}

}  // namespace fhir::json
