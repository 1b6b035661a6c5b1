#pragma once
// What a resource is found by: the values of its search parameters, extracted by the indexer and
// stored by the store in typed index tables (docs/store-schema.md). Each entry names its parameter by
// code; the store maps (resource type, code) to its own ids.

#include <cstdint>
#include <string>
#include <vector>

namespace fhir::search {

struct string_entry {
  std::string code;
  std::string normalized;  // normalize(): what the default and :contains searches compare
  std::string exact;       // as written: :exact
};

// Codes, identifiers, booleans, ContactPoints. `text` (display or CodeableConcept.text, normalised) is
// what :text searches; one entry per coding, identifier or value.
struct token_entry {
  std::string code;
  std::string system;  // empty when the value has no system
  std::string value;
  std::string text;
};

struct date_entry {
  std::string code;
  std::int64_t low;   // inclusive, ms since the epoch
  std::int64_t high;  // exclusive
};

// Numbers and quantities: the value as a double for range tests, plus the implicit range of its
// precision (search.html#number: "100" means [99.5, 100.5)).
struct number_entry {
  std::string code;
  double value;
  double low;
  double high;
};

struct quantity_entry {
  std::string code;
  std::string system;
  std::string unit;  // the code (UCUM) or, without one, the unit text
  double value;
  double low;
  double high;
  // The same quantity in canonical UCUM units (e.g. g -> g, mg -> g, [lb_av] -> g) when convertible.
  std::string canonical_unit;
  double canonical_value = 0;
};

// A reference: "Patient/123" gives type Patient and id 123; an absolute URL keeps its `url` too
// (and its type/id when it looks like a RESTful URL); canonicals and logical references have a url only.
struct reference_entry {
  std::string code;
  std::string target_type;
  std::string target_id;
  std::string url;
};

struct uri_entry {
  std::string code;
  std::string uri;
};

// A composite parameter's value (search.html#composite): one row per combination of its components'
// values. The first component is a token or a reference; the second a token, quantity, date, string or
// number; a third, when there is one, a number. Each in the fields its type uses.
struct composite_entry {
  std::string code;
  std::string system1, code1;  // token: system and code; reference: target type and id
  std::string url1;            // reference: its absolute URL, if it has one
  std::string system2, code2;  // token: system and code; quantity: system and unit; string: normalised text
  double value2 = 0;           // quantity or number value
  double low2 = 0, high2 = 0;  // quantity: implicit range; date: [lo, hi) in ms
  std::string canonical_unit2;  // quantity in canonical UCUM units, when convertible
  double canonical_value2 = 0;
  double value3 = 0;  // a third component's number
};

// A position (Location.position) in WGS84 degrees, for `near` searches.
struct position_entry {
  std::string code;
  double latitude;
  double longitude;
};

// _text and _content: the normalised text a full-text search matches words in.
struct text_entry {
  std::string code;
  std::string text;
};

struct contained_index;

struct index_set {
  std::vector<string_entry> strings;
  std::vector<token_entry> tokens;
  std::vector<date_entry> dates;
  std::vector<number_entry> numbers;
  std::vector<quantity_entry> quantities;
  std::vector<reference_entry> references;
  std::vector<uri_entry> uris;
  std::vector<composite_entry> composites;
  std::vector<position_entry> positions;
  std::vector<text_entry> texts;
  // The resources contained in this one (Resource.contained), each with its own index: a chain through
  // a local reference ("#m1") is evaluated inside them (search.html#contained). Empty in their own.
  std::vector<contained_index> contained;
};

struct contained_index {
  std::string type;  // its resourceType
  std::string id;    // its local id, without '#'
  index_set index;
};

}  // namespace fhir::search
