#include "store/sqlite/audit_log.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <memory>
#include <variant>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "fhir/json/parse.hpp"
#include "store/sqlite/page_token.hpp"
#include "store/sqlite/read_trail.hpp"
#include "store/sqlite/sql_text.hpp"

namespace store::sqlite {
namespace {

using digest = std::array<unsigned char, 32>;
using fhir::search::modifier;
using fhir::search::prefix;
using fhir::search::search_value;

constexpr std::string_view audit_type = "AuditEvent";

digest link_hash(const digest& previous, std::int64_t seq, std::string_view body) {
  unsigned char seq_bytes[8];
  for (int i = 0; i < 8; ++i) seq_bytes[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(seq) >> (56 - 8 * i));
  digest out{};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  unsigned int length = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), previous.data(), previous.size()) != 1 || EVP_DigestUpdate(ctx.get(), seq_bytes, 8) != 1 ||
      EVP_DigestUpdate(ctx.get(), body.data(), body.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), out.data(), &length) != 1)
    throw sqlite_error(SQLITE_ERROR, "SHA-256 failed while chaining the audit trail");
  return out;
}

std::string_view as_bytes(const digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

std::string hex(const digest& d) {
  std::string out;
  for (unsigned char c : d) out += fmt::format("{:02x}", c);
  return out;
}

// A record's search keys go in by statements of up to this many rows (one statement run costs more
// than the rows it inserts; the server's records have about five keys).
constexpr std::size_t keys_per_statement = 8;

// The statements of one file's trail, for its schema name (built once: cached statements need text
// that outlives the connection).
struct trail_statements {
  std::string schema;
  std::string last_hash;
  std::string insert;
  std::string data_version;  // changes when another connection commits to the file
  // add_keys[n - 1]: INSERT OR IGNORE of n keys, ?1 the seq and ?2.. the keys.
  std::array<std::string, keys_per_statement> add_keys;
};

trail_statements make_statements(std::string_view schema) {
  trail_statements out{
      std::string(schema),
      fmt::format("SELECT hash FROM {}.audit_record ORDER BY seq DESC LIMIT 1", schema),
      fmt::format("INSERT INTO {}.audit_record(seq, id, recorded, type, subtype, action, outcome, body, hash) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                  schema),
      fmt::format("PRAGMA {}.data_version", schema),
      {}};
  std::string rows;
  for (std::size_t n = 1; n <= keys_per_statement; ++n) {
    rows += fmt::format("{}(?{}, ?1)", n > 1 ? ", " : "", n + 1);
    out.add_keys[n - 1] = fmt::format("INSERT OR IGNORE INTO {}.audit_key(key, seq) VALUES {}", schema, rows);
  }
  return out;
}

const trail_statements database_statements = make_statements("main");
const trail_statements read_trail_statements = make_statements(read_trail_schema);

const trail_statements& statements_of(audit_file file) {
  return file == audit_file::read_trail ? read_trail_statements : database_statements;
}

// The highest seq in either file (0 when both are empty), as this connection sees them.
std::int64_t highest_audit_seq(database& db) {
  auto highest = db.cached(
      "SELECT max(coalesce((SELECT max(seq) FROM main.audit_record), 0), "
      "coalesce((SELECT max(seq) FROM read_trail.audit_record), 0))");
  return highest->step() ? highest->column_int64(0) : 0;
}

void insert_record(database& db, const trail_statements& in, std::int64_t seq, const audit_record& r, std::string_view body,
                   const digest& hash) {
  auto insert = db.cached(in.insert.c_str());
  insert->bind(1, seq).bind(2, r.id).bind(3, r.recorded).bind(4, r.type).bind(5, r.subtype).bind(6, r.action);
  insert->bind(7, r.outcome).bind_static(8, body).bind_blob(9, as_bytes(hash)).run();
  for (std::size_t first = 0; first < r.keys.size(); first += keys_per_statement) {
    const std::size_t n = std::min(keys_per_statement, r.keys.size() - first);
    auto add = db.cached(in.add_keys[n - 1].c_str());
    add->bind(1, seq);
    for (std::size_t i = 0; i < n; ++i) add->bind_static(static_cast<int>(i) + 2, r.keys[first + i]);
    add->run();
  }
}

// An AuditEvent record as a resource version: written once, so version 1, last updated when recorded.
resource_version as_version(std::string_view id, fhir::epoch_ms recorded, std::string_view stored, const audit_renderer& render) {
  return resource_version{version_info{std::string(audit_type), std::string(id), 1, recorded, false, verb::post, true},
                          render ? render(stored) : std::string(stored)};
}

fhir::error unsupported(std::string message) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::not_supported, std::move(message), "audit-search-unsupported");
}

// search.html#prefix for an instant (the range [r, r + 1 ms)) against the value's range [low, high).
void recorded_predicate(sql& q, const search_value& v) {
  std::int64_t margin = std::max<std::int64_t>(v.high - v.low, std::abs(fhir::now_ms() - v.low) / 10);
  switch (v.prefix) {
    case prefix::eq: q << "(a.recorded >= ", q.bind(v.low), q << " AND a.recorded < ", q.bind(v.high), q << ")"; break;
    case prefix::ne: q << "NOT (a.recorded >= ", q.bind(v.low), q << " AND a.recorded < ", q.bind(v.high), q << ")"; break;
    case prefix::gt:
    case prefix::sa: q << "a.recorded >= ", q.bind(v.high); break;
    case prefix::lt:
    case prefix::eb: q << "a.recorded < ", q.bind(v.low); break;
    case prefix::ge: q << "a.recorded >= ", q.bind(v.low); break;
    case prefix::le: q << "a.recorded < ", q.bind(v.high); break;
    case prefix::ap: q << "(a.recorded >= ", q.bind(v.low - margin), q << " AND a.recorded < ", q.bind(v.high + margin), q << ")"; break;
  }
}

// The code systems each token column's codes come from (the server writes every record itself).
std::string_view system_of(std::string_view column, std::string_view code) {
  if (column == "type") return "http://terminology.hl7.org/CodeSystem/audit-event-type";
  if (column == "action") return "http://hl7.org/fhir/audit-event-action";
  if (column == "outcome") return "http://hl7.org/fhir/audit-event-outcome";
  return code.starts_with('$') ? "https://shared-care-record.github.io/fhir/CodeSystem/operation" : "http://hl7.org/fhir/restful-interaction";
}

// Builds the WHERE conditions of an AuditEvent search; the keys of the first single-valued key clause
// drive the query (one seek in audit_key), the rest filter.
class audit_query {
 public:
  // `schema`: the file whose audit_key the filter's key clauses read ("main" or "read_trail").
  audit_query(const fhir::search::search_query& query, std::string_view schema) : query_(query), schema_(schema) {}

  fhir::result<fhir::done> build() {
    if (query_.types.size() != 1 || query_.types.front() != audit_type)
      return unsupported("AuditEvents are searched on their own: GET [base]/AuditEvent?... (not with other types)");
    if (!query_.includes.empty()) return unsupported("_include and _revinclude are not supported on AuditEvent");
    for (const auto& key : query_.sort)
      if (key.code != "date" && key.code != "_lastUpdated")
        return unsupported(fmt::format("AuditEvents sort by date only (_sort=date or _sort=-date), not '{}'", key.code));
    if (query_.compartment) {
      std::vector<std::string> keys{audit_patient_key(query_.compartment->owner_id)};
      for (const std::string& linked : query_.compartment->linked_ids) keys.push_back(audit_patient_key(linked));
      add_keys(keys);
    }
    for (const auto& c : query_.clauses)
      if (auto added = add_clause(c); !added) return added;
    return fhir::done{};
  }

  bool ascending() const { return !query_.sort.empty() && !query_.sort.front().descending; }
  const std::optional<std::string>& driving_key() const { return driving_key_; }
  const sql& filter() const { return filter_; }

 private:
  fhir::result<fhir::done> add_clause(const fhir::search::clause& c) {
    if (!c.chain.empty() || !c.has.empty()) return unsupported(fmt::format("'{}': chained searches are not supported on AuditEvent", c.name));
    std::string_view code = c.parameter ? std::string_view(c.parameter->code) : std::string_view(c.special);
    bool negated = c.modifier == modifier::not_;
    auto plain = [&](bool allow_not) {
      return c.modifier == modifier::none || (allow_not && negated) || c.modifier == modifier::type;
    };
    if (code == "_id") {
      if (!plain(true)) return bad_modifier(c);
      and_(), filter_ << (negated ? "a.id NOT IN (" : "a.id IN (");
      for (std::size_t i = 0; i < c.values.size(); ++i) (i ? filter_ << ", " : filter_), filter_.bind(c.values[i].text);
      filter_ << ")";
      return fhir::done{};
    }
    if (code == "date" || code == "_lastUpdated") {
      if (!plain(false)) return bad_modifier(c);
      and_(), filter_ << "(";
      for (std::size_t i = 0; i < c.values.size(); ++i) (i ? filter_ << " OR " : filter_), recorded_predicate(filter_, c.values[i]);
      filter_ << ")";
      return fhir::done{};
    }
    if (code == "type" || code == "subtype" || code == "action" || code == "outcome") {
      if (!plain(true)) return bad_modifier(c);
      and_(), filter_ << (negated ? "NOT (" : "(");
      for (std::size_t i = 0; i < c.values.size(); ++i) {
        const search_value& v = c.values[i];
        if (i) filter_ << " OR ";
        if (v.has_system && v.system != system_of(code, v.text)) filter_ << "0";
        else filter_ << "a." << code << " = ", filter_.bind(v.text);
      }
      filter_ << ")";
      return fhir::done{};
    }
    if (code == "patient" || code == "entity" || code == "agent") {
      if (!plain(false) && !(code == "agent" && c.modifier == modifier::identifier)) return bad_modifier(c);
      std::vector<std::string> keys;
      for (const search_value& v : c.values) {
        auto key = reference_key(code, c, v);
        if (!key) return std::move(key).error();
        keys.push_back(std::move(*key));
      }
      add_keys(keys);
      return fhir::done{};
    }
    return unsupported(fmt::format("The AuditEvent search parameter '{}' is not supported here; AuditEvents are searched by "
                                   "_id, date, patient, entity, agent, agent:identifier, type, subtype, action and outcome",
                                   c.name));
  }

  // The key a reference value names (audit_record.hpp); a value that cannot name one fails.
  static fhir::result<std::string> reference_key(std::string_view code, const fhir::search::clause& c, const search_value& v) {
    if (c.modifier == modifier::identifier) {
      if (!v.has_system || v.system.empty())
        return unsupported(fmt::format("'{}': give the identifier as system|value", c.name));
      return audit_agent_identifier_key(v.system, v.text);
    }
    std::string id = !v.code.empty() ? v.code : v.text;  // an absolute reference carries its id in `code`
    std::string type = v.target_type.empty() ? c.modifier_type : v.target_type;
    if (code == "patient") {
      if (!type.empty() && type != "Patient") return std::string("patient|");  // names no patient: matches nothing
      return audit_patient_key(id);
    }
    if (type.empty()) return unsupported(fmt::format("'{}': give the reference as Type/id", c.name));
    if (code == "entity") return type == "Patient" ? audit_patient_key(id) : audit_entity_key(type + "/" + id);
    return audit_agent_key(type + "/" + id);
  }

  void add_keys(const std::vector<std::string>& keys) {
    if (!driving_key_ && keys.size() == 1) {
      driving_key_ = keys.front();
      return;
    }
    and_(), filter_ << "a.seq IN (SELECT seq FROM " << schema_ << ".audit_key WHERE key IN (";
    for (std::size_t i = 0; i < keys.size(); ++i) (i ? filter_ << ", " : filter_), filter_.bind(keys[i]);
    filter_ << "))";
  }

  static fhir::error bad_modifier(const fhir::search::clause& c) {
    return unsupported(fmt::format("'{}': the modifier :{} is not supported on AuditEvent", c.name, fhir::search::to_string(c.modifier)));
  }

  void and_() { filter_ << " AND "; }

  const fhir::search::search_query& query_;
  std::string_view schema_;
  std::optional<std::string> driving_key_;
  sql filter_;
};

std::string query_hash(const fhir::search::search_query& query) {
  std::string text = "AuditEvent?";
  if (query.compartment) text += query.compartment->owner_id + "/";
  for (const auto& c : query.clauses) text += c.name + "=" + c.raw_value + "&";
  for (const auto& k : query.sort) text += (k.descending ? "-" : "") + k.code + ",";
  return fmt::format("{:016x}", std::hash<std::string>{}(text));
}

}  // namespace

void audit_tail::began(database& db) {
  for (audit_file file : {audit_file::database, audit_file::read_trail}) {
    auto st = db.cached(statements_of(file).data_version.c_str());
    std::int64_t version = st->step() ? st->column_int64(0) : -1;
    std::int64_t& seen = data_version_[static_cast<int>(file)];
    if (version != seen) known_.reset();  // another connection committed (or the first look)
    seen = version;
  }
}

void audit_tail::publish(database& db) { committed_through_.store(known(db).highest_seq, std::memory_order_release); }

audit_tail::ends& audit_tail::known(database& db) {
  if (known_) return *known_;
  ends read;
  read.highest_seq = highest_audit_seq(db);
  for (audit_file file : {audit_file::database, audit_file::read_trail}) {
    auto last = db.cached(statements_of(file).last_hash.c_str());
    if (!last->step()) continue;
    std::string_view stored = last->column_blob(0);
    digest& hash = read.last_hash[static_cast<int>(file)];
    if (stored.size() == hash.size()) std::memcpy(hash.data(), stored.data(), hash.size());
  }
  return known_.emplace(read);
}

void append_audit_record(database& db, audit_tail& tail, const audit_record& record, audit_file file) {
  audit_tail::ends& ends = tail.known(db);
  const std::int64_t seq = ends.highest_seq + 1;  // one sequence across both files (read_trail.hpp, invariant 2)
  digest& previous = ends.last_hash[static_cast<int>(file)];  // the previous record of the same file (invariant 3)
  const digest hash = link_hash(previous, seq, record.json);
  insert_record(db, statements_of(file), seq, record, record.json, hash);
  // Noted only once stored: a failed insert leaves the ends as they were (and its rollback drops them).
  ends.highest_seq = seq;
  previous = hash;
}

std::optional<resource_version> read_audit_record(database& db, std::string_view id, const audit_renderer& render) {
  auto st = db.cached(
      "SELECT recorded, body FROM main.audit_record WHERE id = ?1 "
      "UNION ALL SELECT recorded, body FROM read_trail.audit_record WHERE id = ?1");
  st->bind(1, id);
  if (!st->step()) return std::nullopt;
  return as_version(id, st->column_int64(0), st->column_text(1), render);
}

fhir::result<search_page> search_audit_trail(database& db, const search_request& request, const audit_renderer& render,
                                             std::int64_t committed_through) {
  // The same search in each file (read_trail.hpp): only the tables its clauses read differ.
  audit_query query(request.query, "main"), in_read_trail(request.query, "read_trail");
  if (auto built = query.build(); !built) return std::move(built).error();
  if (auto built = in_read_trail.build(); !built) return std::move(built).error();
  const std::string hash = query_hash(request.query);
  // Records appended after the first page never join this search's pages: they are bounded by the seq
  // committed in both files when it ran (audit_log.hpp: not the highest seq this snapshot sees).
  page_position position;
  if (!request.page_token.empty()) {
    auto decoded = decode_page_token(request.page_token, hash);
    if (!decoded)
      return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                         "The page token is not valid for this search (it may belong to another query)", "page-token-invalid");
    position = *decoded;
  } else {
    position.max_pk = committed_through;
  }

  const std::string seq = query.driving_key() ? "k.seq" : "a.seq";
  auto where_in = [&](const audit_query& q, std::string_view schema) {
    sql where;
    if (q.driving_key()) {
      where << " FROM " << schema << ".audit_key k JOIN " << schema << ".audit_record a ON a.seq = k.seq WHERE k.key = ";
      where.bind(*q.driving_key());
    } else {
      where << " FROM " << schema << ".audit_record a WHERE 1";
    }
    where << " AND " << seq << " <= ", where.bind(position.max_pk);
    return where.append(q.filter());
  };
  const sql wheres[] = {where_in(query, "main"), where_in(in_read_trail, "read_trail")};

  search_page page;
  if (request.query.total != fhir::search::total_mode::none || request.count == 0) {
    sql counted;
    counted << "SELECT (SELECT count(*)";
    counted.append(wheres[0]) << ") + (SELECT count(*)";
    counted.append(wheres[1]) << ")";
    auto st = db.prepared(counted.text);
    bind_all(*st, counted.values);
    st->step();
    page.total = st->column_int64(0);
  }
  if (request.count == 0) return page;

  // Pages run in the search's order (newest first unless _sort=date); a previous-page token walks back.
  // Each file gives its first count + 1 rows in that order, and the union keeps the first count + 1.
  const bool ascending = query.ascending() != position.backwards;
  const std::string order = fmt::format(" ORDER BY {} LIMIT ", ascending ? "seq ASC" : "seq DESC");
  const auto limit = static_cast<std::int64_t>(request.count + 1);
  sql rows;
  for (const sql& where : wheres) {
    rows << (&where == wheres ? "SELECT * FROM (" : " UNION ALL SELECT * FROM (") << "SELECT " << seq << " AS seq, a.id, a.recorded, a.body";
    rows.append(where);
    if (position.from_token) rows << " AND " << seq << (ascending ? " > " : " < "), rows.bind(position.pk);
    rows << order, rows.bind(limit), rows << ")";
  }
  rows << order, rows.bind(limit);
  auto st = db.prepared(rows.text);
  bind_all(*st, rows.values);
  std::vector<std::int64_t> seqs;
  bool more = false;
  while (st->step()) {
    if (seqs.size() == request.count) {
      more = true;
      break;
    }
    seqs.push_back(st->column_int64(0));
    page.entries.push_back(search_entry{as_version(st->column_text(1), st->column_int64(2), st->column_text(3), render)});
  }
  if (position.backwards) {
    std::reverse(page.entries.begin(), page.entries.end());
    std::reverse(seqs.begin(), seqs.end());
  }
  if (request.explain) page.plan.push_back(fmt::format("strategy: audit trail; driving: {}", query.driving_key() ? *query.driving_key() : "append order"));
  if (seqs.empty()) return page;
  bool has_next = position.backwards ? true : more;
  bool has_previous = position.backwards ? more : position.from_token;
  if (has_next) page.next_token = encode_position({position.max_pk, {}, seqs.back(), false, true}, hash);
  if (has_previous) page.previous_token = encode_position({position.max_pk, {}, seqs.front(), true, true}, hash);
  return page;
}

fhir::result<history_page> audit_history(database& db, const history_request& request, const audit_renderer& render,
                                         std::int64_t committed_through) {
  history_page page;
  if (!request.id.empty()) {
    auto found = read_audit_record(db, request.id, render);
    if (!found)
      return fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                         "Resource AuditEvent/" + request.id + " is not known", "resource-not-found");
    bool in_period = (!request.since || found->info.last_updated >= *request.since) &&
                     (!request.at || found->info.last_updated < request.at->second);
    if (in_period) page.entries.push_back(std::move(*found));
    page.total = static_cast<std::int64_t>(page.entries.size());
    return page;
  }
  auto before = history_position(request.page_token);
  if (!before) return std::move(before).error();
  if (request.page_token.empty()) *before = committed_through + 1;  // as a search's first page (audit_log.hpp)
  std::size_t count = std::max<std::size_t>(1, request.count);
  auto st = db.cached(
      "SELECT * FROM (SELECT seq, id, recorded, body FROM main.audit_record WHERE seq < ?1 AND recorded >= ?2 AND recorded < ?3 "
      "ORDER BY seq DESC LIMIT ?4) UNION ALL "
      "SELECT * FROM (SELECT seq, id, recorded, body FROM read_trail.audit_record WHERE seq < ?1 AND recorded >= ?2 AND recorded < ?3 "
      "ORDER BY seq DESC LIMIT ?4) ORDER BY seq DESC LIMIT ?4");
  st->bind(1, *before).bind(2, request.since.value_or(std::numeric_limits<std::int64_t>::min()));
  st->bind(3, request.at ? request.at->second : std::numeric_limits<std::int64_t>::max());
  st->bind(4, static_cast<std::int64_t>(count + 1));
  std::int64_t last = 0;
  while (st->step()) {
    if (page.entries.size() == count) {
      page.next_page_token = std::to_string(last);
      break;
    }
    last = st->column_int64(0);
    page.entries.push_back(as_version(st->column_text(1), st->column_int64(2), st->column_text(3), render));
  }
  return page;
}

namespace {

// Walks one file's chain (read_trail.hpp, invariant 3) and adds its records to `check`; false, with
// `check` naming the record, at the first that fails. `head` receives the file's last hash.
bool verify_chain(database& db, audit_file file, const audit_renderer& render, audit_check& check, std::string& head) {
  const std::string& schema = statements_of(file).schema;
  const char* where = file == audit_file::read_trail ? " (read trail)" : "";
  auto fail = [&](std::int64_t seq, std::string problem) {
    check.intact = false;
    check.first_broken = seq;
    check.problem = std::move(problem);
    return false;
  };
  digest previous{};
  std::int64_t expected_keys = 0;
  auto records = db.prepared(
      fmt::format("SELECT seq, id, recorded, type, subtype, action, outcome, body, hash FROM {}.audit_record ORDER BY seq", schema));
  auto keys = db.prepared(fmt::format("SELECT key FROM {}.audit_key WHERE key = ?1 AND seq = ?2", schema));
  while (records->step()) {
    std::int64_t seq = records->column_int64(0);
    std::string id(records->column_text(1));
    std::string_view body = records->column_text(7);
    digest hash = link_hash(previous, seq, body);
    std::string_view stored = records->column_blob(8);
    if (stored.size() != hash.size() || std::memcmp(stored.data(), hash.data(), hash.size()) != 0)
      return fail(seq, fmt::format("audit record {}{} (AuditEvent/{}): the hash does not match: the record or one before it "
                                   "was altered or removed",
                                   seq, where, id));
    // The search columns and keys are derived from the body: altered, they would hide a record from
    // the searches that should find it.
    auto event = fhir::json::parse(render ? render(body) : std::string(body));
    if (!event) return fail(seq, fmt::format("audit record {}{} (AuditEvent/{}): it does not render as JSON", seq, where, id));
    audit_record derived = make_audit_record(*event);
    bool columns_match = derived.id == id && derived.recorded == records->column_int64(2) && derived.type == records->column_text(3) &&
                         derived.subtype == records->column_text(4) && derived.action == records->column_text(5) &&
                         derived.outcome == records->column_text(6);
    if (!columns_match)
      return fail(seq, fmt::format("audit record {}{} (AuditEvent/{}): its search columns do not match its body", seq, where, id));
    for (const std::string& key : derived.keys) {
      keys->bind(1, key).bind(2, seq);
      bool present = keys->step();
      keys->reset();
      if (!present)
        return fail(seq, fmt::format("audit record {}{} (AuditEvent/{}): its search key '{}' is missing", seq, where, id, key));
    }
    expected_keys += static_cast<std::int64_t>(derived.keys.size());
    previous = hash;
    ++check.records;
  }
  auto counted = db.prepared(fmt::format("SELECT count(*) FROM {}.audit_key", schema));
  counted->step();
  if (counted->column_int64(0) != expected_keys)
    return fail(0, fmt::format("the trail{} has {} search keys where its records make {}: some were added around the audit trail",
                               where, counted->column_int64(0), expected_keys));
  head = hex(previous);
  return true;
}

}  // namespace

audit_check verify_audit_trail(database& db, const audit_renderer& render) {
  audit_check check;
  if (!verify_chain(db, audit_file::database, render, check, check.head) ||
      !verify_chain(db, audit_file::read_trail, render, check, check.read_trail_head))
    return check;
  // One sequence across both files (read_trail.hpp, invariant 2): searches page on it.
  auto shared = db.cached("SELECT seq FROM main.audit_record INTERSECT SELECT seq FROM read_trail.audit_record LIMIT 1");
  if (shared->step()) {
    check.intact = false;
    check.first_broken = shared->column_int64(0);
    check.problem = fmt::format("audit record {} is in both the database and the read trail", check.first_broken);
  }
  return check;
}

void move_audit_events_into_trail(database& db) {
  std::optional<std::int64_t> type_id;
  {
    auto type = db.cached("SELECT type_id FROM resource_type WHERE name = 'AuditEvent'");
    if (type->step()) type_id = type->column_int64(0);
  }
  {
    auto links = db.prepared("SELECT c.seq, c.hash, v.body FROM audit_chain c JOIN resource_version v ON v.vid = c.vid ORDER BY c.seq");
    while (links->step()) {
      std::string_view body = links->column_text(2);
      auto event = fhir::json::parse(body);
      if (!event) throw sqlite_error(SQLITE_CORRUPT, fmt::format("audit record {} is not JSON", links->column_int64(0)));
      std::string_view stored = links->column_blob(1);
      digest hash{};
      if (stored.size() == hash.size()) std::memcpy(hash.data(), stored.data(), hash.size());
      insert_record(db, database_statements, links->column_int64(0), make_audit_record(*event), body, hash);  // the hash moves as it was
    }
  }
  if (type_id) {
    for (const char* table : {"ix_string", "ix_token", "ix_date", "ix_number", "ix_quantity", "ix_reference", "ix_uri",
                              "ix_composite", "ix_text"}) {
      auto drop = db.prepared(fmt::format("DELETE FROM {} WHERE res_pk IN (SELECT pk FROM resource WHERE type_id = ?1)", table));
      drop->bind(1, *type_id).run();
    }
    db.exec("DROP TRIGGER resource_version_immutable_delete");
    auto versions = db.prepared("DELETE FROM resource_version WHERE type_id = ?1");
    versions->bind(1, *type_id).run();
    auto resources = db.prepared("DELETE FROM resource WHERE type_id = ?1");
    resources->bind(1, *type_id).run();
    db.exec(
        "CREATE TRIGGER resource_version_immutable_delete BEFORE DELETE ON resource_version "
        "BEGIN SELECT RAISE(ABORT, 'resource versions are immutable'); END");
  }
  db.exec("DROP TABLE audit_chain");
}

}  // namespace store::sqlite
