#pragma once
// The store: persistence and versioning of FHIR resources, in FHIR terms only. No SQL or SQLite type
// appears here, so that another backend (PostgreSQL for regions that outgrow one file) can implement it.
//
// Every write is atomic and durable when it returns success: an acknowledged write survives a killed
// process. Every version of every resource is kept. Implementations are thread-safe: any number of threads
// may call any method concurrently.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/json/value.hpp"
#include "fhir/result.hpp"
#include "fhir/search/indexer.hpp"
#include "fhir/search/search_query.hpp"
#include "fhir/time.hpp"
#include "store/audit_record.hpp"

namespace store {

// How a version came to be, as Bundle.entry.request.method records it in a history Bundle.
enum class verb { post, put, delete_ };

struct version_info {
  std::string type;
  std::string id;
  std::int64_t version = 0;
  fhir::epoch_ms last_updated = 0;
  bool deleted = false;
  store::verb verb = verb::post;
  // True when this version brought the resource into existence (first version, or first after a deletion).
  bool created = false;
};

// One stored version of a resource: its JSON exactly as served (id, meta.versionId and meta.lastUpdated
// stamped by the store, compact). Empty for a deletion.
struct resource_version {
  version_info info;
  std::string json;
};

struct write_result {
  resource_version version;
  // True when the write brought a resource into existence: a create, an update of an id that did not
  // exist (update-as-create), or an update of a deleted resource.
  bool created = false;
  // True when an update carried exactly the current content: no version was written and `version` is
  // the current one (sqlite_options::skip_unchanged_updates).
  bool unchanged = false;
};

// Conditions a write must meet, checked atomically with the write.
struct preconditions {
  // If-Match (RFC 9110): the current version must be this one, else precondition_failed. any_version
  // (If-Match: *) only requires that a current, undeleted version exists.
  static constexpr std::int64_t any_version = 0;
  std::optional<std::int64_t> if_match;
  // The writing organisation's ODS code: a current version recorded for another data controller fails
  // forbidden (../shared/design/consent.md: "another controller's data: 403"). Empty: not checked.
  std::string controller;
};

// A resource ready to be written: the resource and its search index, extracted off the writer thread
// (store::prepare) so that a transaction spends its time on the writer only inserting rows.
struct prepared_resource {
  fhir::json::value resource;
  fhir::search::index_set index;
  // The resource serialized with its id and placeholders for meta.versionId and meta.lastUpdated, which
  // the writer fills in (empty when the resource had no id yet). Store-internal.
  std::string body;
  std::string body_id;
  // The resource's type and id when prepared: `resource` may be dropped once `body` exists.
  std::string type;
  std::string id;
};

// The answer for a resource that is not there. Others that must look exactly like it (a resource
// hidden from the caller: consent.md P2) use this too, so the two can never drift apart.
inline fhir::error not_found_error(std::string_view type, std::string_view id) {
  return fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                     "Resource " + std::string(type) + "/" + std::string(id) + " is not known", "resource-not-found");
}

// The answer for a version that is not there (or, the same way, a version hidden from the caller).
inline fhir::error version_not_found_error(std::string_view type, std::string_view id, std::int64_t version) {
  return fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                     "Version " + std::to_string(version) + " of " + std::string(type) + "/" + std::string(id) + " is not known",
                     "version-not-found");
}

// The result of checking the audit trail's hash chains, the database's and the read trail's (store::verify_audit).
struct audit_check {
  std::int64_t records = 0;       // records checked and intact (the database's chain first, then the read trail's)
  bool intact = true;
  std::int64_t first_broken = 0;  // the sequence number of the first record that fails; 0: no one record (a trail's key count)
  std::string problem;            // what failed, for the operator
  // Hex SHA-256 of the last link of each chain (the database's: the records of writes and break-glass
  // alerts; the read trail's: those of requests that wrote nothing). Kept elsewhere, they also reveal
  // truncation.
  std::string head;
  std::string read_trail_head;
};

// Figures for operators (GET /metrics) and the readiness check (GET /ready).
struct store_statistics {
  std::int64_t database_bytes = 0;    // the database file and its read trail (store/sqlite/read_trail.hpp)
  std::int64_t wal_bytes = 0;         // their write-ahead logs (grow between checkpoints)
  std::int64_t page_cache_bytes = 0;  // page-cache memory taken from the heap (SQLITE_STATUS_PAGECACHE_OVERFLOW)
  std::int64_t sqlite_memory_bytes = 0;  // all memory SQLite holds
  std::int64_t checkpoints = 0;          // write-ahead-log checkpoints since the store opened
};

// A resource a unit of work wrote, as its audit record names it: the version, and the patients its
// references point at (from its search index; a Patient names itself). Deletions name no patients.
struct audited_write {
  version_info info;
  std::vector<std::string> patients;
};

// Builds the AuditEvent of a unit of work from what it wrote; nullopt: nothing to record in the unit
// (the caller records the request itself).
using audit_hook = std::function<std::optional<audit_record>(const std::vector<audited_write>& written)>;

// While alive, every unit of work submitted from this thread that writes something also appends the
// hook's AuditEvent to the audit trail, in the same transaction: a write is never committed without its
// audit record (consent.md section 4). Scopes nest (a batch entry inside a batch); the innermost applies.
class scoped_audit {
 public:
  explicit scoped_audit(audit_hook hook);
  ~scoped_audit();
  scoped_audit(const scoped_audit&) = delete;
  scoped_audit& operator=(const scoped_audit&) = delete;
  // The innermost live hook of this thread, or null.
  static const audit_hook* current();

 private:
  audit_hook hook_;
  const audit_hook* outer_;
};

class transaction;

// A rule about what a unit of work wrote, run inside the unit after its last write and before it commits:
// it may read, match and write through the unit (what it writes is audited with the rest, and not checked
// again) and fails the whole unit, which then writes nothing, by returning an error. The request thread
// sets it (below); it runs on the writer thread while the request thread waits for the unit.
using write_check = std::function<fhir::result<fhir::done>(transaction& unit, const std::vector<audited_write>& written)>;

// While alive, every unit of work submitted from this thread runs the check on what it wrote. Scopes
// nest; the innermost applies.
class scoped_write_check {
 public:
  explicit scoped_write_check(write_check check);
  ~scoped_write_check();
  scoped_write_check(const scoped_write_check&) = delete;
  scoped_write_check& operator=(const scoped_write_check&) = delete;
  // The innermost live check of this thread, or null.
  static const write_check* current();

 private:
  write_check check_;
  const write_check* outer_;
};

// Reads and writes inside one atomic unit of work (store::transact). Every write made through it commits
// together with the others or not at all; reads and matches see the unit's own earlier writes. Only
// valid inside the body passed to transact, on the thread that runs it.
class transaction {
 public:
  virtual ~transaction() = default;
  // Like store::create; `id` names the new resource (a client-visible id assigned in advance, e.g. for a
  // Bundle's urn:uuid fullUrl), or is empty for a fresh random one. Fails conflict when `id` exists.
  virtual fhir::result<write_result> create(prepared_resource resource, std::string_view id) = 0;
  virtual fhir::result<write_result> update(prepared_resource resource, const preconditions& pre) = 0;
  virtual fhir::result<std::optional<resource_version>> remove(std::string_view type, std::string_view id,
                                                               const preconditions& pre) = 0;
  virtual fhir::result<resource_version> read(std::string_view type, std::string_view id) = 0;
  // One version (not_found when there is no such version).
  virtual fhir::result<resource_version> read_version(std::string_view type, std::string_view id, std::int64_t version) = 0;
  // The ids of the current resources matching `query` (its type and clauses; paging, sorting and
  // includes are ignored), at most `limit` of them.
  virtual fhir::result<std::vector<std::string>> match(const fhir::search::search_query& query, std::size_t limit) = 0;
  // The search index of a resource whose content changed after store::prepare (on the writer thread).
  virtual prepared_resource prepare(fhir::json::value resource) const = 0;
  // Appends an AuditEvent to the audit trail, chained by SHA-256 to the previous record, committed with
  // the rest of the unit.
  virtual fhir::result<fhir::done> append_audit(audit_record event) = 0;
};

// Data-quality figures (issue 10): what each source organisation sent, per day, added up. The server
// counts them as writes are validated and checked (server/quality) and adds them in batches.
struct quality_count {
  std::int64_t day = 0;       // days since the epoch (UTC)
  std::string organization;   // the data controller's ODS code; empty: none
  std::string type;           // resource type
  std::string metric;         // what is counted: "accepted", "rejected", "issue", "missing-reference", ...
  std::string key;            // which one, for metrics with many ("error|nhs-number-invalid|Patient.identifier")
  std::int64_t count = 0;
  std::string example;        // one instance, the first recorded (kept when counts are added)
  fhir::epoch_ms last_seen = 0;  // the latest instance
};

// Which counts to read: every organisation (nullopt) or one, every type (empty) or one, from a day on.
struct quality_query {
  std::optional<std::string> organization;
  std::string type;
  std::int64_t since_day = 0;
};

struct history_request {
  std::string type;  // empty: the whole system
  std::string id;    // empty: every resource of `type`
  std::optional<fhir::epoch_ms> since;  // only versions written at or after this instant
  // _at: only versions that were current at some point of [first, second) (ms since the epoch).
  std::optional<std::pair<fhir::epoch_ms, fhir::epoch_ms>> at;
  std::size_t count = 50;               // page size, at least 1
  std::string page_token;               // from a previous page's next_page_token; empty for the first
  // System history only: versions of these types are left out (types the caller may not read).
  std::vector<std::string> excluded_types;
};

struct history_page {
  std::vector<resource_version> entries;  // newest first (commit order)
  std::string next_page_token;            // empty on the last page
  std::optional<std::int64_t> total;      // given when cheap to know (instance history)
};

struct search_request {
  fhir::search::search_query query;
  std::size_t count = 20;   // page size (0: no entries, only the total)
  std::string page_token;   // from a previous page's next/previous token; empty for the first page
  bool explain = false;     // also return how the store runs it (search_page::plan), for operators
  // Chains follow only local references ("#m1"), into the resources each match contains: consent's
  // check that a chain holds through a match's own content (server/consent/contributors.cpp).
  bool chains_inside_only = false;
};

enum class search_mode { match, include };

struct search_entry {
  resource_version version;
  search_mode mode = search_mode::match;
  // _containedType=contained: the match is the resource with this local id inside `version` (its
  // container's current version); empty for a resource matched in its own right.
  std::string contained_id = {};
  // An include: the entries whose links reached it, "match:Type/id" for a match and, under :iterate,
  // "include:Type/id" for another include; so that one reached only from a match the caller may not see
  // is left out with it (a resource both a hidden match and a kept include lets nothing through).
  std::vector<std::string> included_by = {};
};

inline constexpr std::string_view included_from_match = "match:";
inline constexpr std::string_view included_from_include = "include:";
// An entry of search_entry::included_by: the resource a link came from, in its role.
inline std::string included_from(std::string_view role, std::string_view type, std::string_view id) {
  return std::string(role).append(type).append("/").append(id);
}

struct search_page {
  std::vector<search_entry> entries;  // matches in order, then included resources (no duplicates)
  std::string next_token;             // empty on the last page
  std::string previous_token;         // empty on the first page
  std::optional<std::int64_t> total;  // when asked (_total=accurate/estimate) or known for free
  std::vector<std::string> plan;      // with explain: the strategy and the database's query plan
};

class store {
 public:
  virtual ~store() = default;

  // The current version. Fails not_found when the resource never existed, gone when it is deleted.
  virtual fhir::result<resource_version> read(std::string_view type, std::string_view id) = 0;

  // A specific version. Fails not_found for an unknown resource or version, gone for a deletion version.
  virtual fhir::result<resource_version> vread(std::string_view type, std::string_view id, std::int64_t version) = 0;

  // Versions newest first, a page at a time; instance history of an unknown resource fails not_found.
  // A bad page token fails invalid. Versions written after the first page was read never appear on later
  // pages (keyset paging on commit order).
  virtual fhir::result<history_page> history(const history_request& request) = 0;

  // Stores a new resource under a fresh random id (any id in `resource` is replaced), version 1.
  // The resource must already be valid.
  virtual fhir::result<write_result> create(fhir::json::value resource) = 0;

  // Stores a new version of the resource named by its resourceType and id, creating it when absent.
  // Fails precondition_failed when `pre.if_match` is not the current version.
  virtual fhir::result<write_result> update(fhir::json::value resource, const preconditions& pre) = 0;

  // Deletes the resource: a new version marked deleted. Returns nullopt when there is nothing to delete
  // (unknown or already deleted). Fails precondition_failed when `pre.if_match` is not the current version.
  virtual fhir::result<std::optional<resource_version>> remove(std::string_view type, std::string_view id,
                                                               const preconditions& pre) = 0;

  // Searches current, undeleted resources (search.html). Pages are keyset pages: resources created
  // after the first page was read never appear on later pages, and no resource is skipped or repeated
  // because others were updated or deleted meanwhile. A token from another query fails invalid.
  virtual fhir::result<search_page> search(const search_request& request) = 0;

  // The search index of `resource`, extracted on the calling thread, for transaction::create/update.
  virtual prepared_resource prepare(fhir::json::value resource) const = 0;

  // Runs `body` as one atomic unit on the writer: it commits (durably) when body succeeds, and nothing it
  // wrote persists when body fails (its error is returned). Keep body to database work: it holds the
  // single writer, so validation and index extraction belong before it (prepare). The exception is a
  // transaction Bundle's entries that cannot or should not be held prepared until it starts (large
  // transactions, entries whose ids or references wait for matches: server/bundle/transaction.cpp).
  virtual fhir::result<fhir::done> transact(const std::function<fhir::result<fhir::done>(transaction&)>& body) = 0;

  // transaction::append_audit as a unit of its own: durable when it returns.
  virtual fhir::result<fhir::done> append_audit(audit_record event) = 0;

  // For a request that wrote nothing (a read, a search, a failure): without waiting, the record joins the
  // writer's next group commit, in the read trail beside the database (store/sqlite/read_trail.hpp), and
  // `committed` runs (on the writer thread; keep it short) once it is committed, so that it survives a
  // killed process, or has failed; it reaches the disk within 50 ms (write_queue.hpp, invariant 3). A
  // read's answer is sent from `committed`, so no thread waits for the disk while a caller waits.
  using audit_callback = std::function<void(fhir::result<fhir::done>)>;
  virtual void append_audit_async(audit_record event, audit_callback committed) = 0;

  // Adds the counts to those stored (same day, organisation, type, metric and key), durably.
  virtual fhir::result<fhir::done> add_quality(const std::vector<quality_count>& counts) = 0;
  // The stored counts the query selects, one row per day, organisation, type, metric and key.
  virtual fhir::result<std::vector<quality_count>> quality_counts(const quality_query& query) = 0;
  // The latest write (accepted or rejected) of each organisation, or of one, whatever its day: how a
  // feed that stopped is found.
  virtual fhir::result<std::vector<std::pair<std::string, fhir::epoch_ms>>> last_feeds(const std::optional<std::string>& organization) = 0;

  // Recomputes the audit trail's hash chains (the database's and the read trail's) from the first record
  // to the last.
  virtual fhir::result<audit_check> verify_audit() = 0;

  // Reads the database (a real read transaction) and reports its figures; fails when it cannot be read.
  virtual fhir::result<store_statistics> statistics() = 0;

  // Rebuilds every search index row from the current versions (after the search parameters changed).
  // Returns the number of resources indexed.
  virtual fhir::result<std::size_t> reindex() = 0;
};

struct sqlite_options {
  std::string path;                         // the database file, created when absent
  std::vector<std::string> resource_types;  // every type the store will be asked to hold
  std::size_t max_readers = 8;              // read connections, opened on demand
  std::size_t max_batch = 256;              // writes committed together (group commit)
  // An update whose content equals the current version's writes no new version (nightly re-feeds resend
  // unchanged records); false keeps a version per update.
  bool skip_unchanged_updates = true;
  // Extracts search index rows on every write; without one nothing is indexed and searches match
  // only on _id and _lastUpdated. Must outlive the store.
  const fhir::search::indexer* indexer = nullptr;
  // Renders stored audit records as AuditEvents when they are read (see audit_record.hpp).
  audit_renderer render_audit;
  // Write-ahead-log frames (pages) between checkpoints, for the database and the read trail; each log
  // restarts at 4 times its figure (store/sqlite/checkpointer.hpp), so the database's log file grows to
  // ~160-200 MB and the read trail's to ~16-30 MB. Tests set small ones.
  // The database's 10,000 (SQLite's default is 1,000) was measured on concurrent indexed creates: a
  // checkpoint copies each page once however often the log rewrote it, and index leaves are rewritten
  // often, so copying less often copies fewer pages (15 per create at 1,000, 6 at 10,000) and syncs
  // less: at 8 connections 1,985 / 1,668 indexed creates/s against 1,206 / 1,301, p99 not longer
  // (index-cost-bench, alternating runs; issue 5's note). 4,000 for the read trail was measured and
  // rejected: a third less checkpointing CPU, no more reads per second, and a p99 half again as long,
  // from the writer's own checkpoint at the restart.
  int database_checkpoint_frames = 10000;
  int read_trail_checkpoint_frames = 1000;
};

// Opens (creating and migrating as needed) a SQLite store. Fails with kind fault when the file cannot be
// opened or migrated, with a diagnostic saying why.
fhir::result<std::unique_ptr<store>> open_sqlite_store(const sqlite_options& options);

// The base URLs the database's search index was last built for, so that offline commands index as the
// server does; none when the file or the record does not exist (or cannot be read: opening it says why).
std::vector<std::string> recorded_index_base(const std::string& path);

}  // namespace store
