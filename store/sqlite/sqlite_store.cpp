// The SQLite implementation of store::store. Schema: store/sqlite/schema.hpp; write path and its
// invariants: store/sqlite/write_queue.hpp.

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <filesystem>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/json/serialize.hpp"
#include "fhir/resource.hpp"
#include "fhir/time.hpp"
#include "store/id_generator.hpp"
#include "store/sqlite/audit_log.hpp"
#include "store/sqlite/quality_log.hpp"
#include "store/sqlite/checkpointer.hpp"
#include "store/sqlite/coalescing_vfs.hpp"
#include "store/sqlite/memory_accounting.hpp"
#include "store/sqlite/page_token.hpp"
#include "store/sqlite/read_trail.hpp"
#include "store/sqlite/reader_pool.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/search_executor.hpp"
#include "store/sqlite/search_index.hpp"
#include "store/sqlite/wal_file_sync.hpp"
#include "store/sqlite/write_queue.hpp"
#include "store/store.hpp"

namespace store {
namespace {

// What prepare() serialises in place of meta.versionId and meta.lastUpdated (version 0, the epoch).
constexpr std::string_view stamp_placeholder = R"("meta":{"versionId":"0","lastUpdated":"1970-01-01T00:00:00.000Z")";

// History's _at (bound as ?9, NULL without _at): the version was not replaced before the period began.
#define AT_FILTER                                                                                        \
  "AND (?9 IS NULL OR NOT EXISTS (SELECT 1 FROM resource_version n WHERE n.pk = v.pk AND n.version = v.version + 1 " \
  "AND n.last_updated <= ?9))"

using sqlite::database;

fhir::error not_found(std::string_view type, std::string_view id) { return not_found_error(type, id); }

fhir::error storage_error(const sqlite::sqlite_error& e) {
  if (e.is_busy())
    return fhir::error(fhir::error_kind::busy, fhir::issue_type::transient, "The database is busy; retry the request",
                       "store-busy");
  return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, fmt::format("storage failure: {}", e.what()),
                     "store-fault");
}

// The current state of a resource, as the writer sees it inside its transaction.
struct current_row {
  std::int64_t pk;
  std::int64_t version;
  bool deleted;
  fhir::epoch_ms last_updated;
};

constexpr std::string_view audit_event_type = "AuditEvent";

class sqlite_store final : public store {
 public:

  // The writes and reads of one unit of work, on the writer thread inside its transaction (the write
  // queue rolls a failed unit back alone, so it leaves nothing behind: write_queue.hpp, invariant 2).
  class writer_unit final : public transaction {
   public:
    writer_unit(sqlite_store& store, database& db, fhir::epoch_ms now) : store_(store), db_(db), now_(now) {}
    // The writer's connection, for store-internal tables written in the unit (data-quality counts).
    database& db() { return db_; }

    fhir::result<write_result> create(prepared_resource prepared, std::string_view wanted_id) override {
      std::string type = prepared.type;
      if (type == audit_event_type) return audit_trail_only();
      auto type_id = store_.find_type(type);
      if (!type_id) return unknown_type(type);
      // A collision of 122 random bits is not expected in the life of the universe; still, never overwrite.
      for (;;) {
        std::string id = wanted_id.empty() ? new_resource_id() : std::string(wanted_id);
        auto insert = db_.cached(
            "INSERT INTO resource(type_id, id, version, last_updated, deleted) VALUES (?1, ?2, 1, ?3, 0) "
            "ON CONFLICT DO NOTHING");
        insert->bind(1, *type_id).bind(2, id).bind(3, now_).run();
        if (db_.changes() == 0) {
          if (wanted_id.empty()) continue;
          return fhir::error(fhir::error_kind::conflict, fhir::issue_type::duplicate,
                             fmt::format("{}/{} already exists", type, id), "resource-exists");
        }
        std::int64_t pk = db_.last_insert_rowid();
        sqlite::write_index(db_, store_.params_, pk, *type_id, prepared.index, true);
        std::string body = body_for(prepared, id, 1, now_);
        write_result out{append_version(db_, pk, *type_id, type, id, 1, now_, verb::post, true, &body), true};
        record(out.version.info, &prepared.index);
        return out;
      }
    }

    fhir::result<write_result> update(prepared_resource prepared, const preconditions& pre) override {
      std::string type = prepared.type;
      std::string id = prepared.id;
      if (type == audit_event_type) return audit_trail_only();
      auto type_id = store_.find_type(type);
      if (!type_id) return unknown_type(type);
      auto current = find_current(db_, *type_id, id);
      if (!current) {
        if (pre.if_match) return version_mismatch(type, id, *pre.if_match, std::nullopt);
        auto insert = db_.cached(
            "INSERT INTO resource(type_id, id, version, last_updated, deleted) VALUES (?1, ?2, 1, ?3, 0)");
        insert->bind(1, *type_id).bind(2, id).bind(3, now_).run();
        std::int64_t pk = db_.last_insert_rowid();
        sqlite::write_index(db_, store_.params_, pk, *type_id, prepared.index, true);
        std::string body = body_for(prepared, id, 1, now_);
        write_result out{append_version(db_, pk, *type_id, type, id, 1, now_, verb::put, true, &body), true};
        record(out.version.info, &prepared.index);
        return out;
      }
      if (pre.if_match && !matches(*pre.if_match, *current)) return version_mismatch(type, id, *pre.if_match, current->version);
      // The current body, read at most once for the controller check and the unchanged comparison.
      std::optional<std::string> current_json;
      auto stored = [&]() -> const std::string& {
        if (!current_json) current_json = current_body(*current);
        return *current_json;
      };
      if (!pre.controller.empty() && !current->deleted)
        if (auto owned = check_controller(stored(), type, id, pre); !owned) return std::move(owned).error();
      if (store_.skip_unchanged_ && !current->deleted &&
          body_for(prepared, id, current->version, current->last_updated) == stored())
        return write_result{resource_version{version_info{type, id, current->version, current->last_updated, false, verb::put, false},
                                             stored()},
                            false, true};
      std::int64_t version = current->version + 1;
      set_current(db_, current->pk, version, now_, false);
      sqlite::write_index(db_, store_.params_, current->pk, *type_id, prepared.index);
      std::string body = body_for(prepared, id, version, now_);
      write_result out{append_version(db_, current->pk, *type_id, type, id, version, now_, verb::put, current->deleted, &body),
                       current->deleted};
      record(out.version.info, &prepared.index);
      return out;
    }

    fhir::result<fhir::done> append_audit(audit_record event) override {
      if (event.id.empty() || event.json.empty())
        return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, "An audit record needs an id and a body",
                           "audit-invalid");
      sqlite::append_audit_record(db_, store_.audit_tail_, event, sqlite::audit_file::database);
      return fhir::done{};
    }

    // Runs the request's write check on what the unit wrote (what it writes itself joins the unit).
    fhir::result<fhir::done> run_check(const write_check& check) {
      if (written_.empty()) return fhir::done{};
      std::vector<audited_write> written = written_;
      return check(*this, written);
    }

    // Appends the hook's AuditEvent for what the unit wrote (nothing when it wrote nothing).
    fhir::result<fhir::done> finish_audit(const audit_hook& hook) {
      if (written_.empty()) return fhir::done{};
      auto event = hook(written_);
      if (!event) return fhir::done{};
      auto appended = append_audit(std::move(*event));
      if (!appended) return std::move(appended).error();
      return fhir::done{};
    }

    fhir::result<std::optional<resource_version>> remove(std::string_view type, std::string_view id,
                                                         const preconditions& pre) override {
      auto type_id = store_.find_type(type);
      if (!type_id) return std::optional<resource_version>();
      auto current = find_current(db_, *type_id, id);
      if (pre.if_match && (!current || !matches(*pre.if_match, *current)))
        return version_mismatch(type, id, *pre.if_match, current ? std::optional(current->version) : std::nullopt);
      if (!current || current->deleted) return std::optional<resource_version>();
      if (!pre.controller.empty())
        if (auto owned = check_controller(current_body(*current), type, id, pre); !owned) return std::move(owned).error();
      std::int64_t version = current->version + 1;
      set_current(db_, current->pk, version, now_, true);
      sqlite::delete_index(db_, current->pk);
      auto removed = append_version(db_, current->pk, *type_id, type, id, version, now_, verb::delete_, false, nullptr);
      record(removed.info, nullptr);
      return std::optional(std::move(removed));
    }

    fhir::result<resource_version> read(std::string_view type, std::string_view id) override {
      if (type == audit_event_type) return store_.read_audit(db_, id);
      auto type_id = store_.find_type(type);
      if (!type_id) return not_found(type, id);
      return store_.read_current(db_, type, *type_id, id);
    }

    fhir::result<resource_version> read_version(std::string_view type, std::string_view id, std::int64_t version) override {
      auto type_id = store_.find_type(type);
      if (!type_id) return not_found(type, id);
      return store_.read_version(db_, type, *type_id, id, version);
    }

    fhir::result<std::vector<std::string>> match(const fhir::search::search_query& query, std::size_t limit) override {
      search_request request{.query = query, .count = limit};
      request.query.sort.clear();
      request.query.includes.clear();
      auto page = sqlite::run_search(db_, store_.params_, sqlite::type_table{store_.type_ids_, store_.type_names_}, request);
      if (!page) return std::move(page).error();
      std::vector<std::string> ids;
      for (const search_entry& e : page->entries)
        if (e.mode == search_mode::match) ids.push_back(e.version.info.id);
      return ids;
    }

    prepared_resource prepare(fhir::json::value resource) const override { return store_.prepare(std::move(resource)); }

   private:
    // Notes a written version for the unit's audit record, with the patients its index references.
    void record(const version_info& info, const fhir::search::index_set* index) {
      audited_write w{info, {}};
      if (info.type == "Patient") w.patients.push_back(info.id);
      if (index)
        for (const auto& ref : index->references)
          // A local reference ("#pt") names a resource the written one contains, not a patient of the record.
          if (ref.target_type == "Patient" && !ref.target_id.starts_with('#') &&
              std::find(w.patients.begin(), w.patients.end(), ref.target_id) == w.patients.end())
            w.patients.push_back(ref.target_id);
      written_.push_back(std::move(w));
    }

    std::string current_body(const current_row& current) {
      auto st = db_.cached("SELECT body FROM resource_version WHERE pk = ?1 AND version = ?2");
      st->bind(1, current.pk).bind(2, current.version);
      return st->step() ? std::string(st->column_text(0)) : std::string();
    }

    // preconditions::controller against the data controller recorded in the current version's body.
    static fhir::result<fhir::done> check_controller(const std::string& body, std::string_view type, std::string_view id,
                                                     const preconditions& pre) {
      auto stored = fhir::json::parse(body);
      std::string_view owner = stored ? fhir::data_controller_of(*stored) : std::string_view();
      if (owner.empty() || owner == pre.controller) return fhir::done{};
      return fhir::error(fhir::error_kind::forbidden, fhir::issue_type::forbidden,
                         fmt::format("{}/{} is {}'s data; {} may not change it", type, id, owner, pre.controller),
                         "data-controller-forbidden");
    }

    sqlite_store& store_;
    database& db_;
    fhir::epoch_ms now_;
    std::vector<audited_write> written_;
  };
  sqlite_store(const sqlite_options& options, std::unique_ptr<database> writer)
      : indexer_(options.indexer),
        render_audit_(options.render_audit),
        skip_unchanged_(options.skip_unchanged_updates),
        path_(options.path),
        readers_(options.path, options.max_readers) {
    // Statements used here are reset before the writer thread takes the connection over.
    {
      auto types = writer->cached("SELECT type_id, name FROM resource_type");
      while (types->step()) {
        std::int64_t type_id = types->column_int64(0);
        std::string name(types->column_text(1));
        type_names_.emplace(type_id, name);
        type_ids_.emplace(std::move(name), type_id);
      }
    }
    params_.load(*writer, indexer_ ? &indexer_->parameters() : nullptr, type_ids_);
    fhir::epoch_ms last_written = 0;
    {
      auto newest = writer->cached("SELECT max(last_updated) FROM resource_version");
      if (newest->step() && !newest->column_is_null(0)) last_written = newest->column_int64(0);
    }
    checkpoints_ = std::make_unique<sqlite::checkpointer>(options.path, options.database_checkpoint_frames, options.read_trail_checkpoint_frames);
    checkpoints_->attach(*writer);
    audit_tail_.publish(*writer);
    // The queue syncs the log itself, overlapped with the next batch (write_queue.hpp, invariant 5).
    auto log = std::make_unique<sqlite::wal_file_sync>(sqlite3_filename_wal(sqlite3_db_filename(writer->handle(), "main")));
    writes_ = std::make_unique<sqlite::write_queue>(std::move(writer), options.max_batch, last_written, sqlite::read_trail_schema,
                                                    &audit_tail_, std::move(log));
  }

  fhir::result<resource_version> read(std::string_view type, std::string_view id) override {
    if (type == audit_event_type) return with_reader([&](database& db) { return read_audit(db, id); });
    auto type_id = find_type(type);
    if (!type_id) return not_found(type, id);
    return with_reader([&](database& db) { return read_current(db, type, *type_id, id); });
  }

  fhir::result<resource_version> vread(std::string_view type, std::string_view id, std::int64_t version) override {
    if (type == audit_event_type)
      return with_reader([&](database& db) -> fhir::result<resource_version> {
        auto found = read_audit(db, id);
        if (found && version != 1)
          return fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                             fmt::format("Version {} of AuditEvent/{} is not known (audit records have one version)", version, id),
                             "version-not-found");
        return found;
      });
    auto type_id = find_type(type);
    if (!type_id) return not_found(type, id);
    return with_reader([&](database& db) { return read_version(db, type, *type_id, id, version); });
  }

  // One version of a resource on `db` (a reader, or the writer inside a unit); gone for a deletion.
  fhir::result<resource_version> read_version(database& db, std::string_view type, std::int64_t type_id, std::string_view id,
                                              std::int64_t version) {
    auto st = db.cached(
        "SELECT v.last_updated, v.deleted, v.verb, v.created, v.body FROM resource r "
        "JOIN resource_version v ON v.pk = r.pk "
        "WHERE r.type_id = ?1 AND r.id = ?2 AND v.version = ?3");
    st->bind(1, type_id).bind(2, id).bind(3, version);
    if (!st->step()) return version_not_found_error(type, id, version);
    resource_version out{version_info{std::string(type), std::string(id), version, st->column_int64(0), st->column_int64(1) != 0,
                                      static_cast<verb>(st->column_int64(2)), st->column_int64(3) != 0},
                         std::string(st->column_text(4))};
    if (out.info.deleted) return gone(out.info);
    return out;
  }

  fhir::result<history_page> history(const history_request& request) override {
    if (request.type == audit_event_type)
      return with_read_transaction([&, committed = audit_tail_.committed_through()](database& db) {
        return sqlite::audit_history(db, request, render_audit_, committed);
      });
    auto position = sqlite::history_position(request.page_token);
    if (!position) return std::move(position).error();
    std::int64_t before = *position;
    std::optional<std::int64_t> type_id;
    if (!request.type.empty()) {
      type_id = find_type(request.type);
      if (!type_id) {
        if (!request.id.empty()) return not_found(request.type, request.id);
        return history_page{};
      }
    }
    std::size_t count = std::max<std::size_t>(1, request.count);
    return with_read_transaction([&](database& db) -> fhir::result<history_page> {
      history_page page;
      std::int64_t since_vid = 0;
      if (request.since) {
        // lastUpdated never decreases in commit order (write_queue.hpp, invariant 4), so the first version
        // at or after `since` bounds the scan and the index on vid does the rest.
        auto first = db.cached("SELECT min(vid) FROM resource_version WHERE last_updated >= ?1");
        first->bind(1, *request.since);
        if (!first->step() || first->column_is_null(0)) return page;
        since_vid = first->column_int64(0);
      }
      // _at: versions current at some point of [low, high): written before high, and not replaced before low.
      std::optional<std::int64_t> at_low;
      if (request.at) {
        auto after_period = db.cached("SELECT min(vid) FROM resource_version WHERE last_updated >= ?1");
        after_period->bind(1, request.at->second);
        if (after_period->step() && !after_period->column_is_null(0)) before = std::min(before, after_period->column_int64(0));
        at_low = request.at->first;
      }
      if (!request.id.empty()) return instance_history(db, *type_id, request, before, since_vid, count, at_low);

      auto st = type_id ? db.cached(
                              "SELECT v.vid, r.type_id, r.id, v.version, v.last_updated, v.deleted, v.verb, v.created, v.body "
                              "FROM resource_version v JOIN resource r ON r.pk = v.pk "
                              "WHERE v.type_id = ?1 AND v.vid < ?2 AND v.vid >= ?3 " AT_FILTER " ORDER BY v.vid DESC LIMIT ?4")
                        : db.cached(
                              "SELECT v.vid, r.type_id, r.id, v.version, v.last_updated, v.deleted, v.verb, v.created, v.body "
                              "FROM resource_version v JOIN resource r ON r.pk = v.pk "
                              "WHERE ?1 IS NULL AND v.vid < ?2 AND v.vid >= ?3 "
                              "AND v.type_id NOT IN (SELECT value FROM json_each(?5)) " AT_FILTER " ORDER BY v.vid DESC LIMIT ?4");
      if (type_id) {
        st->bind(1, *type_id);
      } else {
        st->bind_null(1);
        std::string excluded = "[";
        for (const std::string& type : request.excluded_types)
          if (auto id = find_type(type)) excluded += (excluded.size() > 1 ? "," : "") + std::to_string(*id);
        st->bind(5, excluded + "]");
      }
      st->bind(2, before).bind(3, since_vid).bind(4, static_cast<std::int64_t>(count + 1));
      if (at_low) st->bind(9, *at_low);
      else st->bind_null(9);
      collect_page(*st, page, count);
      return page;
    });
  }

  fhir::result<write_result> create(fhir::json::value resource) override {
    // The id is drawn here so that the body is serialised off the writer; 122 random bits do not collide
    // in the life of the universe, and if they did the create would fail (conflict) rather than overwrite.
    std::string id = new_resource_id();
    fhir::set_id(resource, id);
    auto prepared = prepare(std::move(resource));
    return write<write_result>([&](writer_unit& unit) { return unit.create(std::move(prepared), id); });
  }

  fhir::result<write_result> update(fhir::json::value resource, const preconditions& pre) override {
    auto prepared = prepare(std::move(resource));
    return write<write_result>([&](writer_unit& unit) { return unit.update(std::move(prepared), pre); });
  }

  fhir::result<std::optional<resource_version>> remove(std::string_view type, std::string_view id,
                                                       const preconditions& pre) override {
    return write<std::optional<resource_version>>([&](writer_unit& unit) { return unit.remove(type, id, pre); });
  }

  prepared_resource prepare(fhir::json::value resource) const override {
    auto index = extract_index(resource);
    prepared_resource out{std::move(resource), std::move(index), {}, {}, {}, {}};
    out.type = fhir::resource_type_of(out.resource);
    out.id = fhir::id_of(out.resource);
    // Serialising here, off the writer thread, leaves the writer only two fields to fill in (body_for).
    if (std::string_view id = fhir::id_of(out.resource); !id.empty() && out.resource.is_object() &&
                                                          !out.resource.as_object().empty() &&
                                                          out.resource.as_object().front().key == "resourceType") {
      out.body_id = id;
      fhir::stamp_version(out.resource, out.body_id, 0, 0);
      out.body = fhir::json::serialize(out.resource);
      // body_for fills in the first placeholder: it must be the top-level meta, right after resourceType and
      // id (a nested resource may carry the same text); otherwise the writer stamps the tree itself.
      std::string prefix = "{\"resourceType\":";
      fhir::json::append_quoted(prefix, out.type);
      prefix += ",\"id\":";
      fhir::json::append_quoted(prefix, out.body_id);
      prefix += ",";
      if (out.body.find(stamp_placeholder) != prefix.size() || !out.body.starts_with(prefix)) out.body.clear();
    }
    return out;
  }

  fhir::result<fhir::done> transact(const std::function<fhir::result<fhir::done>(transaction&)>& body) override {
    return write<fhir::done>([&](writer_unit& unit) { return body(unit); });
  }

  fhir::result<fhir::done> append_audit(audit_record event) override {
    return write<fhir::done>([&](writer_unit& unit) { return unit.append_audit(std::move(event)); });
  }

  void append_audit_async(audit_record event, audit_callback committed) override {
    // The record lives in the job (deleted by the queue once finished has run); the outcome lives apart,
    // since finished must not touch the job.
    struct audit_job : sqlite::write_job {
      audit_record record;
    };
    auto job = std::make_unique<audit_job>();
    job->record = std::move(event);
    job->isolated = false;  // an append cannot fail alone: a failure is the disk's, and fails the batch
    job->durable = false;   // written to the read trail only: committed before the answer, synced within max_unsynced
    auto failure = std::make_shared<std::optional<fhir::error>>();
    job->apply = [this, self = job.get()](database& db, fhir::epoch_ms) {
      sqlite::append_audit_record(db, audit_tail_, self->record, sqlite::audit_file::read_trail);
      return true;
    };
    job->fail = [failure](fhir::error e) { *failure = std::move(e); };
    job->finished = [failure, committed = std::move(committed)] {
      if (*failure) committed(std::move(**failure));
      else committed(fhir::done{});
    };
    writes_->post(std::move(job));
  }

  fhir::result<store_statistics> statistics() override {
    auto read = with_read_transaction([](database& db) -> fhir::result<fhir::done> {
      sqlite::statement probe(db.handle(), "SELECT count(*) FROM sqlite_master");
      probe.step();
      return fhir::done{};
    });
    if (!read) return std::move(read).error();
    store_statistics figures;
    std::error_code ec;
    auto size_of = [&ec](const std::string& file) {
      auto size = std::filesystem::file_size(file, ec);
      return ec ? std::int64_t{0} : static_cast<std::int64_t>(size);
    };
    const std::string read_trail = sqlite::read_trail_path(path_);
    figures.database_bytes = size_of(path_) + size_of(read_trail);
    figures.wal_bytes = size_of(path_ + "-wal") + size_of(read_trail + "-wal");
    sqlite3_int64 current = 0, highest = 0;
    // Without a configured page-cache buffer, page-cache memory comes from the heap and counts as "overflow"
    // (each cache's first bulk allocation aside).
    if (sqlite3_status64(SQLITE_STATUS_PAGECACHE_OVERFLOW, &current, &highest, 0) == SQLITE_OK) figures.page_cache_bytes = current;
    figures.sqlite_memory_bytes = sqlite::sqlite_heap_bytes();
    figures.checkpoints = checkpoints_->checkpoints();
    return figures;
  }

  fhir::result<fhir::done> add_quality(const std::vector<quality_count>& counts) override {
    if (counts.empty()) return fhir::done{};
    return write<fhir::done>([&](writer_unit& unit) -> fhir::result<fhir::done> {
      sqlite::add_quality_counts(unit.db(), counts);
      return fhir::done{};
    });
  }

  fhir::result<std::vector<quality_count>> quality_counts(const quality_query& query) override {
    return with_read_transaction([&](database& db) -> fhir::result<std::vector<quality_count>> { return sqlite::read_quality_counts(db, query); });
  }

  fhir::result<std::vector<std::pair<std::string, fhir::epoch_ms>>> last_feeds(const std::optional<std::string>& organization) override {
    return with_read_transaction([&](database& db) -> fhir::result<std::vector<std::pair<std::string, fhir::epoch_ms>>> {
      return sqlite::read_last_feeds(db, organization);
    });
  }

  fhir::result<audit_check> verify_audit() override {
    return with_read_transaction([&](database& db) -> fhir::result<audit_check> { return sqlite::verify_audit_trail(db, render_audit_); });
  }

  fhir::result<search_page> search(const search_request& request) override {
    if (std::find(request.query.types.begin(), request.query.types.end(), audit_event_type) != request.query.types.end())
      return with_read_transaction([&, committed = audit_tail_.committed_through()](database& db) {
        return sqlite::search_audit_trail(db, request, render_audit_, committed);
      });
    return with_read_transaction([&](database& db) -> fhir::result<search_page> {
      return sqlite::run_search(db, params_, sqlite::type_table{type_ids_, type_names_}, request);
    });
  }

  fhir::result<std::size_t> reindex() override { return reindex_where(std::nullopt); }

  // Records the indexer's base URLs; when they differ from those the index was built for, the
  // resources with an absolute reference are reindexed (by finish_pending_reindex, next): under the old
  // base such a reference was ours, or another server's, and may not be now.
  fhir::result<fhir::done> record_index_base() {
    if (!indexer_) return fhir::done{};
    std::string urls;
    for (const std::string& base : indexer_->local_bases()) urls += (urls.empty() ? "" : " ") + base;
    return write_rows<fhir::done>([&](database& db, fhir::epoch_ms) -> fhir::result<fhir::done> {
      auto recorded = db.cached("SELECT urls FROM index_base");
      std::optional<std::string> previous;
      if (recorded->step()) previous = std::string(recorded->column_text(0));
      recorded->reset();
      if (previous == urls) return fhir::done{};
      db.cached("DELETE FROM index_base")->run();
      db.cached("INSERT INTO index_base(urls) VALUES (?1)")->bind(1, urls).run();
      // None recorded: a new database, or one upgraded to schema 9, whose references are pending anyway.
      if (previous) db.cached("INSERT OR IGNORE INTO reindex_pending(kind) VALUES ('references')")->run();
      return fhir::done{};
    });
  }

  // A composite whose rows use the columns schema 9 added to ix_composite: a reference first (url1), a
  // number second (value2 alone), or a third component (value3).
  static bool needs_schema_9_composite_columns(const fhir::search::search_parameter& p) {
    using fhir::search::param_type;
    if (p.type != param_type::composite || !p.searchable()) return false;
    return p.components.size() == 3 || p.components[0].parameter->type == param_type::reference ||
           p.components[1].parameter->type == param_type::number;
  }

  // A string parameter some of whose rows other parameters store (search_parameter::covered_by).
  static bool shares_string_rows(const fhir::search::search_parameter& p) {
    return p.type == fhir::search::param_type::string && !p.covered_by.empty();
  }

  // Markers in a resource's text (bodies are compact JSON; a string holding the marker matches too, and
  // indexing again is harmless).
  static constexpr std::string_view contains_resources = R"("contained")";
  static constexpr std::string_view has_absolute_reference = R"("reference":"http)";

  // What an upgrade left to reindex (reindex_pending.kind): the resources whose text has `marker`, and
  // those of the types with a parameter it `concerns`.
  struct pending_kind {
    std::string_view name;
    std::string_view marker;
    bool (*concerns)(const fhir::search::search_parameter&);
  };
  static constexpr pending_kind pending_kinds[] = {
      // schema 7: ix_position, the types with a position parameter
      {"positions", {}, [](const fhir::search::search_parameter& p) { return p.position; }},
      // schema 8: contained resources' own rows, in the resources that contain others
      {"contained", contains_resources, nullptr},
      // schema 9: composites of the new shapes, in their types and in containers (a contained resource
      // of such a type has those rows too)
      {"composites", contains_resources, needs_schema_9_composite_columns},
      // schema 9 (and a new base URL): absolute references, another server's now by URL only
      {"references", has_absolute_reference, nullptr},
      // schema 10: string parameters over names and addresses, whose parts other parameters store
      {"strings", {}, shares_string_rows},
  };

  // Fills the index tables the schema lists in reindex_pending (added by an upgrade, so empty): the
  // resources each kind concerns are reindexed, then the row is deleted (`all_indexed`: a full reindex
  // has just covered them all). Without an indexer nothing is indexed, so the rows wait for a server
  // that indexes.
  fhir::result<fhir::done> finish_pending_reindex(bool all_indexed = false) {
    if (!indexer_) return fhir::done{};
    std::vector<std::string> pending;
    auto read = with_reader([&](database& db) -> fhir::result<fhir::done> {
      auto st = db.cached("SELECT kind FROM reindex_pending");
      while (st->step()) pending.emplace_back(st->column_text(0));
      return fhir::done{};
    });
    if (!read) return read;
    for (const std::string& kind : pending) {
      if (!all_indexed) {
        const pending_kind* known = nullptr;
        for (const pending_kind& k : pending_kinds)
          if (k.name == kind) known = &k;
        // A kind this server does not know (a newer server's database is refused, so none should be)
        // is filled by a full reindex.
        if (!known) {
          if (auto done = reindex_where(std::nullopt); !done) return std::move(done).error();
        } else if (!known->marker.empty()) {
          if (auto done = reindex_where(std::nullopt, known->marker); !done) return std::move(done).error();
        }
        for (const auto& [name, type_id] : type_ids_) {
          const auto& params = indexer_->parameters().of(name);
          if (!known || !known->concerns || std::none_of(params.begin(), params.end(), [&](const auto& p) { return known->concerns(p.second); }))
            continue;
          if (auto done = reindex_where(type_id); !done) return std::move(done).error();
        }
      }
      auto cleared = write_rows<fhir::done>([&](database& db, fhir::epoch_ms) -> fhir::result<fhir::done> {
        db.cached("DELETE FROM reindex_pending WHERE kind = ?1")->bind(1, kind).run();
        return fhir::done{};
      });
      if (!cleared) return cleared;
    }
    return fhir::done{};
  }

 private:
  // Every live resource, or those of one type, or those whose text has `containing`, in batches
  // of one write job each: the writer stays available to other requests in between.
  fhir::result<std::size_t> reindex_where(std::optional<std::int64_t> only_type, std::string_view containing = {}) {
    constexpr std::int64_t batch = 500;
    std::size_t indexed = 0;
    for (std::int64_t after = 0;;) {
      std::vector<std::tuple<std::int64_t, std::int64_t, std::string, std::int64_t>> rows;  // pk, type_id, body, version
      auto read = with_reader([&](database& db) -> fhir::result<fhir::done> {
        // Two statements: one type's live resources are read from resource_live (type_id, pk).
        // The text test is a superset (a string holding the word matches too): indexing again is harmless.
        auto st = !containing.empty() ? db.cached(
                                            "SELECT r.pk, r.type_id, v.body, r.version FROM resource r JOIN resource_version v ON v.pk = r.pk AND v.version = r.version "
                                            "WHERE r.pk > ?1 AND r.deleted = 0 AND instr(v.body, ?3) > 0 ORDER BY r.pk LIMIT ?2")
                  : only_type ? db.cached(
                                  "SELECT r.pk, r.type_id, v.body, r.version FROM resource r JOIN resource_version v ON v.pk = r.pk AND v.version = r.version "
                                  "WHERE r.type_id = ?3 AND r.deleted = 0 AND r.pk > ?1 ORDER BY r.pk LIMIT ?2")
                            : db.cached(
                                  "SELECT r.pk, r.type_id, v.body, r.version FROM resource r JOIN resource_version v ON v.pk = r.pk AND v.version = r.version "
                                  "WHERE r.pk > ?1 AND r.deleted = 0 ORDER BY r.pk LIMIT ?2");
        st->bind(1, after).bind(2, batch);
        if (!containing.empty()) st->bind(3, std::string(containing));
        else if (only_type) st->bind(3, *only_type);
        while (st->step())
          rows.emplace_back(st->column_int64(0), st->column_int64(1), std::string(st->column_text(2)), st->column_int64(3));
        return fhir::done{};
      });
      if (!read) return std::move(read).error();
      if (rows.empty()) return indexed;
      std::vector<fhir::search::index_set> indexes;
      for (const auto& [pk, type_id, body, version] : rows) {
        auto parsed = fhir::json::parse(body);
        indexes.push_back(parsed ? extract_index(*parsed) : fhir::search::index_set{});
      }
      auto written = write_rows<fhir::done>([&](database& db, fhir::epoch_ms) -> fhir::result<fhir::done> {
        for (std::size_t i = 0; i < rows.size(); ++i) {
          // A version written since the read (while the server serves) has indexed itself: keep its rows.
          auto current = db.cached("SELECT version FROM resource WHERE pk = ?1 AND deleted = 0");
          current->bind(1, std::get<0>(rows[i]));
          if (!current->step() || current->column_int64(0) != std::get<3>(rows[i])) continue;
          sqlite::write_index(db, params_, std::get<0>(rows[i]), std::get<1>(rows[i]), indexes[i]);
          ++indexed;
        }
        return fhir::done{};
      });
      if (!written) return std::move(written).error();
      after = std::get<0>(rows.back());
    }
  }

  // The search index of a resource, extracted on the caller's thread so the writer only inserts rows.
  fhir::search::index_set extract_index(const fhir::json::value& resource) const {
    return indexer_ ? indexer_->extract(resource) : fhir::search::index_set{};
  }

  // Runs `body` with a unit of work on the writer thread and returns its result once committed. With an
  // audit hook on this thread (scoped_audit), the unit's writes are audited in the same transaction.
  template <typename T, typename Body>
  fhir::result<T> write(Body&& body) {
    const audit_hook* hook = scoped_audit::current();
    const write_check* check = scoped_write_check::current();
    return write_rows<T>([&](database& db, fhir::epoch_ms now) -> fhir::result<T> {
      writer_unit unit(*this, db, now);
      auto outcome = body(unit);
      if (outcome && check)
        if (auto checked = unit.run_check(*check); !checked) return std::move(checked).error();
      if (outcome && hook)
        if (auto audited = unit.finish_audit(*hook); !audited) return std::move(audited).error();
      return outcome;
    });
  }

  // Runs `body` on the writer thread inside the batch transaction and returns its result once committed.
  template <typename T, typename Body>
  fhir::result<T> write_rows(Body&& body) {
    std::optional<fhir::result<T>> outcome;
    sqlite::write_job job;
    job.apply = [&](database& db, fhir::epoch_ms now) {
      outcome.emplace(body(db, now));
      return outcome->ok();
    };
    job.fail = [&](fhir::error e) { outcome.emplace(std::move(e)); };
    writes_->run(job);
    return std::move(*outcome);
  }

  template <typename Body>
  auto with_reader(Body&& body) -> decltype(body(std::declval<database&>())) {
    try {
      auto result = [&] {
        auto lease = readers_.acquire();
        return body(*lease);
      }();  // the connection goes back to the pool before the wait below
      // What was read leaves the store only once it is on disk (write_queue.hpp, invariant 5).
      if (writes_ && !writes_->await_durable()) return sqlite::sync_failure();
      return result;
    } catch (const sqlite::sqlite_error& e) {
      return storage_error(e);
    }
  }

  // Like with_reader, inside one read transaction: statements of `body` see one snapshot of the database.
  template <typename Body>
  auto with_read_transaction(Body&& body) -> decltype(body(std::declval<database&>())) {
    return with_reader([&](database& db) -> decltype(body(std::declval<database&>())) {
      db.exec("BEGIN");
      struct end_transaction {
        database& db;
        ~end_transaction() {
          try {
            db.exec("COMMIT");  // a read transaction: COMMIT only releases the snapshot
          } catch (const sqlite::sqlite_error&) {
          }
        }
      } guard{db};
      return body(db);
    });
  }

  fhir::result<resource_version> read_current(database& db, std::string_view type, std::int64_t type_id,
                                              std::string_view id) const {
    auto st = db.cached(
        "SELECT r.version, r.last_updated, r.deleted, v.verb, v.created, v.body FROM resource r "
        "JOIN resource_version v ON v.pk = r.pk AND v.version = r.version "
        "WHERE r.type_id = ?1 AND r.id = ?2");
    st->bind(1, type_id).bind(2, id);
    if (!st->step()) return not_found(type, id);
    resource_version out{version_info{std::string(type), std::string(id), st->column_int64(0), st->column_int64(1),
                                      st->column_int64(2) != 0, static_cast<verb>(st->column_int64(3)),
                                      st->column_int64(4) != 0},
                         std::string(st->column_text(5))};
    if (out.info.deleted) return gone(out.info);
    return out;
  }

  std::optional<std::int64_t> find_type(std::string_view type) const {
    auto it = type_ids_.find(std::string(type));
    if (it == type_ids_.end()) return std::nullopt;
    return it->second;
  }

  // If-Match against the current state: a version number, or any_version for "*" (an undeleted version).
  static bool matches(std::int64_t if_match, const current_row& current) {
    if (if_match == preconditions::any_version) return !current.deleted;
    return if_match == current.version;
  }

  static std::optional<current_row> find_current(database& db, std::int64_t type_id, std::string_view id) {
    auto st = db.cached("SELECT pk, version, deleted, last_updated FROM resource WHERE type_id = ?1 AND id = ?2");
    st->bind(1, type_id).bind(2, id);
    if (!st->step()) return std::nullopt;
    return current_row{st->column_int64(0), st->column_int64(1), st->column_int64(2) != 0, st->column_int64(3)};
  }

  static void set_current(database& db, std::int64_t pk, std::int64_t version, fhir::epoch_ms now, bool deleted) {
    auto st = db.cached("UPDATE resource SET version = ?2, last_updated = ?3, deleted = ?4 WHERE pk = ?1");
    st->bind(1, pk).bind(2, version).bind(3, now).bind(4, deleted ? 1 : 0).run();
  }

  // The stored JSON of a version: the prepared body with its version and time filled in, or (when it was
  // prepared under another id or none) the resource stamped and serialised here.
  static std::string body_for(prepared_resource& prepared, std::string_view id, std::int64_t version, fhir::epoch_ms now) {
    constexpr std::string_view placeholder = stamp_placeholder;
    if (!prepared.body.empty() && prepared.body_id == id)
      if (std::size_t at = prepared.body.find(placeholder); at != std::string::npos) {
        std::string out;
        out.reserve(prepared.body.size() + 16);
        out.append(prepared.body, 0, at);
        out += R"("meta":{"versionId":")";
        out += std::to_string(version);
        out += R"(","lastUpdated":")";
        out += fhir::format_instant(now);
        out += '"';
        out.append(prepared.body, at + placeholder.size());
        return out;
      }
    fhir::stamp_version(prepared.resource, id, version, now);
    return fhir::json::serialize(prepared.resource);
  }

  // Stores the version row with `body` (nullptr for a deletion).
  static resource_version append_version(database& db, std::int64_t pk, std::int64_t type_id, std::string_view type,
                                         std::string_view id, std::int64_t version, fhir::epoch_ms now, verb how,
                                         bool created, std::string* body) {
    resource_version out{
        version_info{std::string(type), std::string(id), version, now, body == nullptr, how, created}, {}};
    auto st = db.cached(
        "INSERT INTO resource_version(pk, type_id, version, last_updated, deleted, verb, created, body) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    st->bind(1, pk).bind(2, type_id).bind(3, version).bind(4, now).bind(5, body ? 0 : 1);
    st->bind(6, static_cast<std::int64_t>(how)).bind(7, created ? 1 : 0);
    if (body) {
      out.json = std::move(*body);
      st->bind(8, out.json);
    } else {
      st->bind_null(8);
    }
    st->run();
    return out;
  }

  fhir::result<history_page> instance_history(database& db, std::int64_t type_id, const history_request& request,
                                              std::int64_t before, std::int64_t since_vid, std::size_t count,
                                              std::optional<std::int64_t> at_low) {
    auto current = find_current(db, type_id, request.id);
    if (!current) return not_found(request.type, request.id);
    history_page page;
    auto st = db.cached(
        "SELECT v.vid, ?2, ?3, v.version, v.last_updated, v.deleted, v.verb, v.created, v.body FROM resource_version v "
        "WHERE v.pk = ?1 AND v.vid < ?4 AND v.vid >= ?5 " AT_FILTER " ORDER BY v.vid DESC LIMIT ?6");
    st->bind(1, current->pk).bind(2, type_id).bind(3, request.id).bind(4, before).bind(5, since_vid);
    st->bind(6, static_cast<std::int64_t>(count + 1));
    if (at_low) st->bind(9, *at_low);
    else st->bind_null(9);
    collect_page(*st, page, count);
    if (at_low) return page;  // counting versions current in a period is not free; no total
    auto total = db.cached("SELECT count(*) FROM resource_version WHERE pk = ?1 AND vid >= ?2");
    total->bind(1, current->pk).bind(2, since_vid);
    total->step();
    page.total = total->column_int64(0);
    return page;
  }

  // Reads rows (vid, type_id, id, version, last_updated, deleted, verb, created, body): `count` entries, and a next-page
  // token when a further row exists.
  void collect_page(sqlite::statement& st, history_page& page, std::size_t count) const {
    std::int64_t last_vid = 0;
    while (st.step()) {
      if (page.entries.size() == count) {
        page.next_page_token = std::to_string(last_vid);
        break;
      }
      last_vid = st.column_int64(0);
      auto name = type_names_.find(st.column_int64(1));
      page.entries.push_back(resource_version{
          version_info{name == type_names_.end() ? std::string() : name->second, std::string(st.column_text(2)),
                       st.column_int64(3), st.column_int64(4), st.column_int64(5) != 0,
                       static_cast<verb>(st.column_int64(6)), st.column_int64(7) != 0},
          std::string(st.column_text(8))});
    }
  }

  static fhir::error gone(const version_info& info) {
    return fhir::error(fhir::error_kind::gone, fhir::issue_type::deleted,
                       fmt::format("Resource {}/{} was deleted (version {})", info.type, info.id, info.version),
                       "resource-deleted");
  }

  fhir::result<resource_version> read_audit(database& db, std::string_view id) const {
    auto found = sqlite::read_audit_record(db, id, render_audit_);
    if (!found) return not_found(audit_event_type, id);
    return std::move(*found);
  }

  static fhir::error audit_trail_only() {
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::not_supported,
                       "AuditEvents are written by the server's audit trail only", "audit-trail-only");
  }

  static fhir::error unknown_type(std::string_view type) {
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::not_supported,
                       fmt::format("The store does not hold resources of type '{}'", type), "type-not-stored");
  }

  static fhir::error version_mismatch(std::string_view type, std::string_view id, std::int64_t expected,
                                      std::optional<std::int64_t> actual) {
    return fhir::error(
        fhir::error_kind::precondition_failed, fhir::issue_type::conflict,
        expected == preconditions::any_version
            ? fmt::format("If-Match: * requires a current version of {}/{}, and there is none", type, id)
        : actual ? fmt::format("If-Match names version {} of {}/{}, but the current version is {}", expected, type, id, *actual)
                 : fmt::format("If-Match names version {} of {}/{}, which does not exist", expected, type, id),
        "version-mismatch");
  }

  const fhir::search::indexer* indexer_;
  audit_renderer render_audit_;
  bool skip_unchanged_;
  std::unordered_map<std::string, std::int64_t> type_ids_;  // immutable after construction
  std::unordered_map<std::int64_t, std::string> type_names_;
  sqlite::param_ids params_;                                // immutable after construction
  std::string path_;
  sqlite::reader_pool readers_;
  std::unique_ptr<sqlite::checkpointer> checkpoints_;  // declared before writes_: outlives the writer
  // Where the audit chains end (audit_log.hpp): the writer's, but for committed_through(), which searches
  // and history read before their read transaction begins. Declared before writes_, its listener: outlives it.
  sqlite::audit_tail audit_tail_;
  std::unique_ptr<sqlite::write_queue> writes_;
};

}  // namespace

fhir::result<std::unique_ptr<store>> open_sqlite_store(const sqlite_options& options) {
  try {
    // The writer appends to the WALs through the coalescing VFS (one write per commit: coalescing_vfs.hpp).
    auto writer = std::make_unique<database>(options.path, sqlite::open_options{.vfs = sqlite::coalescing_vfs_name()});
    // WAL: readers never block the writer; synchronous=FULL: a committed transaction survives power loss
    // (the migrations' too; the write queue then syncs the log itself: write_queue.hpp, invariant 5).
    writer->exec("PRAGMA journal_mode = WAL");
    writer->exec("PRAGMA synchronous = FULL");
    writer->exec("PRAGMA foreign_keys = OFF");
    int previous_version = sqlite::migrate(*writer, options.resource_types);
    sqlite::attach_read_trail_for_writing(*writer, options.path);
    auto opened = std::make_unique<sqlite_store>(options, std::move(writer));
    // A database from before search (schema 1) has resources but no index rows yet; one from before a
    // later index table has none in that table (reindex_pending).
    bool all_indexed = previous_version == 1 && options.indexer;
    if (all_indexed)
      if (auto indexed = opened->reindex(); !indexed) return std::move(indexed).error();
    if (auto recorded = opened->record_index_base(); !recorded) return std::move(recorded).error();
    if (auto filled = opened->finish_pending_reindex(all_indexed); !filled) return std::move(filled).error();
    return std::unique_ptr<store>(std::move(opened));
  } catch (const std::exception& e) {
    return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception,
                       fmt::format("cannot open the store {}: {}", options.path, e.what()), "store-open-failed");
  }
}

std::vector<std::string> recorded_index_base(const std::string& path) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(path)) return out;
  try {
    sqlite::database db(path, sqlite::open_options{.read_only = true});
    auto table = db.cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'index_base'");
    if (!table->step()) return out;
    auto st = db.cached("SELECT urls FROM index_base");
    if (!st->step()) return out;
    std::string urls(st->column_text(0));
    for (std::size_t start = 0; start < urls.size();) {
      std::size_t space = std::min(urls.find(' ', start), urls.size());
      if (space > start) out.push_back(urls.substr(start, space - start));
      start = space + 1;
    }
  } catch (const std::exception&) {
    out.clear();  // not a database this server can read: opening it will say why
  }
  return out;
}

}  // namespace store
