#include "fhir/definitions/snapshot_generator.hpp"

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace fhir::definitions {
namespace {

constexpr std::string_view core_prefix = "http://hl7.org/fhir/StructureDefinition/";

// One element of the snapshot being built, with its children and slices. Ids and paths are not stored:
// they follow from the node's position (a node copied from a type's definition gets new ones for free).
struct node {
  json::value element;     // the ElementDefinition, without id and path
  std::string name;        // the last path segment: "identifier", "value[x]"
  std::string slice_name;  // non-empty for a slice
  std::vector<std::unique_ptr<node>> children;
  std::vector<std::unique_ptr<node>> slices;
  bool unfolded = false;  // the children are present (a complex type's children are added on demand)

  std::unique_ptr<node> clone(bool with_slices) const {
    auto copy = std::make_unique<node>();
    copy->element = element;
    copy->name = name;
    copy->slice_name = slice_name;
    copy->unfolded = unfolded;
    for (const auto& c : children) copy->children.push_back(c->clone(true));
    if (with_slices)
      for (const auto& s : slices) copy->slices.push_back(s->clone(true));
    return copy;
  }
  node* child(std::string_view child_name) const {
    for (const auto& c : children)
      if (c->name == child_name) return c.get();
    return nullptr;
  }
  node* slice(std::string_view slice) const {
    for (const auto& s : slices)
      if (s->slice_name == slice) return s.get();
    return nullptr;
  }
};

struct segment {
  std::string_view name;
  std::string_view slice;  // "nhsNumber" in "identifier:nhsNumber"; empty when none
};

// "Patient.identifier:nhsNumber.system" -> Patient, identifier:nhsNumber, system. A dot inside a slice
// name would be ambiguous; FHIR ids do not use one.
std::vector<segment> split_id(std::string_view id) {
  std::vector<segment> out;
  while (true) {
    auto dot = id.find('.');
    std::string_view part = id.substr(0, dot);
    auto colon = part.find(':');
    out.push_back(colon == std::string_view::npos ? segment{part, {}} : segment{part.substr(0, colon), part.substr(colon + 1)});
    if (dot == std::string_view::npos) break;
    id = id.substr(dot + 1);
  }
  return out;
}

std::string_view string_member(const json::value& v, std::string_view key) {
  const std::string* s = v.find_string(key);
  return s ? std::string_view(*s) : std::string_view();
}

error failure(std::string_view url, std::string why) {
  return error(error_kind::invalid, issue_type::structure,
               fmt::format("StructureDefinition {}: cannot generate the snapshot: {}", url, why), "snapshot-failed");
}

json::value without_id_and_path(const json::value& element) {
  json::value copy = element;
  copy.erase("id");
  copy.erase("path");
  return copy;
}

// Builds the tree of a snapshot element list. Fails when an element's parent is not listed before it.
result<std::unique_ptr<node>> tree_of(const json::array& elements, std::string_view url) {
  if (elements.empty()) return failure(url, "the base snapshot is empty");
  auto root = std::make_unique<node>();
  std::string_view root_path = string_member(elements.front(), "path");
  root->name = std::string(root_path);
  root->element = without_id_and_path(elements.front());
  root->unfolded = true;
  for (std::size_t i = 1; i < elements.size(); ++i) {
    const json::value& e = elements[i];
    std::string_view id = string_member(e, "id");
    std::string synthesized;
    if (id.empty()) {  // older snapshots without ids: the path, with the slice name on the last segment
      synthesized = std::string(string_member(e, "path"));
      if (std::string_view slice = string_member(e, "sliceName"); !slice.empty()) synthesized += fmt::format(":{}", slice);
      id = synthesized;
    }
    std::vector<segment> segments = split_id(id);
    node* parent = root.get();
    for (std::size_t s = 1; s + 1 < segments.size() && parent; ++s) {
      node* next = parent->child(segments[s].name);
      parent = next && !segments[s].slice.empty() ? next->slice(segments[s].slice) : next;
    }
    if (!parent || segments.size() < 2) return failure(url, fmt::format("element {} has no parent in the snapshot", id));
    auto n = std::make_unique<node>();
    n->element = without_id_and_path(e);
    n->name = std::string(segments.back().name);
    n->slice_name = std::string(segments.back().slice);
    if (n->slice_name.empty()) {
      parent->unfolded = true;
      parent->children.push_back(std::move(n));
    } else {
      node* sliced = parent->child(n->name);
      if (!sliced) return failure(url, fmt::format("slice {} has no sliced element", id));
      n->unfolded = true;  // a slice listed in a snapshot lists its children too
      sliced->slices.push_back(std::move(n));
    }
  }
  // Elements without listed children get them from their type when a differential needs them.
  struct mark {
    static void leaves(node& n) {
      if (n.children.empty()) n.unfolded = false;
      for (auto& c : n.children) leaves(*c);
      for (auto& s : n.slices) leaves(*s);
    }
  };
  for (auto& c : root->children) mark::leaves(*c);
  return root;
}

const json::array* snapshot_elements(const json::value& sd) {
  const json::value* snapshot = sd.find("snapshot");
  const json::value* elements = snapshot ? snapshot->find("element") : nullptr;
  return elements && elements->is_array() ? &elements->as_array() : nullptr;
}

class generator {
 public:
  generator(const json::value& profile, const structure_lookup& lookup)
      : profile_(profile), lookup_(lookup), url_(string_member(profile, "url")) {}

  result<json::value> run() {
    std::string_view base_url = string_member(profile_, "baseDefinition");
    const json::value* base = base_url.empty() ? nullptr : lookup_(base_url);
    if (!base) return failure(url_, fmt::format("its baseDefinition '{}' is not known", base_url));
    const json::array* base_elements = snapshot_elements(*base);
    if (!base_elements) return failure(url_, fmt::format("its base {} has no snapshot", base_url));
    auto tree = tree_of(*base_elements, url_);
    if (!tree) return std::move(tree).error();
    root_ = std::move(*tree);

    const json::value* differential = profile_.find("differential");
    const json::value* elements = differential ? differential->find("element") : nullptr;
    if (elements && elements->is_array())
      for (const json::value& d : elements->as_array())
        if (auto applied = apply(d); !applied) return std::move(applied).error();

    json::array out;
    emit(*root_, root_->name, root_->name, out);
    return json::value(std::move(out));
  }

 private:
  // Applies one differential element: finds (or creates) its node and merges its properties.
  result<done> apply(const json::value& d) {
    std::string id(string_member(d, "id"));
    if (id.empty()) {
      id = std::string(string_member(d, "path"));
      if (std::string_view slice = string_member(d, "sliceName"); !slice.empty()) id += fmt::format(":{}", slice);
    }
    std::vector<segment> segments = split_id(id);
    if (segments.empty() || segments.front().name != root_->name)
      return failure(url_, fmt::format("differential element '{}' is not in {}", id, root_->name));
    node* current = root_.get();
    for (std::size_t s = 1; s < segments.size(); ++s) {
      bool last = s + 1 == segments.size();
      if (auto unfolded = unfold(*current, id); !unfolded) return unfolded;
      node* child = current->child(segments[s].name);
      if (!child) child = choice_by_type_name(*current, segments[s].name, d, last);
      if (!child) return failure(url_, fmt::format("differential element '{}': no element '{}' in the base", id, segments[s].name));
      if (!segments[s].slice.empty()) {
        node* slice = child->slice(segments[s].slice);
        if (!slice) slice = create_slice(*child, segments[s].slice);
        child = slice;
      }
      current = child;
    }
    merge(current->element, d);
    return done{};
  }

  // `valueQuantity` in a differential constrains value[x] to Quantity (profiling.html#choice).
  node* choice_by_type_name(node& parent, std::string_view name, const json::value& d, bool last) {
    for (auto& c : parent.children) {
      if (!c->name.ends_with("[x]")) continue;
      std::string_view stem = std::string_view(c->name).substr(0, c->name.size() - 3);
      if (!name.starts_with(stem) || name.size() == stem.size()) continue;
      std::string type(name.substr(stem.size()));
      const json::value* types = c->element.find("type");
      if (!types || !types->is_array()) continue;
      for (const json::value& t : types->as_array()) {
        std::string code(string_member(t, "code"));
        if (code.empty() || code.size() != type.size()) continue;
        bool same = std::tolower(static_cast<unsigned char>(code[0])) == std::tolower(static_cast<unsigned char>(type[0])) &&
                    std::string_view(code).substr(1) == std::string_view(type).substr(1);
        if (!same) continue;
        if (last && !d.find("type")) c->element.set("type", json::array{t});
        return c.get();
      }
    }
    return nullptr;
  }

  node* create_slice(node& sliced, std::string_view slice_name) {
    auto slice = sliced.clone(/*with_slices=*/false);
    slice->slice_name = std::string(slice_name);
    slice->element.erase("slicing");
    slice->element.set("min", json::value::integer(0));
    slice->element.set("sliceName", std::string(slice_name));
    if (!sliced.element.find("slicing") && is_extension(sliced.element)) {
      // Extensions are always sliced by url (extensibility.html), whether or not the profile says so.
      json::object discriminator{{"type", "value"}, {"path", "url"}};
      json::object slicing{{"discriminator", json::array{json::value(std::move(discriminator))}},
                           {"ordered", false},
                           {"rules", "open"}};
      sliced.element.set("slicing", json::value(std::move(slicing)));
    }
    // A choice sliced by type: the slice `value[x]:valueQuantity` has that one type.
    if (sliced.name.ends_with("[x]")) {
      std::string_view stem = std::string_view(sliced.name).substr(0, sliced.name.size() - 3);
      if (slice_name.starts_with(stem) && slice_name.size() > stem.size()) {
        std::string_view type = slice_name.substr(stem.size());
        if (const json::value* types = sliced.element.find("type"); types && types->is_array())
          for (const json::value& t : types->as_array()) {
            std::string_view code = string_member(t, "code");
            if (!code.empty() && code.size() == type.size() &&
                std::tolower(static_cast<unsigned char>(code[0])) == std::tolower(static_cast<unsigned char>(type[0])) &&
                code.substr(1) == type.substr(1))
              slice->element.set("type", json::array{t});
          }
      }
    }
    node* out = slice.get();
    sliced.slices.push_back(std::move(slice));
    return out;
  }

  static bool is_extension(const json::value& element) {
    const json::value* types = element.find("type");
    return types && types->is_array() && types->as_array().size() == 1 &&
           string_member(types->as_array().front(), "code") == "Extension";
  }

  // Gives a leaf element its children: those of the element a contentReference names, or of its type
  // (the type's profile when it names exactly one that is known, e.g. an extension definition).
  result<done> unfold(node& n, std::string_view context) {
    if (n.unfolded) return done{};
    n.unfolded = true;
    if (std::string_view reference = string_member(n.element, "contentReference"); !reference.empty()) {
      node* target = find_by_path(reference.substr(reference.find('#') + 1));
      if (!target) return failure(url_, fmt::format("contentReference {} does not resolve", reference));
      for (const auto& c : target->children) n.children.push_back(c->clone(true));
      return done{};
    }
    const json::value* types = n.element.find("type");
    if (!types || !types->is_array() || types->as_array().empty()) return done{};
    std::string_view code = string_member(types->as_array().front(), "code");
    for (const json::value& t : types->as_array())
      if (string_member(t, "code") != code)
        return failure(url_, fmt::format("'{}' constrains inside an element with several types; constrain the type first", context));
    const json::value* source = nullptr;
    if (const json::value* profiles = types->as_array().front().find("profile");
        profiles && profiles->is_array() && profiles->as_array().size() == 1 && profiles->as_array().front().is_string())
      source = lookup_(profiles->as_array().front().as_string());
    if (!source) source = lookup_(std::string(core_prefix) + std::string(code));
    const json::array* elements = source ? snapshot_elements(*source) : nullptr;
    if (!elements) return failure(url_, fmt::format("the type '{}' needed by '{}' is not known", code, context));
    auto type_tree = tree_of(*elements, url_);
    if (!type_tree) return std::move(type_tree).error();
    for (auto& c : (*type_tree)->children) n.children.push_back(std::move(c));
    return done{};
  }

  node* find_by_path(std::string_view path) const {
    std::vector<segment> segments = split_id(path);
    if (segments.empty() || segments.front().name != root_->name) return nullptr;
    node* current = root_.get();
    for (std::size_t s = 1; s < segments.size() && current; ++s) current = current->child(segments[s].name);
    return current;
  }

  // The differential's properties replace the base's; constraints accumulate (profiling.html).
  static void merge(json::value& element, const json::value& d) {
    for (const json::member& m : d.as_object()) {
      if (m.key == "id" || m.key == "path") continue;
      if (m.key == "constraint" && m.value.is_array()) {
        json::value* existing = element.find("constraint");
        if (!existing || !existing->is_array()) {
          element.set("constraint", m.value);
          continue;
        }
        for (const json::value& c : m.value.as_array()) {
          std::string_view key = string_member(c, "key");
          bool replaced = false;
          for (json::value& e : existing->as_array())
            if (!key.empty() && string_member(e, "key") == key) {
              e = c;
              replaced = true;
            }
          if (!replaced) existing->as_array().push_back(c);
        }
        continue;
      }
      if (m.key == "binding" && m.value.is_object()) {
        // A binding that only changes the strength keeps the inherited value set.
        json::value* existing = element.find("binding");
        if (!existing || !existing->is_object()) {
          element.set("binding", m.value);
          continue;
        }
        if (m.value.find("valueSet")) existing->erase("valueSet");
        for (const json::member& b : m.value.as_object()) existing->set(b.key, b.value);
        continue;
      }
      if (m.key.starts_with("fixed") || m.key.starts_with("pattern")) {
        std::vector<std::string> stale;
        for (const json::member& e : element.as_object())
          if (e.key.starts_with("fixed") || e.key.starts_with("pattern")) stale.push_back(e.key);
        for (const std::string& k : stale) element.erase(k);
      }
      element.set(m.key, m.value);
    }
  }

  static void emit(const node& n, const std::string& id, const std::string& path, json::array& out) {
    json::value element = n.element;
    element.set_at(0, "id", id);
    element.set_at(1, "path", path);
    out.push_back(std::move(element));
    for (const auto& c : n.children) emit(*c, id + "." + c->name, path + "." + c->name, out);
    for (const auto& s : n.slices) emit(*s, id + ":" + s->slice_name, path, out);
  }

  const json::value& profile_;
  const structure_lookup& lookup_;
  std::string_view url_;
  std::unique_ptr<node> root_;
};

}  // namespace

result<json::value> generate_snapshot(const json::value& profile, const structure_lookup& lookup) {
  return generator(profile, lookup).run();
}

}  // namespace fhir::definitions
