#include <catch2/catch.hpp>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/text.hpp"

using fhir::json::parse;
using fhir::json::serialize;

TEST_CASE("decimals keep their exact text through parse and serialize", "[fhir][json]") {
  auto v = parse(R"({"a":1.50,"b":0.1000000000000000000001,"c":-0,"d":1e400,"e":12345678901234567890})");
  REQUIRE(v.ok());
  CHECK(v->find("a")->as_number().text == "1.50");
  CHECK(v->find("b")->as_number().text == "0.1000000000000000000001");
  CHECK(v->find("d")->as_number().text == "1e400");
  CHECK(serialize(*v) == R"({"a":1.50,"b":0.1000000000000000000001,"c":-0,"d":1e400,"e":12345678901234567890})");
}

TEST_CASE("object member order and duplicate keys are preserved for the validator", "[fhir][json]") {
  auto v = parse(R"({"z":1,"a":2,"z":3})");
  REQUIRE(v.ok());
  const auto& members = v->as_object();
  REQUIRE(members.size() == 3);
  CHECK(members[0].key == "z");
  CHECK(members[1].key == "a");
  CHECK(members[2].key == "z");
}

TEST_CASE("null, empty values and nested containers are represented", "[fhir][json]") {
  auto v = parse(R"({"n":null,"s":"","a":[],"o":{},"x":[null,{"y":[true,false]}]})");
  REQUIRE(v.ok());
  CHECK(v->find("n")->is_null());
  CHECK(v->find("s")->as_string().empty());
  CHECK(v->find("a")->as_array().empty());
  CHECK(v->find("o")->as_object().empty());
  CHECK(v->find("x")->as_array()[1].find("y")->as_array()[1].as_bool() == false);
}

TEST_CASE("syntax errors report line and column", "[fhir][json]") {
  auto v = parse("{\n  \"a\": 1,\n  \"b\": tru\n}");
  REQUIRE_FALSE(v.ok());
  CHECK(v.error().kind() == fhir::error_kind::invalid);
  CHECK(v.error().issues().front().message_id == "json-syntax");
  CHECK_THAT(v.error().summary(), Catch::Contains("line 3"));
}

TEST_CASE("comments, trailing commas, trailing data and invalid UTF-8 are rejected", "[fhir][json]") {
  CHECK_FALSE(parse(R"({"a":1 /* no */})").ok());
  CHECK_FALSE(parse(R"({"a":1,})").ok());
  CHECK_FALSE(parse(R"({"a":1} {"b":2})").ok());
  CHECK_FALSE(parse("{\"a\":\"\xff\xfe\"}").ok());
  CHECK_FALSE(parse("").ok());
  CHECK(parse("{\"a\":\"caf\xc3\xa9\"}").ok());
}

TEST_CASE("nesting beyond the depth limit is an error, not a crash", "[fhir][json]") {
  std::string deep(100000, '[');
  auto v = parse(deep);
  REQUIRE_FALSE(v.ok());
  CHECK_THAT(v.error().summary(), Catch::Contains("nesting deeper"));

  std::string ok = std::string(200, '[') + std::string(200, ']');
  CHECK(parse(ok).ok());
}

TEST_CASE("strings are escaped on output and unescaped on input", "[fhir][json]") {
  auto v = parse(R"({"s":"quote \" backslash \\ newline \n tab \t control \u0001 unicode \u00e9 \ud83d\ude00"})");
  REQUIRE(v.ok());
  CHECK(v->find("s")->as_string() == "quote \" backslash \\ newline \n tab \t control \x01 unicode \xc3\xa9 \xf0\x9f\x98\x80");
  CHECK(serialize(*v) == "{\"s\":\"quote \\\" backslash \\\\ newline \\n tab \\t control \\u0001 unicode \xc3\xa9 \xf0\x9f\x98\x80\"}");
}

TEST_CASE("pretty output is indented and parses back to the same value", "[fhir][json]") {
  auto v = parse(R"({"resourceType":"Patient","name":[{"given":["A","B"]}],"active":true,"x":{}})");
  REQUIRE(v.ok());
  std::string pretty = fhir::json::serialize_pretty(*v);
  CHECK_THAT(pretty, Catch::Contains("\n  \"name\": [\n    {\n      \"given\": [\n        \"A\""));
  auto back = parse(pretty);
  REQUIRE(back.ok());
  CHECK(*back == *v);
}

TEST_CASE("set_at and erase keep member order predictable", "[fhir][json]") {
  auto v = parse(R"({"resourceType":"Patient","active":true})");
  REQUIRE(v.ok());
  v->set_at(1, "id", "x");
  CHECK(serialize(*v) == R"({"resourceType":"Patient","id":"x","active":true})");
  v->set_at(0, "id", "y");  // existing member: replaced in place
  CHECK(serialize(*v) == R"({"resourceType":"Patient","id":"y","active":true})");
  CHECK(v->erase("active") == 1);
  CHECK(serialize(*v) == R"({"resourceType":"Patient","id":"y"})");
}

TEST_CASE("a document with more values than the limit is refused", "[fhir][json][hostile]") {
  std::string many = "[0";
  for (int i = 0; i < 1000; ++i) many += ",0";
  many += "]";
  auto refused = fhir::json::parse(many, fhir::json::parse_options{.max_values = 500});
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().summary(), Catch::Contains("more than 500 values"));
  CHECK(fhir::json::parse(many, fhir::json::parse_options{.max_values = 5000}).ok());
}

TEST_CASE("serialising never produces invalid UTF-8", "[fhir][json]") {
  fhir::json::value v = fhir::json::object{};
  v.set("bad", std::string("a\xff" "b\xc3"));                 // a stray byte and a truncated sequence
  v.set("good", std::string("caf\xc3\xa9 \xf0\x9f\x98\x80"));  // kept as is
  v.set("surrogate", std::string("\xed\xa0\x80"));            // UTF-16 surrogates are not UTF-8
  CHECK(serialize(v) == "{\"bad\":\"a\xef\xbf\xbd" "b\xef\xbf\xbd\",\"good\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\","
                        "\"surrogate\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}");
}

TEST_CASE("UTF-8 prefixes never split a character", "[fhir][json]") {
  std::string s = "ab\xc3\xa9" "cd";  // a, b, é (2 bytes), c, d
  CHECK(fhir::utf8_prefix(s, 3) == "ab");
  CHECK(fhir::utf8_prefix(s, 4) == "ab\xc3\xa9");
  CHECK(fhir::utf8_prefix(s, 100) == s);
  CHECK(fhir::utf8_sequence_length("\xf0\x9f\x98\x80") == 4);
  CHECK(fhir::utf8_sequence_length("\xc0\xaf") == 0);  // overlong
}
