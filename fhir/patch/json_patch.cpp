#include "fhir/patch/json_patch.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/text.hpp"

namespace fhir::patch {
namespace {

error malformed(std::size_t op, std::string what) {
  return error(error_kind::invalid, issue_type::invalid, fmt::format("JSON Patch operation {}: {}", op, what),
               "json-patch-invalid");
}

error cannot_apply(std::size_t op, std::string what) {
  return error(error_kind::unprocessable, issue_type::processing, fmt::format("JSON Patch operation {}: {}", op, what),
               "json-patch-failed");
}

// A JSON Pointer (RFC 6901) as unescaped reference tokens; nullopt when malformed.
std::optional<std::vector<std::string>> tokens_of(std::string_view pointer) {
  std::vector<std::string> out;
  if (pointer.empty()) return out;
  if (pointer.front() != '/') return std::nullopt;
  std::string token;
  for (std::size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      out.push_back(std::move(token));
      token.clear();
    } else if (pointer[i] == '~') {
      if (i + 1 >= pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1')) return std::nullopt;
      token += pointer[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      token += pointer[i];
    }
  }
  return out;
}

// An array index token: digits without leading zeros (or "-" for the end when `allow_end`).
std::optional<std::size_t> index_of(const std::string& token, std::size_t size, bool allow_end) {
  if (allow_end && token == "-") return size;
  if (token.empty() || (token.size() > 1 && token[0] == '0')) return std::nullopt;
  std::size_t i = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), i);
  if (ec != std::errc() || end != token.data() + token.size()) return std::nullopt;
  if (i > size || (!allow_end && i == size)) return std::nullopt;
  return i;
}

json::value* resolve(json::value& root, const std::vector<std::string>& tokens, std::size_t count) {
  json::value* at = &root;
  for (std::size_t i = 0; i < count; ++i) {
    if (at->is_object()) {
      at = at->find(tokens[i]);
    } else if (at->is_array()) {
      auto index = index_of(tokens[i], at->as_array().size(), false);
      at = index ? &at->as_array()[*index] : nullptr;
    } else {
      at = nullptr;
    }
    if (!at) return nullptr;
  }
  return at;
}

std::optional<json::value> remove_at(json::value& root, const std::vector<std::string>& path) {
  if (path.empty()) return std::nullopt;
  json::value* parent = resolve(root, path, path.size() - 1);
  if (!parent) return std::nullopt;
  if (parent->is_object()) {
    json::value* v = parent->find(path.back());
    if (!v) return std::nullopt;
    json::value out = std::move(*v);
    parent->erase(path.back());
    return out;
  }
  if (parent->is_array()) {
    auto index = index_of(path.back(), parent->as_array().size(), false);
    if (!index) return std::nullopt;
    json::value out = std::move(parent->as_array()[*index]);
    parent->as_array().erase(parent->as_array().begin() + static_cast<std::ptrdiff_t>(*index));
    return out;
  }
  return std::nullopt;
}

bool add_at(json::value& root, const std::vector<std::string>& path, json::value v) {
  if (path.empty()) {
    root = std::move(v);
    return true;
  }
  json::value* parent = resolve(root, path, path.size() - 1);
  if (!parent) return false;
  if (parent->is_object()) {
    parent->set(path.back(), std::move(v));
    return true;
  }
  if (parent->is_array()) {
    auto index = index_of(path.back(), parent->as_array().size(), true);
    if (!index) return false;
    parent->as_array().insert(parent->as_array().begin() + static_cast<std::ptrdiff_t>(*index), std::move(v));
    return true;
  }
  return false;
}

// Values in `v` and its depth, to keep a patched document within the parser's limits: a run of `copy`
// operations could otherwise double a document until memory runs out.
void measure(const json::value& v, std::size_t depth, std::size_t& values, std::size_t& deepest) {
  ++values;
  deepest = std::max(deepest, depth);
  if (v.is_array())
    for (const auto& item : v.as_array()) measure(item, depth + 1, values, deepest);
  else if (v.is_object())
    for (const auto& m : v.as_object()) measure(m.value, depth + 1, values, deepest);
}

}  // namespace

result<json::value> apply_json_patch(const json::value& target, const json::value& patch) {
  if (!patch.is_array()) return malformed(0, "a JSON Patch document is an array of operations");
  json::value doc = target;
  const json::parse_options limits;
  std::size_t values = 0, deepest = 0;
  measure(doc, 1, values, deepest);
  std::size_t n = 0;
  for (const json::value& op : patch.as_array()) {
    const std::string* name = op.find_string("op");
    const std::string* path_text = op.find_string("path");
    if (!op.is_object() || !name || !path_text) return malformed(n, "every operation needs \"op\" and \"path\"");
    auto path = tokens_of(*path_text);
    if (!path) return malformed(n, fmt::format("'{}' is not a JSON Pointer", utf8_prefix(*path_text, 200)));
    const json::value* value = op.find("value");
    std::optional<std::vector<std::string>> from;
    if (*name == "move" || *name == "copy") {
      const std::string* from_text = op.find_string("from");
      if (!from_text || !(from = tokens_of(*from_text))) return malformed(n, fmt::format("{} needs a \"from\" JSON Pointer", *name));
    }
    if ((*name == "add" || *name == "replace" || *name == "test") && !value)
      return malformed(n, fmt::format("{} needs a \"value\"", *name));

    if (*name == "add" || *name == "replace") {
      std::size_t added = 0, depth = 0;
      measure(*value, path->size() + 1, added, depth);
      values += added;
      if (values > limits.max_values || depth > limits.max_depth)
        return cannot_apply(n, "the value would make the document larger or deeper than this server accepts");
    }
    if (*name == "add") {
      if (!add_at(doc, *path, *value)) return cannot_apply(n, fmt::format("cannot add at '{}'", utf8_prefix(*path_text, 200)));
    } else if (*name == "remove") {
      if (!remove_at(doc, *path)) return cannot_apply(n, fmt::format("nothing to remove at '{}'", utf8_prefix(*path_text, 200)));
    } else if (*name == "replace") {
      json::value* at = resolve(doc, *path, path->size());
      if (!at) return cannot_apply(n, fmt::format("nothing to replace at '{}'", utf8_prefix(*path_text, 200)));
      *at = *value;
    } else if (*name == "move") {
      if (path->size() > from->size() && std::equal(from->begin(), from->end(), path->begin()))
        return cannot_apply(n, "cannot move a value into itself");
      auto moved = remove_at(doc, *from);
      if (!moved || !add_at(doc, *path, std::move(*moved)))
        return cannot_apply(n, fmt::format("cannot move to '{}'", utf8_prefix(*path_text, 200)));
    } else if (*name == "copy") {
      json::value* source = resolve(doc, *from, from->size());
      if (!source) return cannot_apply(n, "nothing to copy at \"from\"");
      std::size_t added = 0, depth = 0;
      measure(*source, path->size() + 1, added, depth);
      values += added;
      if (values > limits.max_values || depth > limits.max_depth)
        return cannot_apply(n, "the copy would make the document larger or deeper than this server accepts");
      json::value copied = *source;
      if (!add_at(doc, *path, std::move(copied))) return cannot_apply(n, fmt::format("cannot copy to '{}'", utf8_prefix(*path_text, 200)));
    } else if (*name == "test") {
      json::value* at = resolve(doc, *path, path->size());
      if (!at || !(*at == *value)) return cannot_apply(n, fmt::format("test failed at '{}'", utf8_prefix(*path_text, 200)));
    } else {
      return malformed(n, fmt::format("'{}' is not a JSON Patch operation", utf8_prefix(*name, 40)));
    }
    ++n;
  }
  return doc;
}

}  // namespace fhir::patch
