#include "server/bundle_writer.hpp"

#include "fhir/json/serialize.hpp"
#include "store/id_generator.hpp"

namespace server {
namespace {

void member(std::string& out, std::string_view key, std::string_view value) {
  fhir::json::append_quoted(out, key);
  out.push_back(':');
  fhir::json::append_quoted(out, value);
}

}  // namespace

bundle_writer::bundle_writer(std::string_view type) : type_(type) {}

void bundle_writer::add_link(std::string_view relation, std::string_view url) {
  if (!links_.empty()) links_.push_back(',');
  links_.push_back('{');
  member(links_, "relation", relation);
  links_.push_back(',');
  member(links_, "url", url);
  links_.push_back('}');
}

void bundle_writer::add_history_entry(const settings& settings, const store::resource_version& version) {
  const auto& info = version.info;
  std::string resource_path = info.type + "/" + info.id;
  if (!entries_.empty()) entries_.push_back(',');
  entries_.push_back('{');
  member(entries_, "fullUrl", settings.base_url + "/" + resource_path);
  if (!info.deleted) {
    entries_ += ",\"resource\":";
    entries_ += version.json;
  }
  std::string_view method = info.verb == store::verb::delete_ ? "DELETE" : info.verb == store::verb::post ? "POST" : "PUT";
  entries_ += ",\"request\":{";
  member(entries_, "method", method);
  entries_.push_back(',');
  member(entries_, "url", method == "POST" ? std::string_view(info.type) : std::string_view(resource_path));
  entries_ += "},\"response\":{";
  member(entries_, "status", info.deleted ? "204 No Content" : info.created ? "201 Created" : "200 OK");
  entries_.push_back(',');
  member(entries_, "etag", "W/\"" + std::to_string(info.version) + "\"");
  entries_.push_back(',');
  member(entries_, "lastModified", fhir::format_instant(info.last_updated));
  entries_ += "}}";
}

void bundle_writer::add_search_entry(const settings& settings, const store::resource_version& version, std::string_view mode,
                                     std::string_view contained_id) {
  if (!entries_.empty()) entries_.push_back(',');
  entries_.push_back('{');
  std::string full_url = settings.base_url + "/" + version.info.type + "/" + version.info.id;
  if (!contained_id.empty()) full_url.append("#").append(contained_id);
  member(entries_, "fullUrl", full_url);
  entries_ += ",\"resource\":";
  entries_ += version.json;
  entries_ += ",\"search\":{";
  member(entries_, "mode", mode);
  entries_ += "}}";
}

void bundle_writer::add_outcome_entry(std::string_view operation_outcome) {
  if (!entries_.empty()) entries_.push_back(',');
  entries_ += "{\"resource\":";
  entries_ += operation_outcome;
  entries_ += ",\"search\":{\"mode\":\"outcome\"}}";
}

void bundle_writer::add_response_entry(const entry_response& entry) {
  if (!entries_.empty()) entries_.push_back(',');
  entries_.push_back('{');
  bool first = true;
  auto separate = [&] {
    if (!first) entries_.push_back(',');
    first = false;
  };
  if (!entry.full_url.empty()) {
    separate();
    member(entries_, "fullUrl", entry.full_url);
  }
  if (!entry.resource.empty()) {
    separate();
    entries_ += "\"resource\":";
    entries_ += entry.resource;
  }
  separate();
  entries_ += "\"response\":{";
  member(entries_, "status", entry.status);
  for (auto [key, value] : {std::pair<std::string_view, const std::string&>{"location", entry.location},
                            {"etag", entry.etag}, {"lastModified", entry.last_modified}})
    if (!value.empty()) {
      entries_.push_back(',');
      member(entries_, key, value);
    }
  if (!entry.outcome.empty()) {
    entries_ += ",\"outcome\":";
    entries_ += entry.outcome;
  }
  entries_ += "}}";
}

std::string bundle_writer::finish() && {
  std::string out = "{\"resourceType\":\"Bundle\",";
  member(out, "id", store::new_resource_id());
  out += ",\"meta\":{";
  member(out, "lastUpdated", fhir::format_instant(fhir::now_ms()));
  out += "},";
  member(out, "type", type_);
  if (total_) out += ",\"total\":" + std::to_string(*total_);
  if (!links_.empty()) out += ",\"link\":[" + links_ + "]";
  if (!entries_.empty()) out += ",\"entry\":[" + std::move(entries_) + "]";
  out.push_back('}');
  return out;
}

}  // namespace server
