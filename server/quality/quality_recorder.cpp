#include "server/quality/quality_recorder.hpp"

#include <pthread.h>

#include <fmt/format.h>

#include "fhir/json/parse.hpp"
#include "fhir/search/search_query.hpp"
#include "fhir/text.hpp"
#include "server/log.hpp"

namespace server::quality {
namespace {

constexpr std::size_t max_references = 20;
constexpr std::size_t max_identifiers = 5;
constexpr std::size_t max_example = 300;
constexpr std::size_t max_key = 200;
// A version whose unit has not committed yet is looked for again for this long, then forgotten.
constexpr fhir::epoch_ms commit_wait = 10'000;

std::int64_t day_of(fhir::epoch_ms t) { return t / 86'400'000; }

// "Patient.identifier[0].value" -> "Patient.identifier.value": issues at any index are one issue.
std::string without_indexes(std::string_view path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '[') {
      std::size_t close = path.find(']', i);
      if (close != std::string_view::npos) {
        i = close;
        continue;
      }
    }
    out += path[i];
  }
  return out;
}

bool is_id_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'; }

// A literal reference to a resource on this server ("Observation/123", "Patient/1/_history/2"), as
// "Type/id"; nullopt for contained (#), conditional, urn: or absolute references.
std::optional<std::string> local_reference(std::string_view ref) {
  std::size_t slash = ref.find('/');
  if (slash == std::string_view::npos || slash == 0 || !(ref[0] >= 'A' && ref[0] <= 'Z')) return std::nullopt;
  for (std::size_t i = 0; i < slash; ++i)
    if (!((ref[i] >= 'A' && ref[i] <= 'Z') || (ref[i] >= 'a' && ref[i] <= 'z'))) return std::nullopt;
  std::string_view rest = ref.substr(slash + 1);
  std::string_view id = rest.substr(0, rest.find('/'));
  if (id.empty() || id.size() > 64 || !std::all_of(id.begin(), id.end(), is_id_char)) return std::nullopt;
  if (id.size() != rest.size() && !rest.substr(id.size()).starts_with("/_history/")) return std::nullopt;
  return std::string(ref.substr(0, slash + 1 + id.size()));
}

// The local references of a resource (relative, or absolute to this server's own base), once each.
void collect_references(const fhir::json::value& v, const std::string& base_url, std::vector<std::string>& out) {
  if (out.size() >= max_references) return;
  if (v.is_object()) {
    for (const auto& m : v.as_object()) {
      if (m.key == "reference" && m.value.is_string()) {
        std::string_view ref = m.value.as_string();
        if (!base_url.empty() && ref.starts_with(base_url + "/")) ref.remove_prefix(base_url.size() + 1);
        if (auto local = local_reference(ref); local && std::find(out.begin(), out.end(), *local) == out.end())
          out.push_back(std::move(*local));
      } else if (m.key != "contained") {
        collect_references(m.value, base_url, out);
      }
      if (out.size() >= max_references) return;
    }
  } else if (v.is_array()) {
    for (const auto& item : v.as_array()) collect_references(item, base_url, out);
  }
}

}  // namespace

quality_recorder::quality_recorder(store::store& store, const fhir::search::search_parameters& parameters, visibility visible,
                                   recorder_options options)
    : store_(store), parameters_(parameters), visible_(std::move(visible)), options_(std::move(options)) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fhir-quality");  // shown by top -H, perf and gdb
    work();
  });
}

quality_recorder::~quality_recorder() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void quality_recorder::count(fhir::epoch_ms at, std::string_view organization, std::string_view type, std::string_view metric,
                             std::string_view key, std::string_view example) {
  std::map<tally_key, tally_value> one;
  one[tally_key{day_of(at), std::string(organization), std::string(type), std::string(metric), std::string(fhir::utf8_prefix(key, max_key))}] =
      tally_value{1, std::string(fhir::utf8_prefix(example, max_example)), at};
  merge(tally_, std::move(one));
}

void quality_recorder::merge(std::map<tally_key, tally_value>& into, std::map<tally_key, tally_value>&& more) const {
  for (auto& [key, v] : more) {
    tally_key k = key;
    // Keys come from what feeds send (element paths, identifier systems): beyond the cap, one "other".
    if (into.size() >= options_.max_keys && !into.contains(k)) std::get<4>(k) = "other";
    tally_value& current = into[std::move(k)];
    current.count += v.count;
    if (current.example.empty()) current.example = std::move(v.example);
    current.last_seen = std::max(current.last_seen, v.last_seen);
  }
}

void quality_recorder::validated(std::string_view organization, std::string_view type, std::string_view id,
                                 const std::vector<fhir::issue>& issues) {
  fhir::epoch_ms now = fhir::now_ms();
  // Examples name the resource only: diagnostics can quote what the feed sent (an NHS number, a name).
  std::string name = id.empty() ? std::string(type) : fmt::format("{}/{}", type, id);
  std::lock_guard lock(mutex_);
  count(now, organization, type, fhir::has_errors(issues) ? rejected : accepted, "", name);
  for (const fhir::issue& i : issues) {
    std::string path = without_indexes(i.expression);
    count(now, organization, type, issue, fmt::format("{}|{}|{}", fhir::to_code(i.severity), i.message_id, path), name);
    if (i.message_id == "nhs-number-invalid") count(now, organization, type, nhs_number_invalid, "", name);
    if (i.message_id == "binding-code" && (i.severity == fhir::severity::warning || i.severity == fhir::severity::information))
      count(now, organization, type, binding_not_followed, path, name);
  }
}

void quality_recorder::written(const auth::caller& caller, const std::vector<store::audited_write>& versions) {
  fhir::epoch_ms now = fhir::now_ms();
  std::lock_guard lock(mutex_);
  for (const store::audited_write& w : versions) {
    if (w.info.deleted) continue;
    if (pending_.size() >= options_.max_pending) count(now, caller.controller, w.info.type, unchecked, "", w.info.type + "/" + w.info.id);
    else pending_.push_back(check{caller, w.info, now});
  }
}

// After the write committed: are the resources it refers to there for the sender, and did another
// resource of its type that the sender can see hold one of its identifiers before?
bool quality_recorder::run_check(const check& c) {
  const store::version_info& v = c.version;
  auto version = store_.vread(v.type, v.id, v.version);
  // Not readable yet (not committed, or the database busy): again later, for a while.
  if (!version) return fhir::now_ms() - c.queued >= commit_wait;
  // A unit that rolled back queued its versions too; its version number may since be another write's.
  if (version->info.last_updated != v.last_updated) return true;
  auto resource = fhir::json::parse(version->json);
  if (!resource) return true;
  const std::string& organization = c.caller.controller;
  std::string name = v.type + "/" + v.id;

  std::vector<std::string> references;
  collect_references(*resource, options_.base_url, references);
  for (const std::string& reference : references) {
    std::size_t slash = reference.find('/');
    auto target = store_.read(reference.substr(0, slash), reference.substr(slash + 1));
    // Hidden from the sender counts as missing, exactly like a missing one (nothing to tell them apart).
    if (target && visible_(c.caller, *target)) continue;
    std::lock_guard lock(mutex_);
    count(v.last_updated, organization, v.type, missing_reference, reference.substr(0, slash), name + " -> " + reference);
  }

  const fhir::json::value* identifiers = resource->find("identifier");
  if (!identifiers || !identifiers->is_array()) return true;
  std::size_t checked = 0;
  for (const auto& identifier : identifiers->as_array()) {
    const std::string* system = identifier.find_string("system");
    const std::string* value = identifier.find_string("value");
    if (!system || !value || ++checked > max_identifiers) continue;
    std::string token = fhir::search::escape_value(*system) + "|" + fhir::search::escape_value(*value);
    auto query = fhir::search::parse_query(parameters_, v.type, {{"identifier", std::move(token)}}, {.strict = true});
    if (!query) return true;  // the type has no identifier search parameter
    auto page = store_.search(store::search_request{*query, 10});
    if (!page) continue;
    bool held_before = false;
    for (const store::search_entry& e : page->entries)
      held_before = held_before || (e.version.info.id != v.id && e.version.info.last_updated < v.last_updated && visible_(c.caller, e.version));
    if (!held_before) continue;
    std::lock_guard lock(mutex_);
    count(v.last_updated, organization, v.type, duplicate, *system, name);
  }
  return true;
}

fhir::result<fhir::done> quality_recorder::drain() {
  std::deque<check> checks;
  {
    std::lock_guard lock(mutex_);
    checks.swap(pending_);
  }
  std::deque<check> later;  // versions whose unit has not committed yet
  for (check& c : checks)
    if (!run_check(c)) later.push_back(std::move(c));
  std::unique_lock handover(handover_);
  std::map<tally_key, tally_value> tally;
  {
    std::lock_guard lock(mutex_);
    for (check& c : later) pending_.push_front(std::move(c));
    tally.swap(tally_);
  }
  if (tally.empty()) return fhir::done{};
  std::vector<store::quality_count> counts;
  counts.reserve(tally.size());
  for (const auto& [key, v] : tally)
    counts.push_back(store::quality_count{.day = std::get<0>(key), .organization = std::get<1>(key), .type = std::get<2>(key),
                                          .metric = std::get<3>(key), .key = std::get<4>(key), .count = v.count, .example = v.example,
                                          .last_seen = v.last_seen});
  auto stored = store_.add_quality(counts);
  if (!stored) {
    // Kept for the next attempt (under the same cap): counts are added up, so nothing is lost or counted twice.
    std::lock_guard lock(mutex_);
    merge(tally_, std::move(tally));
  }
  return stored;
}

fhir::result<fhir::done> quality_recorder::flush() {
  std::lock_guard lock(flush_mutex_);
  return drain();
}

std::vector<store::quality_count> quality_recorder::unstored(const store::quality_query& query) const {
  std::lock_guard lock(mutex_);  // held briefly: the writer thread takes it too (written())
  std::vector<store::quality_count> out;
  for (const auto& [key, v] : tally_) {
    const auto& [day, organization, type, metric, k] = key;
    if ((query.organization && organization != *query.organization) || day < query.since_day || (!query.type.empty() && type != query.type))
      continue;
    out.push_back(store::quality_count{.day = day, .organization = organization, .type = type, .metric = metric, .key = k,
                                       .count = v.count, .example = v.example, .last_seen = v.last_seen});
  }
  return out;
}

void quality_recorder::work() {
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(options_.flush_interval), [this] { return stopping_; });
      stop = stopping_;
    }
    std::lock_guard lock(flush_mutex_);
    if (auto drained = drain(); !drained) log::warning("data-quality counts not stored yet: {}", drained.error().summary());
    if (stop) return;
  }
}

}  // namespace server::quality
