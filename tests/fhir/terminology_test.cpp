// Local terminology (fhir/terminology/terminology_service.hpp): value set expansion from compose
// (whole code systems, enumerated concepts, filters, excludes, imports) or from a stored expansion, and
// code system membership, over R4 plus the code systems and value sets written here. Whatever needs
// terminology the server lacks must be `unknown`, never a guess.
#include <catch2/catch.hpp>

#include "fhir/terminology/terminology_service.hpp"
#include "tests/fhir/definitions_fixture.hpp"

using fhir::terminology::membership;

namespace Catch {
template <>
struct StringMaker<membership> {
  static std::string convert(membership m) {
    switch (m) {
      case membership::member: return "member";
      case membership::not_member: return "not_member";
      case membership::unknown: return "unknown";
    }
    return "?";
  }
};
}  // namespace Catch

namespace {

// animal > mammal > {dog, cat, whale}, animal > bird > parrot, plant: a hierarchy by nesting, with properties.
constexpr std::string_view animals = "http://example.org/cs/animals";
// root > {a > a1, b}: a hierarchy by `parent` properties.
constexpr std::string_view organisms = "http://example.org/cs/organisms";
constexpr std::string_view fragment = "http://example.org/cs/fragment";   // content: fragment
constexpr std::string_view elsewhere = "http://example.org/cs/elsewhere";  // not known here
constexpr std::string_view external = "http://example.org/cs/external";    // only in stored expansions
constexpr std::string_view snomed = "http://snomed.info/sct";              // in R4, content: not-present

std::string vs_url(std::string_view name) { return fmt::format("http://example.org/vs/{}", name); }

std::string value_set(std::string_view name, std::string_view compose) {
  return fmt::format(R"({{"resourceType":"ValueSet","url":"{}","status":"active","compose":{}}})", vs_url(name), compose);
}

// A value set of one include of `system` with one filter.
std::string filtered(std::string_view name, std::string_view system, std::string_view property, std::string_view op,
                     std::string_view value) {
  return value_set(name, fmt::format(R"({{"include":[{{"system":"{}","filter":[{{"property":"{}","op":"{}","value":"{}"}}]}}]}})",
                                     system, property, op, value));
}

std::string expanded(std::string_view name, std::string_view expansion) {
  return fmt::format(R"({{"resourceType":"ValueSet","url":"{}","status":"active","expansion":{}}})", vs_url(name), expansion);
}

const fhir::terminology::terminology_service& terminology() {
  static const auto definitions = fhir::testing::registry_with({
      R"json({"resourceType":"CodeSystem","url":"http://example.org/cs/animals","status":"active","content":"complete",
        "property":[{"code":"legs","type":"integer"},{"code":"domestic","type":"boolean"}],
        "concept":[
          {"code":"animal","concept":[
            {"code":"mammal","concept":[
              {"code":"dog","property":[{"code":"legs","valueInteger":4},{"code":"domestic","valueBoolean":true}]},
              {"code":"cat","property":[{"code":"legs","valueInteger":4},{"code":"domestic","valueBoolean":true}]},
              {"code":"whale","property":[{"code":"legs","valueInteger":0}]}]},
            {"code":"bird","concept":[
              {"code":"parrot","property":[{"code":"legs","valueInteger":2},{"code":"domestic","valueBoolean":true}]}]}]},
          {"code":"plant"}]})json",
      R"json({"resourceType":"CodeSystem","url":"http://example.org/cs/organisms","status":"active","content":"complete",
        "property":[{"code":"parent","type":"code"}],
        "concept":[
          {"code":"a1","property":[{"code":"parent","valueCode":"a"}]},
          {"code":"root"},
          {"code":"a","property":[{"code":"parent","valueCode":"root"}]},
          {"code":"b","property":[{"code":"parent","valueCode":"root"}]}]})json",
      R"json({"resourceType":"CodeSystem","url":"http://example.org/cs/fragment","status":"active","content":"fragment",
        "concept":[{"code":"x"}]})json",
      value_set("animals", R"({"include":[{"system":"http://example.org/cs/animals"}]})"),
      value_set("pets", R"({"include":[{"system":"http://example.org/cs/animals","concept":[{"code":"dog"},{"code":"cat"}]}]})"),
      filtered("mammals", animals, "concept", "is-a", "mammal"),
      filtered("below-mammal", animals, "concept", "descendent-of", "mammal"),
      filtered("not-mammals", animals, "concept", "is-not-a", "mammal"),
      filtered("dog-and-ancestors", animals, "concept", "generalizes", "dog"),
      filtered("dog-or-parrot", animals, "concept", "in", "dog,parrot"),
      filtered("neither-dog-nor-parrot", animals, "concept", "not-in", "dog, parrot"),
      filtered("four-legged", animals, "legs", "=", "4"),
      filtered("domestic", animals, "domestic", "=", "true"),
      filtered("legged", animals, "legs", "exists", "true"),
      filtered("legless", animals, "legs", "exists", "false"),
      filtered("a-and-below", organisms, "concept", "is-a", "a"),
      filtered("below-root", organisms, "concept", "descendent-of", "root"),
      filtered("a1-and-ancestors", organisms, "concept", "generalizes", "a1"),
      filtered("regex", animals, "code", "regex", "d.*"),
      value_set("domestic-mammals", R"({"include":[{"system":"http://example.org/cs/animals","filter":[
          {"property":"concept","op":"is-a","value":"mammal"},{"property":"domestic","op":"=","value":"true"}]}]})"),
      value_set("mammals-then-regex", R"({"include":[{"system":"http://example.org/cs/animals","filter":[
          {"property":"concept","op":"is-a","value":"mammal"},{"property":"code","op":"regex","value":"d.*"}]}]})"),
      value_set("no-cats-or-birds", R"({"include":[{"system":"http://example.org/cs/animals"}],
          "exclude":[{"system":"http://example.org/cs/animals","concept":[{"code":"cat"}]},
                     {"system":"http://example.org/cs/animals","filter":[{"property":"concept","op":"is-a","value":"bird"}]}]})"),
      value_set("unevaluable-exclude", R"({"include":[{"system":"http://example.org/cs/animals"}],
          "exclude":[{"system":"http://example.org/cs/animals","filter":[{"property":"code","op":"regex","value":"d.*"}]}]})"),
      value_set("imported-pets", R"({"include":[{"valueSet":["http://example.org/vs/pets"]}]})"),
      value_set("mammal-pets", R"({"include":[{"valueSet":["http://example.org/vs/mammals","http://example.org/vs/pets"]}]})"),
      value_set("animals-that-are-mammals", R"({"include":[{"system":"http://example.org/cs/animals",
          "valueSet":["http://example.org/vs/mammals"]}]})"),
      value_set("imports-unknown", R"({"include":[{"valueSet":["http://example.org/vs/nowhere"]}]})"),
      value_set("pets-or-unknown", R"({"include":[{"valueSet":["http://example.org/vs/pets"]},
          {"valueSet":["http://example.org/vs/nowhere"]}]})"),
      value_set("findings-and-dogs", R"({"include":[
          {"system":"http://snomed.info/sct","filter":[{"property":"concept","op":"is-a","value":"404684003"}]},
          {"system":"http://example.org/cs/animals","concept":[{"code":"dog"}]}]})"),
      value_set("elsewhere", R"({"include":[{"system":"http://example.org/cs/elsewhere"}]})"),
      value_set("fragment", R"({"include":[{"system":"http://example.org/cs/fragment"}]})"),
      expanded("expanded", R"({"timestamp":"2024-01-01T00:00:00Z","total":2,"contains":[
          {"system":"http://example.org/cs/external","code":"e1","contains":[{"system":"http://example.org/cs/external","code":"e2"}]}]})"),
      expanded("expanded-partial", R"({"timestamp":"2024-01-01T00:00:00Z","total":10,"contains":[
          {"system":"http://example.org/cs/external","code":"e1"},{"system":"http://example.org/cs/external","code":"e2"}]})"),
      expanded("expanded-unclosed", R"({"timestamp":"2024-01-01T00:00:00Z","parameter":[{"name":"unclosed","valueBoolean":true}],
          "contains":[{"system":"http://example.org/cs/external","code":"e1"}]})"),
      expanded("expanded-unclosed-extension", R"({"timestamp":"2024-01-01T00:00:00Z",
          "extension":[{"url":"http://hl7.org/fhir/StructureDefinition/valueset-unclosed","valueBoolean":true}],
          "contains":[{"system":"http://example.org/cs/external","code":"e1"}]})"),
  });
  static const fhir::terminology::terminology_service service(*definitions);
  return service;
}

membership in(std::string_view value_set, std::string_view system, std::string_view code) {
  return terminology().in_value_set(vs_url(value_set), system, code);
}

membership code_in(std::string_view value_set, std::string_view code) { return terminology().code_in_value_set(vs_url(value_set), code); }

// Checks that the codes `members` of `system` are in the value set and the codes `others` are not.
void check_members(std::string_view value_set, std::string_view system, std::initializer_list<std::string_view> members,
                   std::initializer_list<std::string_view> others) {
  for (std::string_view code : members) {
    INFO(value_set << " should contain " << code);
    CHECK(in(value_set, system, code) == membership::member);
  }
  for (std::string_view code : others) {
    INFO(value_set << " should not contain " << code);
    CHECK(in(value_set, system, code) == membership::not_member);
  }
}

}  // namespace

TEST_CASE("a value set including a whole local code system", "[fhir][terminology]") {
  check_members("animals", animals, {"animal", "mammal", "dog", "parrot", "plant"}, {"unicorn", "Dog"});
  CHECK(in("animals", organisms, "root") == membership::not_member);  // another system
  CHECK(in("animals", "", "dog") == membership::not_member);          // a Coding without a system
}

TEST_CASE("a value set enumerating concepts", "[fhir][terminology]") {
  check_members("pets", animals, {"dog", "cat"}, {"parrot", "mammal", "animal"});
  CHECK(in("pets", organisms, "dog") == membership::not_member);
}

TEST_CASE("filters over a hierarchy of nested concepts", "[fhir][terminology]") {
  SECTION("is-a") { check_members("mammals", animals, {"mammal", "dog", "cat", "whale"}, {"animal", "bird", "parrot", "plant"}); }
  SECTION("descendent-of") { check_members("below-mammal", animals, {"dog", "cat", "whale"}, {"mammal", "animal", "parrot"}); }
  SECTION("is-not-a") { check_members("not-mammals", animals, {"animal", "bird", "parrot", "plant"}, {"mammal", "dog", "whale"}); }
  SECTION("generalizes") { check_members("dog-and-ancestors", animals, {"dog", "mammal", "animal"}, {"cat", "bird", "plant"}); }
}

TEST_CASE("filters over a hierarchy of parent properties", "[fhir][terminology]") {
  SECTION("is-a") { check_members("a-and-below", organisms, {"a", "a1"}, {"root", "b"}); }
  SECTION("descendent-of") { check_members("below-root", organisms, {"a", "a1", "b"}, {"root"}); }
  SECTION("generalizes") { check_members("a1-and-ancestors", organisms, {"a1", "a", "root"}, {"b"}); }
}

TEST_CASE("in and not-in filters", "[fhir][terminology]") {
  check_members("dog-or-parrot", animals, {"dog", "parrot"}, {"cat", "bird"});
  check_members("neither-dog-nor-parrot", animals, {"cat", "bird", "plant"}, {"dog", "parrot"});
}

TEST_CASE("property filters: = and exists", "[fhir][terminology]") {
  SECTION("= on an integer property") { check_members("four-legged", animals, {"dog", "cat"}, {"parrot", "whale", "plant"}); }
  SECTION("= on a boolean property") { check_members("domestic", animals, {"dog", "cat", "parrot"}, {"whale", "plant"}); }
  SECTION("exists true") { check_members("legged", animals, {"dog", "whale", "parrot"}, {"mammal", "plant"}); }
  SECTION("exists false") { check_members("legless", animals, {"mammal", "plant", "animal"}, {"dog", "whale"}); }
}

TEST_CASE("several filters of one include all apply", "[fhir][terminology]") {
  check_members("domestic-mammals", animals, {"dog", "cat"}, {"whale", "parrot", "mammal"});
}

TEST_CASE("a filter the server cannot evaluate makes the include unknown", "[fhir][terminology]") {
  CHECK(in("regex", animals, "dog") == membership::unknown);
  CHECK(in("regex", animals, "cat") == membership::unknown);
  CHECK(code_in("regex", "dog") == membership::unknown);
}

TEST_CASE("an unevaluable filter after an evaluable one still makes the include unknown", "[fhir][terminology]") {
  // is-a mammal narrows to mammal, dog, cat, whale; the regex may narrow further, which only a
  // terminology server could tell: none of them is known to be a member.
  CHECK(in("mammals-then-regex", animals, "dog") == membership::unknown);
  CHECK(in("mammals-then-regex", animals, "whale") == membership::unknown);
}

TEST_CASE("exclude removes concepts and filtered concepts", "[fhir][terminology]") {
  check_members("no-cats-or-birds", animals, {"dog", "animal", "plant", "mammal"}, {"cat", "bird", "parrot"});
}

TEST_CASE("an exclude the server cannot evaluate makes what it might remove unknown", "[fhir][terminology]") {
  CHECK(in("unevaluable-exclude", animals, "dog") == membership::unknown);
  CHECK(in("unevaluable-exclude", animals, "plant") == membership::unknown);
  CHECK(in("unevaluable-exclude", organisms, "a") == membership::not_member);  // not in the include at all
}

TEST_CASE("value set imports", "[fhir][terminology]") {
  SECTION("one import") { check_members("imported-pets", animals, {"dog", "cat"}, {"parrot", "mammal"}); }
  SECTION("several imports in one include intersect") {
    check_members("mammal-pets", animals, {"dog", "cat"}, {"whale", "mammal", "parrot"});
  }
  SECTION("an import with a system intersects with it") {
    check_members("animals-that-are-mammals", animals, {"mammal", "dog", "whale"}, {"animal", "parrot", "plant"});
  }
  SECTION("an unknown import makes everything unknown") {
    CHECK(in("imports-unknown", animals, "dog") == membership::unknown);
    CHECK(in("imports-unknown", organisms, "root") == membership::unknown);
    CHECK(code_in("imports-unknown", "dog") == membership::unknown);
  }
  SECTION("an unknown import beside a known one: members stay members, the rest is unknown") {
    CHECK(in("pets-or-unknown", animals, "dog") == membership::member);
    CHECK(in("pets-or-unknown", animals, "parrot") == membership::unknown);
  }
}

TEST_CASE("an include of a code system that is not local is unknown for that system only", "[fhir][terminology]") {
  SECTION("a SNOMED CT filter (content not-present)") {
    CHECK(in("findings-and-dogs", snomed, "22298006") == membership::unknown);
    CHECK(in("findings-and-dogs", snomed, "anything") == membership::unknown);
    CHECK(in("findings-and-dogs", animals, "dog") == membership::member);
    CHECK(in("findings-and-dogs", animals, "cat") == membership::not_member);
    CHECK(in("findings-and-dogs", organisms, "root") == membership::not_member);
  }
  SECTION("a code system the registry does not hold") {
    CHECK(in("elsewhere", elsewhere, "x") == membership::unknown);
    CHECK(in("elsewhere", animals, "dog") == membership::not_member);
  }
  SECTION("a fragment") {
    CHECK(in("fragment", fragment, "x") == membership::unknown);
    CHECK(in("fragment", fragment, "y") == membership::unknown);
    CHECK(in("fragment", animals, "dog") == membership::not_member);
  }
}

TEST_CASE("a value set with only an expansion", "[fhir][terminology]") {
  SECTION("complete: what is not listed is not a member") {
    check_members("expanded", external, {"e1", "e2"}, {"e3"});  // e2 is nested in e1's contains
    CHECK(in("expanded", animals, "dog") == membership::not_member);
  }
  SECTION("a total above what is listed") {
    CHECK(in("expanded-partial", external, "e1") == membership::member);
    CHECK(in("expanded-partial", external, "e3") == membership::unknown);
  }
  SECTION("flagged unclosed, by parameter or by extension") {
    for (std::string_view name : {"expanded-unclosed", "expanded-unclosed-extension"}) {
      INFO(name);
      CHECK(in(name, external, "e1") == membership::member);
      CHECK(in(name, external, "e3") == membership::unknown);
    }
  }
}

TEST_CASE("code_in_value_set: a bare code, its system implied", "[fhir][terminology]") {
  CHECK(code_in("pets", "dog") == membership::member);
  CHECK(code_in("pets", "parrot") == membership::not_member);
  CHECK(code_in("mammals", "whale") == membership::member);
  CHECK(code_in("mammals", "plant") == membership::not_member);
  CHECK(code_in("expanded", "e2") == membership::member);
  CHECK(code_in("expanded", "e3") == membership::not_member);
  // Some system in it cannot be enumerated: a code not found may be there.
  CHECK(code_in("findings-and-dogs", "dog") == membership::member);
  CHECK(code_in("findings-and-dogs", "cat") == membership::unknown);
  CHECK(code_in("nowhere", "dog") == membership::unknown);
}

TEST_CASE("in_code_system: only complete local code systems answer", "[fhir][terminology]") {
  const auto& t = terminology();
  CHECK(t.in_code_system(animals, "parrot") == membership::member);  // nested three deep
  CHECK(t.in_code_system(animals, "unicorn") == membership::not_member);
  CHECK(t.in_code_system(organisms, "a1") == membership::member);
  CHECK(t.in_code_system(fmt::format("{}|1.0", animals), "dog") == membership::member);  // a version does not matter
  CHECK(t.in_code_system(fragment, "x") == membership::unknown);
  CHECK(t.in_code_system(fragment, "zzz") == membership::unknown);
  CHECK(t.in_code_system(elsewhere, "x") == membership::unknown);
  CHECK(t.in_code_system(snomed, "22298006") == membership::unknown);
  CHECK(t.in_code_system("http://hl7.org/fhir/administrative-gender", "female") == membership::member);
  CHECK(t.in_code_system("http://hl7.org/fhir/administrative-gender", "robot") == membership::not_member);
}

TEST_CASE("unknown value sets and knows_value_set", "[fhir][terminology]") {
  const auto& t = terminology();
  CHECK(in("nowhere", animals, "dog") == membership::unknown);
  CHECK(t.knows_value_set(vs_url("pets")));
  CHECK(t.knows_value_set(vs_url("pets") + "|2.0"));
  CHECK(t.knows_value_set(vs_url("findings-and-dogs")));  // known, even if only partly expandable
  CHECK(t.knows_value_set("http://hl7.org/fhir/ValueSet/administrative-gender"));
  CHECK_FALSE(t.knows_value_set(vs_url("nowhere")));
  // R4's own value sets expand the same way.
  CHECK(t.in_value_set("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1", "http://hl7.org/fhir/administrative-gender",
                       "female") == membership::member);
  CHECK(t.in_value_set("http://hl7.org/fhir/ValueSet/administrative-gender", "http://hl7.org/fhir/administrative-gender",
                       "robot") == membership::not_member);
}
