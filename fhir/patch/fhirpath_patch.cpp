#include "fhir/patch/fhirpath_patch.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fhir/fhirpath/collection.hpp"
#include "fhir/fhirpath/fhirpath.hpp"
#include "fhir/fhirpath/model.hpp"
#include "fhir/text.hpp"

namespace fhir::patch {
namespace {

error malformed(std::size_t op, std::string what) {
  return error(error_kind::invalid, issue_type::invalid, fmt::format("FHIRPath Patch operation {}: {}", op, what),
               "fhirpath-patch-invalid", fmt::format("Parameters.parameter[{}]", op));
}

error cannot_apply(std::size_t op, std::string what) {
  return error(error_kind::unprocessable, issue_type::processing, fmt::format("FHIRPath Patch operation {}: {}", op, what),
               "fhirpath-patch-failed", fmt::format("Parameters.parameter[{}]", op));
}

// One operation's parts: type, path, name, index, source, destination, and the value as JSON with the
// suffix of its value[x] name ("Quantity" for valueQuantity; empty for a value made of parts).
struct operation {
  std::string type, path, name;
  std::optional<std::int64_t> index, source, destination;
  std::optional<json::value> value;
  std::string value_type;
};

std::optional<std::int64_t> integer_of(const json::value& part) {
  const json::value* v = part.find("valueInteger");
  if (!v || !v->is_number()) return std::nullopt;
  const std::string& text = v->as_number().text;
  std::int64_t i = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return i;
}

// value[x] of a part: its JSON and type suffix; a value given as parts (an anonymous backbone element)
// becomes an object of those parts.
std::optional<std::pair<json::value, std::string>> value_of(const json::value& part) {
  if (!part.is_object()) return std::nullopt;
  for (const auto& m : part.as_object())
    if (m.key.starts_with("value") && m.key.size() > 5) return std::pair{m.value, m.key.substr(5)};
  if (const json::value* parts = part.find("part"); parts && parts->is_array()) {
    json::value object = json::object{};
    for (const json::value& p : parts->as_array()) {
      const std::string* name = p.find_string("name");
      auto v = value_of(p);
      if (!name || !v) return std::nullopt;
      object.set(*name, std::move(v->first));
    }
    return std::pair{std::move(object), std::string()};
  }
  return std::nullopt;
}

result<operation> read_operation(const json::value& parameter, std::size_t n) {
  operation op;
  const json::value* parts = parameter.find("part");
  if (!parts || !parts->is_array()) return malformed(n, "an operation has parts (type, path, ...)");
  for (const json::value& part : parts->as_array()) {
    const std::string* name = part.find_string("name");
    if (!name) return malformed(n, "every part has a name");
    auto text = [&](std::string& out) -> bool {
      for (const char* key : {"valueCode", "valueString"})
        if (const std::string* s = part.find_string(key)) {
          out = *s;
          return true;
        }
      return false;
    };
    if (*name == "type" || *name == "path" || *name == "name") {
      std::string& field = *name == "type" ? op.type : *name == "path" ? op.path : op.name;
      if (!text(field)) return malformed(n, fmt::format("part '{}' needs a string value", *name));
    } else if (*name == "index" || *name == "source" || *name == "destination") {
      auto i = integer_of(part);
      if (!i || *i < 0) return malformed(n, fmt::format("part '{}' needs a non-negative valueInteger", *name));
      (*name == "index" ? op.index : *name == "source" ? op.source : op.destination) = *i;
    } else if (*name == "value") {
      auto v = value_of(part);
      if (!v) return malformed(n, "part 'value' needs a value[x] or parts");
      op.value = std::move(v->first);
      op.value_type = std::move(v->second);
    } else {
      return malformed(n, fmt::format("unknown part '{}'", utf8_prefix(*name, 60)));
    }
  }
  if (op.type.empty() || op.path.empty()) return malformed(n, "type and path are required");
  return op;
}

// Where a JSON value sits in the document: its container (object member or array slot).
struct location {
  json::value* container = nullptr;
  std::string key;        // object member name
  std::size_t index = 0;  // array slot
  bool in_array = false;
};

bool find_location(json::value& at, const json::value* wanted, location& out) {
  if (at.is_object()) {
    for (auto& m : at.as_object()) {
      if (&m.value == wanted) {
        out = location{&at, m.key, 0, false};
        return true;
      }
      if (m.value.is_array()) {
        auto& items = m.value.as_array();
        for (std::size_t i = 0; i < items.size(); ++i)
          if (&items[i] == wanted) {
            out = location{&m.value, m.key, i, true};
            return true;
          }
      }
      if (find_location(m.value, wanted, out)) return true;
    }
  } else if (at.is_array()) {
    for (auto& item : at.as_array())
      if (find_location(item, wanted, out)) return true;
  }
  return false;
}

// The nodes a path selects in `doc` (the document is only read here; callers edit through locations).
result<std::vector<fhirpath::node>> select(json::value& doc, const std::string& path, const definitions::registry& definitions,
                                           std::size_t n) {
  auto expression = fhirpath::compile(path, definitions);
  if (!expression) return malformed(n, fmt::format("path '{}': {}", utf8_prefix(path, 200), expression.error().summary()));
  fhirpath::environment env(definitions);
  auto result = expression->evaluate(doc, env);
  if (!result) return cannot_apply(n, fmt::format("path '{}': {}", utf8_prefix(path, 200), result.error().summary()));
  std::vector<fhirpath::node> nodes;
  for (const fhirpath::item& i : *result) {
    if (i.kind() != fhirpath::item_kind::node || !i.as_node().value)
      return cannot_apply(n, fmt::format("path '{}' selects something that is not an element", utf8_prefix(path, 200)));
    nodes.push_back(i.as_node());
  }
  return nodes;
}

result<fhirpath::node> select_one(json::value& doc, const operation& op, const definitions::registry& definitions, std::size_t n) {
  auto nodes = select(doc, op.path, definitions, n);
  if (!nodes) return std::move(nodes).error();
  if (nodes->size() != 1)
    return cannot_apply(n, fmt::format("path '{}' must select exactly one element; it selects {}", utf8_prefix(op.path, 200), nodes->size()));
  return nodes->front();
}

result<fhir::done> apply_one(json::value& doc, const operation& op, const definitions::registry& definitions, std::size_t n) {
  if (op.type == "delete") {
    auto nodes = select(doc, op.path, definitions, n);
    if (!nodes) return std::move(nodes).error();
    if (nodes->empty()) return fhir::done{};  // deleting nothing is not an error (fhirpatch.html)
    if (nodes->size() > 1) return cannot_apply(n, fmt::format("path '{}' selects {} elements; delete takes one", op.path, nodes->size()));
    location where;
    if (!find_location(doc, nodes->front().value, where)) return cannot_apply(n, "the root cannot be deleted");
    if (where.in_array) {
      auto& items = where.container->as_array();
      items.erase(items.begin() + static_cast<std::ptrdiff_t>(where.index));
      if (items.empty()) {
        location list;
        if (find_location(doc, where.container, list)) list.container->erase(list.key);
      }
    } else {
      where.container->erase(where.key);
    }
    return fhir::done{};
  }
  if (op.type == "replace") {
    if (!op.value) return malformed(n, "replace needs a value");
    auto node = select_one(doc, op, definitions, n);
    if (!node) return std::move(node).error();
    *const_cast<json::value*>(node->value) = *op.value;
    return fhir::done{};
  }
  if (op.type == "add") {
    if (!op.value || op.name.empty()) return malformed(n, "add needs a name and a value");
    auto node = select_one(doc, op, definitions, n);
    if (!node) return std::move(node).error();
    auto* target = const_cast<json::value*>(node->value);
    if (!target->is_object()) return cannot_apply(n, fmt::format("'{}' is a primitive; add takes an element with children", op.path));
    fhirpath::model model(definitions);
    const definitions::element_definition* scope = model.scope_of(*node);
    const definitions::element_definition* child = scope ? scope->child(op.name) : nullptr;
    if (!child) return cannot_apply(n, fmt::format("'{}' has no element '{}'", op.path, utf8_prefix(op.name, 60)));
    std::string key = op.name;
    if (child->is_choice) {
      if (op.value_type.empty()) return malformed(n, fmt::format("'{}' is a choice; give the value as value[x]", op.name));
      key += op.value_type;
    }
    if (child->max > 1) {
      json::value* list = target->find(key);
      if (!list) list = &target->set(key, json::array{});
      if (!list->is_array()) return cannot_apply(n, fmt::format("'{}' is not a list", key));
      list->as_array().push_back(*op.value);
    } else {
      if (target->find(key)) return cannot_apply(n, fmt::format("'{}' already has '{}'; use replace", op.path, key));
      target->set(key, *op.value);
    }
    return fhir::done{};
  }
  if (op.type == "insert" || op.type == "move") {
    auto nodes = select(doc, op.path, definitions, n);
    if (!nodes) return std::move(nodes).error();
    if (nodes->empty()) return cannot_apply(n, fmt::format("path '{}' selects no list", op.path));
    location first;
    if (!find_location(doc, nodes->front().value, first) || !first.in_array)
      return cannot_apply(n, fmt::format("path '{}' is not a list", op.path));
    auto& items = first.container->as_array();
    if (op.type == "insert") {
      if (!op.value || !op.index) return malformed(n, "insert needs a value and an index");
      if (static_cast<std::size_t>(*op.index) > items.size()) return cannot_apply(n, fmt::format("index {} is past the end of the list", *op.index));
      items.insert(items.begin() + static_cast<std::ptrdiff_t>(*op.index), *op.value);
    } else {
      if (!op.source || !op.destination) return malformed(n, "move needs a source and a destination");
      if (static_cast<std::size_t>(*op.source) >= items.size() || static_cast<std::size_t>(*op.destination) >= items.size())
        return cannot_apply(n, "source or destination is past the end of the list");
      json::value moved = std::move(items[static_cast<std::size_t>(*op.source)]);
      items.erase(items.begin() + static_cast<std::ptrdiff_t>(*op.source));
      items.insert(items.begin() + static_cast<std::ptrdiff_t>(*op.destination), std::move(moved));
    }
    return fhir::done{};
  }
  return malformed(n, fmt::format("'{}' is not an operation type (add, insert, delete, replace, move)", utf8_prefix(op.type, 40)));
}

}  // namespace

result<json::value> apply_fhirpath_patch(const json::value& resource, const json::value& parameters,
                                         const definitions::registry& definitions) {
  const std::string* type = parameters.find_string("resourceType");
  if (!type || *type != "Parameters") return malformed(0, "a FHIRPath Patch is a Parameters resource");
  json::value doc = resource;
  const json::value* list = parameters.find("parameter");
  if (!list || !list->is_array()) return doc;
  for (std::size_t n = 0; n < list->as_array().size(); ++n) {
    const json::value& parameter = list->as_array()[n];
    const std::string* name = parameter.find_string("name");
    if (!name || *name != "operation") return malformed(n, "every parameter of a FHIRPath Patch is an 'operation'");
    auto op = read_operation(parameter, n);
    if (!op) return std::move(op).error();
    if (auto applied = apply_one(doc, *op, definitions, n); !applied) return std::move(applied).error();
  }
  return doc;
}

}  // namespace fhir::patch
