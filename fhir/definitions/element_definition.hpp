#pragma once
// The parts of an ElementDefinition the server works with, compiled from a StructureDefinition snapshot.
// Everything here is read from the definitions; nothing is specific to one resource type.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fhir/definitions/type_info.hpp"
#include "fhir/json/value.hpp"
#include "fhir/outcome.hpp"

namespace fhir::definitions {

struct type_ref {
  std::string code;  // a FHIR type code: "string", "Quantity", "Reference", "Resource", "BackboneElement"
  std::vector<std::string> profiles;
  std::vector<std::string> target_profiles;
  // When the definition used a FHIRPath system type ("http://hl7.org/fhirpath/System.Date"), its name
  // ("Date"); `code` then holds the FHIR type named by the fhir-type extension.
  std::string system_type;
};

enum class binding_strength { required, extensible, preferred, example };

struct binding {
  binding_strength strength = binding_strength::example;
  std::string value_set;  // canonical URL, possibly with |version
};

struct constraint {
  std::string key;  // "ele-1", "obs-6"
  fhir::severity severity = fhir::severity::error;
  std::string human;
  std::string expression;  // FHIRPath
  std::string source;
};

// How the instances of a sliced element are told apart (profiling.html#discriminator).
enum class discriminator_type { value, exists, pattern, type, profile };

struct discriminator {
  discriminator_type type = discriminator_type::value;
  std::string path;  // a restricted FHIRPath: "system", "url", "coding.code", "$this", "resolve()"
};

enum class slicing_rules { closed, open, open_at_end };

struct slicing {
  std::vector<definitions::discriminator> discriminators;
  bool ordered = false;
  slicing_rules rules = slicing_rules::open;
};

struct element_definition;

// What a JSON property name resolves to inside an element: the element, and for a choice element
// (`value[x]` seen as `valueQuantity`) the type the name selects.
struct json_property {
  const element_definition* element = nullptr;
  const type_ref* type = nullptr;  // nullptr for an element without types (backbone or contentReference)
  const definitions::type_info* type_info = nullptr;  // the resolved `type`, when known
};

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// JSON property names of an element's children (choice names expanded), looked up on every member of
// every object validated or navigated: a small open-addressing table with a cheap hash (FNV-1a) and a
// power-of-two size, built once when the registry links. Much cheaper per lookup than unordered_map.
class property_map {
 public:
  using value_type = std::pair<std::string, json_property>;

  const json_property* find(std::string_view name) const {
    if (slots_.empty()) return nullptr;
    std::uint32_t h = hash(name);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.entry == 0) return nullptr;
      if (s.hash == h) {
        const value_type& e = entries_[s.entry - 1];
        if (e.first.size() == name.size() && e.first == name) return &e.second;
      }
    }
  }
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  const json_property& at(std::string_view name) const { return *find(name); }

  // Adds or replaces; rebuilds the table as it grows (only while the registry links).
  void insert_or_assign(std::string name, json_property p) {
    for (value_type& e : entries_)
      if (e.first == name) {
        e.second = p;
        return;
      }
    entries_.emplace_back(std::move(name), p);
    rebuild();
  }
  std::vector<value_type>::iterator begin() { return entries_.begin(); }
  std::vector<value_type>::iterator end() { return entries_.end(); }
  std::vector<value_type>::const_iterator begin() const { return entries_.begin(); }
  std::vector<value_type>::const_iterator end() const { return entries_.end(); }
  std::size_t size() const { return entries_.size(); }

 private:
  struct slot {
    std::uint32_t hash = 0;
    std::uint32_t entry = 0;  // index + 1 into entries_; 0: empty
  };
  static std::uint32_t hash(std::string_view s) {
    std::uint32_t h = 2166136261u;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    return h;
  }
  void rebuild() {
    std::size_t size = 8;
    while (size < entries_.size() * 2) size *= 2;
    slots_.assign(size, slot{});
    mask_ = size - 1;
    for (std::size_t e = 0; e < entries_.size(); ++e) {
      std::uint32_t h = hash(entries_[e].first);
      std::size_t i = h & mask_;
      while (slots_[i].entry != 0) i = (i + 1) & mask_;
      slots_[i] = slot{h, static_cast<std::uint32_t>(e + 1)};
    }
  }

  std::vector<value_type> entries_;
  std::vector<slot> slots_;
  std::size_t mask_ = 0;
};

struct element_definition {
  static constexpr std::uint32_t unbounded = std::numeric_limits<std::uint32_t>::max();

  std::string id;    // "Patient.contact.name", "Extension.extension:foo.value[x]"
  std::string path;  // "Patient.contact.name"
  std::string name;  // the JSON name: last path segment without "[x]"
  std::uint32_t name_id = 0;  // `name` interned by the registry (registry::name_id), for fast lookup
  std::string slice_name;
  bool is_choice = false;  // the path ends in "[x]"

  std::uint32_t min = 0;
  std::uint32_t max = 1;
  std::vector<type_ref> types;
  std::string content_reference;  // "#Questionnaire.item"
  std::optional<definitions::binding> binding;
  std::vector<constraint> constraints;
  std::optional<std::size_t> max_length;
  std::optional<std::int64_t> min_value_integer;  // minValueInteger
  std::optional<std::int64_t> max_value_integer;  // maxValueInteger
  std::string regex;  // the `regex` extension on the type (primitive `.value` elements)
  bool is_summary = false;
  bool is_modifier = false;
  bool must_support = false;

  // Profiles: fixed[x] (the instance must equal it) and pattern[x] (the instance must contain it), as
  // JSON; null when absent.
  json::value fixed;
  json::value pattern;
  std::optional<definitions::slicing> slicing;
  // ElementDefinition.base: the element of the base specification this one derives from.
  std::string base_path;
  std::uint32_t base_min = 0;
  std::uint32_t base_max = unbounded;

  // Filled by the registry when it links a structure definition.
  const element_definition* content_target = nullptr;     // resolved content_reference
  // The type of a single-typed element (backbone elements: BackboneElement; content references: the
  // target's type), or nullptr for choice elements.
  const definitions::type_info* single_type = nullptr;
  // For a choice element: each JSON name it can take with its type ("valueQuantity", Quantity).
  std::vector<std::pair<std::string, const definitions::type_info*>> choices;
  std::vector<const element_definition*> children;        // direct children, slices excluded
  std::vector<std::uint32_t> child_name_ids;              // children[i]->name_id, contiguous for fast scans
  // (name_id, index into children), sorted by name_id: binary search for elements with many children.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> child_index;
  property_map properties;                                // JSON names of the children, choices expanded
  std::vector<const element_definition*> slices;          // the slices of a sliced element, in order
  const element_definition* sliced = nullptr;             // for a slice: the element it slices
  // In a profile: the element of the type's base definition that the structural validator checks an
  // instance against (Patient.identifier.system -> Identifier.system); the element itself in a base
  // definition. What a profile element adds is what differs from it.
  const element_definition* base_element = nullptr;

  // The child named `name` as FHIRPath names it ("value" for value[x]), or nullptr. Linear: elements
  // have few children, and this keeps the definitions compact.
  const element_definition* child(std::string_view child_name) const {
    for (const element_definition* c : children)
      if (c->name == child_name) return c;
    return nullptr;
  }
  // The same by interned name: integer comparisons only.
  const element_definition* child(std::uint32_t child_name_id) const {
    if (child_name_ids.size() <= 8) {
      for (std::size_t i = 0; i < child_name_ids.size(); ++i)
        if (child_name_ids[i] == child_name_id) return children[i];
      return nullptr;
    }
    std::size_t low = 0, high = child_index.size();
    while (low < high) {
      std::size_t mid = (low + high) / 2;
      if (child_index[mid].first < child_name_id) low = mid + 1;
      else high = mid;
    }
    return low < child_index.size() && child_index[low].first == child_name_id ? children[child_index[low].second] : nullptr;
  }

  bool is_repeating() const { return max > 1; }
};

}  // namespace fhir::definitions
