#include "server/quality/quality_recorder.hpp"

#include <fmt/format.h>

#include "fhir/search/search_query.hpp"
#include "fhir/text.hpp"
#include "server/log.hpp"

namespace server::quality {
namespace {

constexpr std::size_t max_references = 20;
constexpr std::size_t max_identifiers = 5;
constexpr std::size_t max_example = 300;

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

void collect_references(const fhir::json::value& v, std::vector<std::string>& out) {
  if (out.size() >= max_references) return;
  if (v.is_object()) {
    for (const auto& m : v.as_object()) {
      if (m.key == "reference" && m.value.is_string()) {
        if (auto local = local_reference(m.value.as_string()); local && std::find(out.begin(), out.end(), *local) == out.end())
          out.push_back(std::move(*local));
      } else if (m.key != "contained") {
        collect_references(m.value, out);
      }
      if (out.size() >= max_references) return;
    }
  } else if (v.is_array()) {
    for (const auto& item : v.as_array()) collect_references(item, out);
  }
}

// A token search value with the separators of search.html#escaping escaped.
std::string escape_token(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == ',' || c == '|' || c == '$') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

quality_recorder::quality_recorder(store::store& store, const fhir::search::search_parameters& parameters, std::size_t max_pending,
                                   fhir::epoch_ms flush_interval)
    : store_(store), parameters_(parameters), max_pending_(max_pending), flush_interval_(flush_interval) {
  thread_ = std::thread([this] { work(); });
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
                             std::string key, std::string example) {
  tally_value& v = tally_[tally_key{day_of(at), std::string(organization), std::string(type), std::string(metric), std::move(key)}];
  ++v.count;
  if (v.example.empty()) v.example = fhir::utf8_prefix(example, max_example);
  v.last_seen = std::max(v.last_seen, at);
}

void quality_recorder::record(std::string_view organization, std::string_view type, const std::vector<fhir::issue>& issues,
                              const fhir::json::value* resource, std::string_view url_id) {
  fhir::epoch_ms now = fhir::now_ms();
  bool passed = !fhir::has_errors(issues);
  const std::string* id = resource && resource->is_object() ? resource->find_string("id") : nullptr;
  std::string name = id ? fmt::format("{}/{}", type, *id) : url_id.empty() ? std::string(type) : fmt::format("{}/{}", type, url_id);

  check c;
  if (passed && resource && resource->is_object()) {
    c = check{.organization = std::string(organization), .type = std::string(type), .id = id ? *id : std::string(), .at = now};
    collect_references(*resource, c.references);
    if (const fhir::json::value* identifiers = resource->find("identifier"); identifiers && identifiers->is_array())
      for (const auto& identifier : identifiers->as_array()) {
        const std::string* system = identifier.find_string("system");
        const std::string* value = identifier.find_string("value");
        if (system && value && c.identifiers.size() < max_identifiers) c.identifiers.emplace_back(*system, *value);
      }
  }

  std::lock_guard lock(mutex_);
  count(now, organization, type, passed ? accepted : rejected, "", name);
  for (const fhir::issue& i : issues) {
    std::string path = without_indexes(i.expression);
    std::string example = name + ": " + std::string(fhir::utf8_prefix(i.diagnostics, max_example));
    count(now, organization, type, issue, fmt::format("{}|{}|{}", fhir::to_code(i.severity), i.message_id, path), example);
    if (i.message_id == "nhs-number-invalid") count(now, organization, type, nhs_number_invalid, "", example);
    if (i.message_id == "binding-code" && (i.severity == fhir::severity::warning || i.severity == fhir::severity::information))
      count(now, organization, type, binding_not_followed, path, example);
  }
  if (c.references.empty() && c.identifiers.empty()) return;
  if (pending_.size() >= max_pending_) count(now, organization, type, unchecked, "", name);
  else pending_.push_back(std::move(c));
}

// After the write committed: do the resources it refers to exist, does another resource of its type
// hold one of its identifiers?
void quality_recorder::run_check(const check& c) {
  std::string name = c.id.empty() ? c.type : c.type + "/" + c.id;
  for (const std::string& reference : c.references) {
    std::size_t slash = reference.find('/');
    auto target = store_.read(reference.substr(0, slash), reference.substr(slash + 1));
    if (target || (target.error().kind() != fhir::error_kind::not_found && target.error().kind() != fhir::error_kind::gone)) continue;
    std::lock_guard lock(mutex_);
    count(c.at, c.organization, c.type, missing_reference, reference.substr(0, slash), name + " refers to " + reference);
  }
  for (const auto& [system, value] : c.identifiers) {
    auto query = fhir::search::parse_query(parameters_, c.type, {{"identifier", escape_token(system) + "|" + escape_token(value)}}, {.strict = true});
    if (!query) continue;  // the type has no identifier search parameter
    auto page = store_.search(store::search_request{*query, 3});
    if (!page) continue;
    // Another resource that held the identifier before this write was validated (a create's own id is
    // not known here, but its version is newer): each later send of a duplicate counts, not the first.
    std::vector<std::string> others;
    for (const store::search_entry& e : page->entries)
      if (e.version.info.id != c.id && e.version.info.last_updated <= c.at) others.push_back(c.type + "/" + e.version.info.id);
    if (others.empty()) continue;
    std::string example = fmt::format("{} shares an identifier ({}) with {}", name, system, others.front());
    std::lock_guard lock(mutex_);
    count(c.at, c.organization, c.type, duplicate, system, example);
  }
}

fhir::result<fhir::done> quality_recorder::drain() {
  std::deque<check> checks;
  {
    std::lock_guard lock(mutex_);
    checks.swap(pending_);
  }
  for (const check& c : checks) run_check(c);
  std::map<tally_key, tally_value> tally;
  {
    std::lock_guard lock(mutex_);
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
    // Kept for the next attempt: counts are added up, so nothing is lost or counted twice.
    std::lock_guard lock(mutex_);
    for (auto& [key, v] : tally) {
      tally_value& current = tally_[key];
      current.count += v.count;
      if (current.example.empty()) current.example = std::move(v.example);
      current.last_seen = std::max(current.last_seen, v.last_seen);
    }
  }
  return stored;
}

fhir::result<fhir::done> quality_recorder::flush() {
  std::lock_guard lock(flush_mutex_);
  return drain();
}

void quality_recorder::work() {
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(flush_interval_), [this] { return stopping_; });
      stop = stopping_;
    }
    std::lock_guard lock(flush_mutex_);
    if (auto drained = drain(); !drained) log::warning("data-quality counts not stored yet: {}", drained.error().summary());
    if (stop) return;
  }
}

}  // namespace server::quality
