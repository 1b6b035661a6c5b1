// SQL injection (issue 9, "In CI"): classic injection payloads sent through the search parameters of
// every type (each parameter type: string, token, date, number, quantity, reference, uri, composite,
// special), with prefixes and modifiers, through _sort, _include/_revinclude, _has, chains, result and
// paging parameters, and as ids of reads, change nothing and leak nothing.
//
// The store builds search SQL from fixed fragments and binds every value (ARCHITECTURE.md, invariant 8);
// these tests hold it to that from the outside, through the router, as the development user:
//   - every answer is 200, 400 or 404: a 5xx would mean a value reached SQL text or broke a statement;
//   - an error is an OperationOutcome and quotes no SQLite message;
//   - a 200 shows only resources that were loaded, its matches are of the searched type, and a payload
//     used as a filter value, an id or a read matches nothing at all. The data set is chosen so that no
//     payload can legitimately match it: no indexed text contains or starts a word with a payload's
//     first word, no code or id equals one. Two exceptions match by design, and for them only the first
//     two rules apply: the :missing and :not modifiers, and a parameter the server ignored (lenient
//     handling, named in a "search-parameter-ignored" outcome entry: the answer is the plain search);
//   - afterwards every resource reads back byte for byte as before, at version 1; the system history
//     holds the same versions; the counts per type are the same; the resource and index tables of the
//     database file hold the same rows and the schema the same objects; PRAGMA integrity_check says ok.
//
// Problems are collected and reported together (the first 30), so one failing run shows the pattern.
// About 6,000 requests in all across the three test cases (in-process, no HTTP); each runs in seconds.

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/json/parse.hpp"
#include "fhir/search/search_parameters.hpp"
#include "fhir/text.hpp"
#include "server/http/url.hpp"
#include "tests/server/app_fixture.hpp"
#include "tests/server/requests.hpp"

using fhir::search::param_type;
using fhir::testing::app_fixture;
using fhir::testing::reply;
using fhir::testing::text;

namespace {

// On the wire every payload is percent-encoded, so the server's parameters hold exactly these bytes.
std::string enc(std::string_view text) { return server::http::percent_encode(text); }

// Classic injection payloads: quotes closing a literal, comments, stacked statements, UNION, LIKE
// wildcards, a NUL, look-alike quotes, an already percent-encoded attempt, and 10 KB of it.
const std::vector<std::string>& payloads() {
  static const std::vector<std::string> list = {
      "' OR '1'='1",
      "' OR 1=1 --",
      "1; DROP TABLE resource; --",
      "\") OR 1=1 --",
      "%27%20OR%201=1",  // arrives as this literal text: a double-encoding attempt
      "' UNION SELECT body FROM resource_version --",
      "\\' OR 1=1",
      "1 OR 1=1",
      "*/ OR /*",
      "'; UPDATE resource SET deleted = 1; --",
      "' AND (SELECT count(*) FROM sqlite_master) > 0 --",
      "x$' OR '1'='1",  // composites split on '$'
      "%",              // LIKE wildcards and the escape character: each must match only itself
      "_",
      "\\",
      std::string("x") + '\0' + "' OR '1'='1",                                    // NUL (%00 on the wire)
      "\xE2\x80\x99 OR \xE2\x80\x99" "1\xE2\x80\x99=\xE2\x80\x99" "1",            // ’ OR ’1’=’1
      "\xEF\xBC\x87 OR 1=1",                                                      // fullwidth apostrophe
      "' OR '" + std::string(10 * 1024, 'A') + "'='",                             // 10 KB
  };
  return list;
}

// The payloads for the many parameters of the other types, and for modifiers.
const std::vector<std::string> few_payloads = {"' OR '1'='1", "1; DROP TABLE resource; --",
                                               "' UNION SELECT body FROM resource_version --"};
const std::vector<std::string> modifier_payloads = {"' OR '1'='1", "%", "1; DROP TABLE resource; --"};

// For date, number and quantity parameters: payloads behind a prefix, and in a quantity's system.
const std::vector<std::string> prefixed_payloads = {"ge' OR '1'='1", "ge1 OR 1=1", "lt2020-01-01' OR '1'='1",
                                                    "ap1e999999", "eq1;DROP TABLE resource",
                                                    "gt1|' OR '1'='1|kg"};

bool takes_prefix(param_type t) { return t == param_type::date || t == param_type::number || t == param_type::quantity; }

// Every modifier (and a [type] modifier), and whether the server accepts it on a parameter type
// (search.html#modifiers, as fhir/search/search_query.cpp has it). Accepted ones are tried with three
// payloads, the others (a 400 before any SQL) with one.
const std::vector<std::string> modifiers = {"exact", "contains", "missing", "not",        "text",    "above",
                                            "below", "in",       "of-type", "identifier", "Patient"};

bool modifier_applies(param_type t, std::string_view m) {
  if (m == "missing") return true;
  if (m == "exact" || m == "contains") return t == param_type::string;
  if (m == "text" || m == "not" || m == "in" || m == "of-type") return t == param_type::token;
  if (m == "above" || m == "below") return t == param_type::uri || t == param_type::token || t == param_type::reference;
  return t == param_type::reference;  // identifier, [type]
}

// Text of SQLite errors, which no answer may quote.
bool quotes_sql_error(std::string_view body) {
  std::string lower(body);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view leak : {"sql logic error", "unrecognized token", "no such table", "no such column", "no such function",
                                "syntax error", "sqlite3", "sqlite error", "database disk image"})
    if (lower.find(leak) != std::string::npos) return true;
  return false;
}

// --- The database file, read directly (read-only) ----------------------------------------------------

class read_only_database {
 public:
  explicit read_only_database(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~read_only_database() { sqlite3_close(db_); }
  read_only_database(const read_only_database&) = delete;
  read_only_database& operator=(const read_only_database&) = delete;

  // The rows of `sql`, each as its columns joined by '|'; a failure is a row saying so.
  std::vector<std::string> rows(const std::string& sql) const {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      out.push_back("cannot prepare '" + sql + "': " + sqlite3_errmsg(db_));
      return out;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        if (i) row += '|';
        const unsigned char* value = sqlite3_column_text(st, i);
        row += value ? reinterpret_cast<const char*>(value) : "NULL";
      }
      out.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) out.push_back("step failed for '" + sql + "': " + sqlite3_errmsg(db_));
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

// The schema's objects, the row counts of the resource and index tables, and every resource row (type,
// id, version, time, deleted). The audit tables are left out: every request appends to them.
std::string database_snapshot(const std::string& path) {
  read_only_database db(path);
  std::string out;
  for (const auto& row : db.rows("SELECT type, name FROM sqlite_master ORDER BY type, name")) out += row + "\n";
  for (const auto& table : db.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                   "(name LIKE 'resource%' OR name LIKE 'ix!_%' ESCAPE '!') ORDER BY name"))
    for (const auto& count : db.rows("SELECT count(*) FROM \"" + table + "\"")) out += table + ": " + count + " rows\n";
  for (const auto& row : db.rows("SELECT pk, type_id, id, version, last_updated, deleted FROM resource ORDER BY pk"))
    out += row + "\n";
  return out;
}

std::string integrity_check(const std::string& path) {
  read_only_database db(path);
  std::string out;
  for (const auto& row : db.rows("PRAGMA integrity_check")) out += (out.empty() ? "" : "\n") + row;
  return out;
}

// --- The data, the probe and the check that nothing changed ------------------------------------------

// What the server holds, seen through the API and in the file.
struct stored_state {
  std::vector<std::string> versions;           // the system history: "Patient/p1/_history/1", newest first
  std::map<std::string, std::string> bodies;   // "Patient/p1" -> the body of its read
  std::map<std::string, std::string> counts;   // type -> total of [type]?_summary=count
  std::string database;                        // database_snapshot()
};

// What a payload may match: nothing (a filter value, an id, a read), or whatever the plain search would
// show (the search is unfiltered, as with _sort or _include, or matches by design, as :missing and :not).
enum class expect { no_match, loaded_only };

// Two Patients (one with an NHS number, address, GP practice and tag; one with a narrative and phone),
// the GP practice, two Observations (codes, dates, quantities, subjects) and a RiskAssessment (a number).
// No indexed text has a word starting with a payload's first word ("'", "1;", "*/", "%", "_", ...).
class injection_data : public app_fixture {
 public:
  injection_data() {
    for (const auto& [path, body] : resources()) {
      auto r = put("/fhir/" + path, body);
      INFO(path << ": " << r.http.body);
      REQUIRE(r.status() == 201);
    }
    before_ = state();
    for (const auto& [ref, body] : before_.bodies) loaded_.insert(ref);
    REQUIRE(loaded_.size() >= resources().size());
  }

  // GET /fhir/<target> (already encoded); `type`: the searched or read type ("" for none), which picks
  // the purpose of use and, for searches, the type every match must have.
  void probe(const std::string& target, std::string_view type, expect what) {
    ++requests_;
    reply r = get("/fhir/" + target, headers_for(type));
    const unsigned status = r.status();
    if (status != 200 && status != 400 && status != 404) return problem(target, r, "unexpected status");
    auto body = fhir::json::parse(r.http.body);
    if (!body.ok()) return problem(target, r, "the body is not JSON");
    const std::string kind = text(&*body, "resourceType");
    if (status != 200) {
      if (kind != "OperationOutcome") problem(target, r, "an error that is not an OperationOutcome");
      if (quotes_sql_error(r.http.body)) problem(target, r, "an error quoting SQLite");
      return;
    }
    if (kind != "Bundle") {  // a read or version read: the payload named something
      std::string ref = kind + "/" + text(&*body, "id");
      if (what == expect::no_match || !loaded_.contains(ref)) problem(target, r, "read " + ref);
      return;
    }
    const bool ignored = r.http.body.find("search-parameter-ignored") != std::string::npos;
    std::size_t shown = 0;
    if (const fhir::json::value* entries = body->find("entry"))
      for (const fhir::json::value& e : entries->as_array()) {
        const std::string mode = text(e.find("search"), "mode");
        const fhir::json::value* resource = e.find("resource");
        if (mode == "outcome" || !resource) continue;
        ++shown;
        const std::string shown_type = text(resource, "resourceType");
        const std::string ref = shown_type + "/" + text(resource, "id");
        if (shown_type == "AuditEvent") continue;  // the trail's records of this test's own requests
        if (!loaded_.contains(ref)) problem(target, r, "shows " + ref + ", which was never loaded");
        else if (mode == "match" && !type.empty() && shown_type != type) problem(target, r, "a match of another type: " + ref);
      }
    if (what == expect::no_match && !ignored && shown > 0)
      problem(target, r, std::to_string(shown) + " entries for a value that nothing has");
  }

  // `[type]?[code]=<payload>` for each value.
  void probe_values(const std::string& type, const std::string& code, const std::vector<std::string>& values, expect what) {
    for (const std::string& v : values) probe(type + "?" + enc(code) + "=" + enc(v), type, for_type(type, what));
  }

  // The audit trail's records name earlier requests (and the ids they asked for), so an AuditEvent search
  // may legitimately match a payload: only the other rules apply there.
  static expect for_type(std::string_view type, expect what) { return type == "AuditEvent" ? expect::loaded_only : what; }

  std::size_t requests() const { return requests_; }

  void check_nothing_leaked_or_changed() {
    INFO(requests_ << " requests, " << problem_count_ << " problems; the first:\n" << joined(problems_));
    CHECK(problem_count_ == 0);

    stored_state after = state();  // every resource still reads (200)
    CHECK(after.versions == before_.versions);
    CHECK(after.counts == before_.counts);
    CHECK(after.database == before_.database);
    for (const auto& [ref, body] : before_.bodies) {
      INFO(ref);
      auto now = after.bodies.find(ref);
      REQUIRE(now != after.bodies.end());
      CHECK(now->second == body);
      auto v = fhir::json::parse(now->second);
      REQUIRE(v.ok());
      CHECK(text(v->find("meta"), "versionId") == "1");
    }
    CHECK(integrity_check(database_path()) == "ok");
  }

 private:
  static const std::vector<std::pair<std::string, std::string>>& resources() {
    static const std::vector<std::pair<std::string, std::string>> list = {
        {"Organization/org1", R"({"resourceType":"Organization","id":"org1","name":"Leeds GP Practice",
          "identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"}]})"},
        {"Patient/p1", R"({"resourceType":"Patient","id":"p1",
          "identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}],
          "name":[{"family":"Smith","given":["John"]}],"gender":"male","birthDate":"1970-03-15",
          "address":[{"line":["1 Park Row"],"city":"Leeds","postalCode":"LS1 4AP"}],
          "generalPractitioner":[{"reference":"Organization/org1"}],
          "meta":{"tag":[{"system":"http://example.org/tags","code":"important"}]}})"},
        {"Patient/p2", R"({"resourceType":"Patient","id":"p2","name":[{"family":"Smyth","given":["Zoë"]}],
          "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Zoë Smyth, lives in Harrogate</div>"},
          "gender":"female","birthDate":"1985-07-01","telecom":[{"system":"phone","value":"0113 496 0000"}]})"},
        {"Observation/o1", observation("o1", "p1", "29463-7", "Body weight", "72.5", "kg", "2024-02-10T10:00:00Z")},
        {"Observation/o2", observation("o2", "p2", "8867-4", "Heart rate", "80", "/min", "2023-06-01")},
        {"RiskAssessment/ra1", R"({"resourceType":"RiskAssessment","id":"ra1","status":"final",
          "subject":{"reference":"Patient/p1"},"prediction":[{"probabilityDecimal":0.8}]})"},
    };
    return list;
  }

  static std::string observation(std::string_view id, std::string_view patient, std::string_view loinc, std::string_view display,
                                 std::string_view value, std::string_view unit, std::string_view when) {
    return R"({"resourceType":"Observation","id":")" + std::string(id) + R"(","status":"final",)" +
           R"("code":{"coding":[{"system":"http://loinc.org","code":")" + std::string(loinc) + R"(","display":")" +
           std::string(display) + R"("}]},"subject":{"reference":"Patient/)" + std::string(patient) +
           R"("},"effectiveDateTime":")" + std::string(when) + R"(","valueQuantity":{"value":)" + std::string(value) +
           R"(,"unit":")" + std::string(unit) + R"(","system":"http://unitsofmeasure.org","code":")" + std::string(unit) + R"("}})";
  }

  // The development user acts for TREAT unless told otherwise; the audit trail and Consents are read
  // for the purposes the access policy gives them (privacy officer, consent administrator).
  static std::vector<server::http::header> headers_for(std::string_view type) {
    if (type == "AuditEvent") return {{"X-Purpose-Of-Use", "HSYSADMIN"}};
    if (type == "Consent") return {{"X-Purpose-Of-Use", "PATADMIN"}};
    return {};
  }

  stored_state state() const {
    stored_state s;
    auto history = get("/fhir/_history?_count=1000");
    INFO(history.http.body.substr(0, 1000));
    REQUIRE(history.status() == 200);
    auto bundle = history.json();
    std::set<std::string> refs, types;
    if (const fhir::json::value* entries = bundle.find("entry"))
      for (const fhir::json::value& e : entries->as_array()) {
        const fhir::json::value* resource = e.find("resource");
        REQUIRE(resource);  // nothing here is ever deleted
        std::string ref = text(resource, "resourceType") + "/" + text(resource, "id");
        s.versions.push_back(ref + "/_history/" + text(resource->find("meta"), "versionId"));
        refs.insert(ref);
        types.insert(text(resource, "resourceType"));
      }
    for (const std::string& ref : refs) {
      auto r = get("/fhir/" + ref);
      INFO(ref << ": " << r.http.body.substr(0, 500));
      REQUIRE(r.status() == 200);
      s.bodies[ref] = r.http.body;
    }
    for (const std::string& type : types) {
      auto r = get("/fhir/" + type + "?_summary=count");
      INFO(type << ": " << r.http.body.substr(0, 500));
      REQUIRE(r.status() == 200);
      auto counted = r.json();
      const fhir::json::value* total = counted.find("total");
      s.counts[type] = total && total->is_number() ? total->as_number().text : "none";
    }
    s.database = database_snapshot(database_path());
    return s;
  }

  void problem(const std::string& target, const reply& r, const std::string& what) {
    ++problem_count_;
    if (problems_.size() < 30)
      problems_.push_back(what + ": GET /fhir/" + std::string(fhir::utf8_prefix(target, 200)) + " -> " +
                          std::to_string(r.status()) + " " + std::string(fhir::utf8_prefix(r.http.body, 400)));
  }

  static std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) out += line + "\n";
    return out;
  }

  stored_state before_;
  std::set<std::string> loaded_;
  std::size_t requests_ = 0;
  std::size_t problem_count_ = 0;
  std::vector<std::string> problems_;
};

// The part of a target before '?' when it comes before any '/': the searched type ("" otherwise).
std::string searched_type(std::string_view target) {
  std::size_t end = target.find_first_of("/?");
  return end != std::string_view::npos && target[end] == '?' ? std::string(target.substr(0, end)) : std::string();
}

}  // namespace

TEST_CASE_METHOD(injection_data, "SQL injection through every parameter of Patient and Observation, with prefixes and "
                                 "modifiers, changes nothing and leaks nothing", "[server][search][security]") {
  const auto& parameters = application().context().search_parameters;
  std::set<param_type> kinds;
  for (const std::string& type : std::vector<std::string>{"Patient", "Observation"})
    for (const auto& [code, p] : parameters.of(type)) {
      kinds.insert(p.type);
      probe_values(type, code, payloads(), expect::no_match);
      if (takes_prefix(p.type)) probe_values(type, code, prefixed_payloads, expect::no_match);
      for (const std::string& m : modifiers) {
        // :missing and :not match resources without the value by design.
        expect what = m == "missing" || m == "not" ? expect::loaded_only : expect::no_match;
        const auto& values = modifier_applies(p.type, m) ? modifier_payloads : std::vector<std::string>{payloads().front()};
        probe_values(type, code + ":" + m, values, what);
      }
    }
  // Between them, Patient and Observation have parameters of these types (the next test case covers
  // number and special too).
  for (param_type t : {param_type::string, param_type::token, param_type::date, param_type::reference, param_type::quantity,
                       param_type::uri, param_type::composite}) {
    INFO(fhir::search::to_string(t));
    CHECK(kinds.contains(t));
  }
  CHECK(requests() > 2000);
  check_nothing_leaked_or_changed();
}

TEST_CASE_METHOD(injection_data, "SQL injection through the parameters of every other resource type changes nothing and "
                                 "leaks nothing", "[server][search][security]") {
  const auto& ctx = application().context();
  // Every other type's first three own parameters (in code order; the inherited _id, _tag... are the
  // same everywhere and covered on Patient), with a few payloads.
  std::size_t types = 0;
  for (const std::string& type : ctx.definitions.resource_types()) {
    if (type == "Patient" || type == "Observation") continue;
    ++types;
    int taken = 0;
    for (const auto& [code, p] : ctx.search_parameters.of(type)) {
      if (code.starts_with('_') || taken == 3) continue;
      ++taken;
      probe_values(type, code, few_payloads, expect::no_match);
    }
  }
  // Then the first parameter of each parameter type, wherever it is, with every payload (and prefixes):
  // number (RiskAssessment has data), uri, special and the rest.
  std::set<param_type> full;
  for (const std::string& type : ctx.definitions.resource_types())
    for (const auto& [code, p] : ctx.search_parameters.of(type)) {
      if (code.starts_with('_') || full.contains(p.type)) continue;
      full.insert(p.type);
      probe_values(type, code, payloads(), expect::no_match);
      if (takes_prefix(p.type)) probe_values(type, code, prefixed_payloads, expect::no_match);
    }
  for (const std::string& code : std::vector<std::string>{"probability", "date", "subject"}) {
    probe_values("RiskAssessment", code, payloads(), expect::no_match);
    if (code != "subject") probe_values("RiskAssessment", code, prefixed_payloads, expect::no_match);
  }
  for (param_type t : {param_type::number, param_type::uri, param_type::special, param_type::string, param_type::token,
                       param_type::date, param_type::reference, param_type::quantity, param_type::composite}) {
    INFO(fhir::search::to_string(t));
    CHECK(full.contains(t));
  }
  CHECK(types > 100);
  CHECK(requests() > 1000);
  check_nothing_leaked_or_changed();
}

TEST_CASE_METHOD(injection_data, "SQL injection through _sort, _include, _revinclude, _has, chains, result parameters and "
                                 "ids changes nothing and leaks nothing", "[server][search][security]") {
  for (const std::string& payload : payloads()) {
    const std::string v = enc(payload);

    // The search itself is unfiltered, or the payload names a parameter (ignored or refused): whatever
    // the answer, it shows only loaded resources of the searched type.
    for (const std::string& target : {
             "Patient?_sort=" + v, "Patient?_sort=-" + v, "Patient?_sort=family," + v, "Observation?_sort=" + v,
             "Observation?_sort=-" + v,
             "Patient?_include=" + v, "Observation?_include=Observation:" + v, "Observation?_include=" + v + ":subject",
             "Observation?_include=Observation:subject:" + v, "Observation?_include:iterate=" + v,
             "Patient?_revinclude=" + v, "Patient?_revinclude=Observation:" + v, "Patient?_revinclude=" + v + ":subject",
             "Patient?_elements=" + v, "Patient?_summary=" + v, "Patient?_count=" + v, "Patient?_total=" + v,
             "Patient?_contained=" + v, "Patient?_page_token=" + v,
             "Patient?" + v + "=x", "Patient?family:" + v + "=x",
             "Patient?_has:" + v + "=x", "Patient?_has:Observation:subject:" + v + "=x", "Patient?_has:Observation:" + v + ":code=x",
             "Patient?_has:" + v + ":subject:code=x",
             "Observation?subject." + v + "=x", "Observation?subject:Patient." + v + "=x", "Observation?" + v + ".name=x",
             "Observation?subject:" + v + ".name=x",
             "?_type=" + v, "?_type=Patient&_sort=" + v,
         })
      probe(target, searched_type(target), expect::loaded_only);
    for (const std::string& target : {"_history?_since=" + v, "_history?_at=" + v, "_history?_page=" + v, "_history?_count=" + v,
                                      "Patient/_history?_since=" + v, "Patient/p1/_history?_since=" + v})
      probe(target, "", expect::loaded_only);

    // Filters, chains, _has and ids: the payload is a value nothing has.
    for (const std::string& target : {
             "Patient?_id=" + v, "Observation?_id=" + v, "Patient?_id=p1," + v + "&_id=" + v,
             "Patient?_id=" + v + "&_revinclude=Observation:subject",
             "Observation?code=" + v + "&_include=Observation:subject",
             "Observation?code=" + v + "&_include=*",
             "Patient?_has:Observation:subject:code=" + v, "Patient?_has:Observation:subject:_id=" + v,
             "Observation?subject.name=" + v, "Observation?subject:Patient.family=" + v,
             "Observation?subject.identifier=" + v, "Observation?subject._id=" + v,
             "Observation?subject:Patient.general-practitioner:Organization.name=" + v,
             "Patient?general-practitioner.name=" + v, "Patient?general-practitioner:Organization.identifier=" + v,
         })
      probe(target, searched_type(target), expect::no_match);
    for (const std::string& target : {
             "Patient/" + v, "Patient/" + v + "/_history", "Patient/" + v + "/_history/1", "Patient/p1/_history/" + v,
             "Observation/" + v, "Patient/" + v + "/Observation", "Patient/" + v + "/$everything",
             "Patient/" + v + "/Observation?code=8867-4",
         })
      probe(target, "", expect::no_match);
    probe("AuditEvent/" + v, "AuditEvent", expect::no_match);  // ids are UUIDs: no payload is one
  }

  // As a careless client or an attacker would type them: unencoded (the server encodes what RFC 3986
  // does not allow, spaces and quotes included), next to a value that does match.
  for (const char* target : {
           "Patient?family=Smith' OR '1'='1", "Patient?family=%27%20OR%201=1", "Patient?name=1;DROP TABLE resource;--",
           "Patient?_id=p1' OR '1'='1", "Patient?_id=p1'--", "Patient?_id=p1\" OR \"1\"=\"1",
           "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009' OR '1'='1",
           "Patient?birthdate=ge1970-01-01' OR '1'='1", "Observation?code=8867-4' OR 1=1--",
           "Observation?code=http://loinc.org|8867-4' OR '1'='1",
           "Observation?value-quantity=gt1|http://unitsofmeasure.org' OR '1'='1|kg",
           "Observation?subject=Patient/p1' OR '1'='1", "Observation?subject.family=Smith' OR '1'='1",
       })
    probe(target, searched_type(target), expect::no_match);
  for (const char* target : {"Patient/p1' OR '1'='1", "Patient/p1;DROP TABLE resource", "Patient/p1'--/_history"})
    probe(target, "", expect::no_match);
  probe("Patient?_sort=family;DROP TABLE resource", "Patient", expect::loaded_only);

  CHECK(requests() > 1000);
  check_nothing_leaked_or_changed();
}
