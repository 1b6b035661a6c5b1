#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "fhir/base64.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/resource.hpp"
#include "fhir/text.hpp"
#include "server/access_gate.hpp"
#include "server/bundle/processors.hpp"
#include "server/bundle/response_entry.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/bundle_writer.hpp"
#include "server/interactions/common.hpp"
#include "server/interactions/conditional.hpp"
#include "server/interactions/patch.hpp"
#include "server/metrics.hpp"
#include "store/id_generator.hpp"

namespace server::bundle {
namespace {

using fhir::search::search_query;

// What a transaction works out for one write entry before and inside its unit of work.
struct planned_write {
  entry_request* entry = nullptr;
  std::string id;                            // the id it writes (assigned in advance, or decided by a match)
  // ifNoneExist of a POST, criteria of a conditional PUT/DELETE: held apart, as few entries have one and
  // a transaction holds a planned_write for every entry
  std::unique_ptr<search_query> condition;
  std::optional<store::preconditions> pre;   // ifMatch
  bool late = false;                         // its references wait for matches made in the unit of work
  std::vector<std::string> conditional_references;  // late entries: "Patient?identifier=...", in order
  std::unique_ptr<store::prepared_resource> prepared;  // prepared ahead of the unit, until written
  // Read again and prepared inside the unit, just before it is written: its id or references wait for
  // matches (conditional and late entries), or the transaction went beyond its prepare-ahead budget.
  bool prepare_in_unit = false;
  bool has_resource = false;                 // POST and PUT: read again from the entry's text
  bool matched = false;                      // a conditional entry's criteria matched a resource
  std::string body_id;                       // PUT: the id in the resource, if any
  std::optional<fhir::json::value> patch;    // PATCH: the JSON Patch or FHIRPath Patch document
  bool json_patch = false;
  // Outcome
  unsigned status = 0;
  std::optional<store::resource_version> version;
};

fhir::error no_match(std::string_view reference) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::not_found,
                     fmt::format("The conditional reference '{}' matches no resource", fhir::utf8_prefix(reference, 200)),
                     "conditional-reference-no-match");
}

fhir::error several_matches(std::string_view reference) {
  return fhir::error(fhir::error_kind::precondition_failed, fhir::issue_type::multiple_matches,
                     fmt::format("The conditional reference '{}' matches more than one resource; make the criteria select one",
                                 fhir::utf8_prefix(reference, 200)),
                     "conditional-multiple-matches");
}

// Matches of a conditional reference examined for one the caller may see (beyond them: no match).
constexpr std::size_t max_conditional_reference_candidates = 20;

// What can be checked of an entry's resource before anything is resolved: its type and id.
fhir::result<fhir::done> check_entry_shape(const entry_request& entry, const fhir::json::value& resource) {
  std::string_view type = fhir::resource_type_of(resource);
  if (type != entry.type)
    return in_entry(fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                                fmt::format("the resource is a {}, but request.url is for {}", type.empty() ? "non-resource" : type, entry.type),
                                "resource-type-mismatch"),
                    entry);
  if (entry.method == "PUT" && !entry.id.empty() && fhir::id_of(resource) != entry.id)
    return in_entry(fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                                fmt::format("the resource id '{}' does not match request.url's id '{}'", fhir::id_of(resource), entry.id),
                                "id-mismatch", entry.type + ".id"),
                    entry);
  return fhir::done{};
}

// Validation of an entry's resource, once its references to other entries are rewritten (so that their
// target types are checked like any other reference).
fhir::result<fhir::done> validate_resource(const context& ctx, const fhir_request& request, const entry_request& entry,
                                           fhir::json::value& resource) {
  // Conditional references are resolved later, in the unit of work; the validator checks a stand-in of
  // the same type ("Patient?identifier=..." -> "Patient/conditional") so everything else is still checked.
  bool conditional_references = false;
  rewrite_references(resource, [&](std::string_view reference) -> std::optional<std::string> {
    conditional_references = conditional_references || is_conditional_reference(reference);
    return std::nullopt;
  });
  std::optional<fhir::json::value> stand_in;
  if (conditional_references) {
    stand_in = resource;
    rewrite_references(*stand_in, [](std::string_view reference) -> std::optional<std::string> {
      if (!is_conditional_reference(reference)) return std::nullopt;
      return std::string(reference.substr(0, reference.find('?'))) + "/conditional";
    });
  }
  auto checked = ctx.validator.check(stand_in ? *stand_in : resource);
  interactions::count_validation(ctx, request, entry.type, checked.issues, &resource);
  if (fhir::has_errors(checked.issues))
    return in_entry(fhir::error(checked.malformed ? fhir::error_kind::invalid : fhir::error_kind::unprocessable, std::move(checked.issues)),
                    entry);
  return fhir::done{};
}

// An entry's preconditions (its ifMatch), with the sender's data controller checked on every write.
store::preconditions with_controller(const std::optional<store::preconditions>& pre, const fhir_request& request) {
  store::preconditions out = pre.value_or(store::preconditions{});
  out.controller = interactions::caller_controller(request);
  return out;
}

// The patch of a PATCH entry: a FHIRPath Patch (a Parameters resource) or a JSON Patch carried in a
// Binary (contentType application/json-patch+json, base64 data), as http.html#transaction describes.
fhir::result<std::pair<fhir::json::value, bool>> patch_document(const entry_request& entry) {
  std::string_view type = fhir::resource_type_of(*entry.resource);
  if (type == "Parameters") return std::pair{*entry.resource, false};
  const std::string* content_type = entry.resource->find_string("contentType");
  const std::string* data = entry.resource->find_string("data");
  if (type == "Binary" && content_type && content_type->starts_with("application/json-patch+json") && data) {
    auto text = fhir::base64_decode(*data);
    if (!text)
      return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, "the Binary's data is not base64", "patch-binary-invalid",
                         "Binary.data");
    auto parsed = fhir::json::parse(*text);
    if (!parsed) return std::move(parsed).error();
    return std::pair{std::move(*parsed), true};
  }
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                     "a PATCH entry carries a FHIRPath Patch (Parameters) or a JSON Patch in a Binary "
                     "(contentType application/json-patch+json)",
                     "patch-entry-invalid");
}

// An entry's resource read again from its text, with the sender recorded as its data controller. Errors
// are not yet located in the entry (in_entry).
fhir::result<fhir::json::value> reread_resource(const context& ctx, const fhir_request& request, const planned_write& w) {
  auto again = read_entry(ctx, w.entry->text, w.entry->index);
  if (!again || !again->resource)
    return fhir::error(fhir::error_kind::fault, fhir::issue_type::exception, "the entry could not be read again", "bundle-reread");
  fhir::json::value resource = std::move(*again->resource);
  if (auto recorded = interactions::record_controller(request, resource); !recorded) return std::move(recorded).error();
  return resource;
}

// Its references to other entries of the transaction (fullUrl -> "Type/id") and its conditional
// references resolved so far ("Patient?identifier=..." -> "Type/id") rewritten.
using reference_map = std::map<std::string, std::string, std::less<>>;
void rewrite_known_references(fhir::json::value& resource, const reference_map& local, const reference_map& resolved) {
  rewrite_references(resource, [&](std::string_view reference) -> std::optional<std::string> {
    if (auto it = local.find(reference); it != local.end()) return it->second;
    if (auto it = resolved.find(reference); it != resolved.end()) return it->second;
    return std::nullopt;
  });
}

// What the response needs of a written version: all of it when the client prefers the representation
// (the default: then the response itself holds every resource), else only what names it, so that under
// return=minimal or OperationOutcome a large transaction does not hold every resource again until its end.
store::resource_version for_response(store::resource_version version, const fhir_request& request) {
  if (request.prefer != prefer_return::representation) {
    version.json.clear();
    version.json.shrink_to_fit();
  }
  return version;
}

// A PATCH entry inside the unit of work: the current version (the single match of conditional criteria),
// patched, validated and written with the entry's ifMatch.
fhir::result<fhir::done> apply_patch(const context& ctx, const fhir_request& request, store::transaction& tx, planned_write& w) {
  std::string id = w.id;
  if (w.condition) {
    auto match = interactions::single_match(tx, *w.condition, "The conditional patch");
    if (!match) return std::move(match).error();
    if (!*match)
      return fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                         fmt::format("No {} matches the conditional patch", w.entry->type), "conditional-no-match");
    id = **match;
  }
  auto current = tx.read(w.entry->type, id);
  if (!current) return std::move(current).error();
  if (!consent::visible(ctx, request, *current)) return store::not_found_error(w.entry->type, id);
  auto patched = interactions::patched_resource(ctx, request, w.entry->type, id, current->json, *w.patch, w.json_patch);
  if (!patched) return std::move(patched).error();
  auto written = tx.update(tx.prepare(std::move(*patched)), with_controller(w.pre, request));
  if (!written) return std::move(written).error();
  w.status = 200;
  w.version = for_response(std::move(written->version), request);
  return fhir::done{};
}

}  // namespace

fhir::result<std::string> process_transaction(const context& ctx, const fhir_request& request,
                                              const std::vector<std::string_view>& texts) {
  // 1. Everything that needs no database: validation, ids, conditions, references to new resources.
  // Entries are read from their text one at a time and their trees dropped once checked, so a large
  // transaction never holds every resource's tree at once.
  std::vector<entry_request> entries;
  entries.reserve(texts.size());  // planned_write points into it
  std::vector<planned_write> writes;
  writes.reserve(texts.size());  // grown by doubling, it would hold up to twice what it needs
  reference_map local;                       // fullUrl -> "Type/id"
  std::set<std::string, std::less<>> decided_later;  // fullUrls whose id a match inside the unit decides
  std::set<std::string> targets;             // "Type/id" of PUT and DELETE entries: each at most once
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto read = read_entry(ctx, texts[i], i);
    if (!read) return std::move(read).error();
    entry_request& entry = entries.emplace_back(std::move(*read));
    if (entry.method == "GET" || entry.method == "HEAD") {
      // Reads run after the commit; one that cannot be routed fails the transaction before anything is written.
      bool system_level = entry.type == "metadata" || entry.type.starts_with('_') || entry.type.starts_with('$');
      if (!system_level && !ctx.definitions.is_resource_type(entry.type))
        return in_entry(fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                                    fmt::format("'{}' is not a resource type this server knows", fhir::utf8_prefix(entry.type, 100)),
                                    "type-unknown"),
                        entry);
      continue;
    }
    if (ctx.definitions.is_resource_type(entry.type)) {
      // A patient writes only their own objection, one request at a time (access_gate: check_patient_facing).
      if (request.caller->patient_facing()) return in_entry(auth::forbidden(), entry);
      if (auto allowed = check_write_entry(ctx, *request.caller, entry.type, entry.method); !allowed)
        return in_entry(std::move(allowed).error(), entry);
    }
    planned_write w;
    w.entry = &entry;
    if (entry.method == "PATCH") {
      auto document = patch_document(entry);
      if (!document) return in_entry(std::move(document).error(), entry);
      w.json_patch = document->second;
      w.patch = std::move(document->first);
      entry.resource.reset();
    } else if (entry.resource) {
      if (auto shape = check_entry_shape(entry, *entry.resource); !shape) return std::move(shape).error();
    }
    if (!entry.if_match.empty()) {
      auto version = interactions::parse_version_etag(entry.if_match, "request.ifMatch");
      if (!version) return in_entry(std::move(version).error(), entry);
      w.pre = store::preconditions{.if_match = *version};
    }
    std::string condition_text = entry.method == "POST" ? entry.if_none_exist : "";
    if (entry.conditional() || !condition_text.empty()) {
      auto query = condition_text.empty() ? interactions::conditional_query(ctx, entry.type, entry.params, request.caller)
                                          : interactions::conditional_query(ctx, entry.type, condition_text, request.caller);
      if (!query) return in_entry(std::move(query).error(), entry);
      w.condition = std::make_unique<search_query>(std::move(*query));
    } else if (entry.method != "POST" && entry.id.empty()) {
      return in_entry(fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                                  fmt::format("{} needs an id or search criteria in request.url", entry.method), "bundle-url-invalid"),
                      entry);
    }
    if (!entry.id.empty() && !targets.insert(entry.type + "/" + entry.id).second)
      return in_entry(fhir::error(fhir::error_kind::invalid, fhir::issue_type::duplicate,
                                  fmt::format("{}/{} is the target of an earlier entry; a transaction changes a resource once",
                                              entry.type, entry.id),
                                  "bundle-duplicate-target"),
                      entry);
    if (entry.method == "POST") w.id = store::new_resource_id();
    else if (entry.method == "PUT") w.id = entry.id.empty() ? std::string(fhir::id_of(*entry.resource)) : entry.id;
    else w.id = entry.id;
    if (entry.method == "PUT" && w.id.empty()) w.id = store::new_resource_id();
    w.has_resource = entry.resource.has_value();
    if (entry.method == "PUT") w.body_id = fhir::id_of(*entry.resource);
    entry.resource.reset();  // read again below, once every fullUrl's id is known
    if (!entry.full_url.empty() && entry.method != "DELETE" && !w.id.empty()) {
      if (local.contains(entry.full_url))
        return in_entry(fhir::error(fhir::error_kind::invalid, fhir::issue_type::duplicate,
                                    fmt::format("fullUrl '{}' is used by an earlier entry", fhir::utf8_prefix(entry.full_url, 200)),
                                    "bundle-fullurl-duplicate"),
                        entry);
      local[entry.full_url] = entry.type + "/" + w.id;
      if (w.condition) decided_later.insert(entry.full_url);
    }
    writes.push_back(std::move(w));
  }
  // Entries are prepared (index extracted, body serialised) here, off the writer, so that the single
  // writer only inserts rows: that is what makes ordinary feeds fast. A prepared entry takes about three
  // times its text (body and search index), so this holds at most settings.transaction_prepare_ahead_bytes
  // of entry text prepared; beyond, entries are validated, dropped, and read and prepared again inside the
  // unit just before they are written. A transaction of any size then holds a bounded amount of prepared
  // resources (a 50 MB one needed 5.6 times its size, and more the larger it was: ADR 0007).
  std::size_t held_ahead = 0;
  auto hold_ahead = [&](const planned_write& w) {
    if (held_ahead >= ctx.settings.transaction_prepare_ahead_bytes) return false;
    held_ahead += w.entry->text.size();
    return true;
  };
  for (planned_write& w : writes) {
    if (!w.has_resource) continue;
    auto reread = reread_resource(ctx, request, w);
    if (!reread) return in_entry(std::move(reread).error(), *w.entry);
    fhir::json::value resource = std::move(*reread);
    rewrite_references(resource, [&](std::string_view reference) -> std::optional<std::string> {
      if (decided_later.contains(reference)) {
        w.late = true;  // an entry whose id a match decides
      } else if (is_conditional_reference(reference) && !local.contains(reference)) {
        w.late = true;
        w.conditional_references.emplace_back(reference);
      }
      return std::nullopt;
    });
    // A late entry's references wait for matches in the unit; what does not depend on them is checked now.
    if (!w.late) rewrite_known_references(resource, local, {});
    if (auto valid = validate_resource(ctx, request, *w.entry, resource); !valid) return std::move(valid).error();
    if (w.late || w.condition || !hold_ahead(w)) {
      w.prepare_in_unit = true;  // validated; its tree goes, and the unit reads it again
      continue;
    }
    fhir::set_id(resource, w.id);
    w.prepared = std::make_unique<store::prepared_resource>(ctx.store.prepare(std::move(resource)));
    // Its id is final, so the serialised body is all the writer needs: drop the parsed tree (a large
    // transaction would otherwise hold every resource twice).
    if (!w.prepared->body.empty()) w.prepared->resource = fhir::json::value();
  }

  // 2. The unit of work: DELETE, then POST, then PUT, each in Bundle order.
  auto done = ctx.store.transact([&](store::transaction& tx) -> fhir::result<fhir::done> {
    // Conditional references of late entries, resolved once each, before anything is created.
    reference_map resolved_references;
    // The prepared form of an entry about to be written. One prepared in the unit is read and prepared
    // now: it was validated in step 1, and its ids and references are decided before any POST (the
    // matches of conditional entries and resolved_references), so it is written as it would have been.
    auto take_prepared = [&](planned_write& w) -> fhir::result<store::prepared_resource> {
      if (w.prepare_in_unit) {
        auto resource = reread_resource(ctx, request, w);
        if (!resource) return std::move(resource).error();
        rewrite_known_references(*resource, local, resolved_references);
        // A conditional create's id is the one assigned in advance, given to the store by create().
        if (w.entry->method != "POST" || !w.condition) fhir::set_id(*resource, w.id);
        if (ctx.metrics) ctx.metrics->record_prepared_in_unit();
        return tx.prepare(std::move(*resource));
      }
      store::prepared_resource prepared = std::move(*w.prepared);
      w.prepared.reset();
      return prepared;
    };
    auto phase = [&](std::string_view method, auto&& step) -> fhir::result<fhir::done> {
      for (planned_write& w : writes)
        if (w.entry->method == method || (method == "PUT" && w.entry->method == "PATCH"))
          if (auto ok = step(w); !ok) return in_entry(std::move(ok).error(), *w.entry);
      return fhir::done{};
    };
    auto deleted = phase("DELETE", [&](planned_write& w) -> fhir::result<fhir::done> {
      std::vector<std::string> ids{w.id};
      if (w.condition) {
        auto match = interactions::single_match(tx, *w.condition, "The conditional delete");
        if (!match) return std::move(match).error();
        ids = *match ? std::vector<std::string>{**match} : std::vector<std::string>{};
      }
      w.status = 204;
      for (const std::string& id : ids) {
        if (auto current = tx.read(w.entry->type, id); current && !consent::visible(ctx, request, *current))
          return store::not_found_error(w.entry->type, id);  // hidden: as absent as on read
        auto removed = tx.remove(w.entry->type, id, with_controller(w.pre, request));
        if (!removed) return std::move(removed).error();
        if (*removed) w.version = for_response(std::move(**removed), request);
      }
      return fhir::done{};
    });
    if (!deleted) return deleted;

    // Matches decide the ids of conditional creates and updates before anything refers to them.
    for (planned_write& w : writes) {
      if (!w.condition || w.entry->method == "DELETE" || w.entry->method == "PATCH") continue;
      auto match = interactions::single_match(tx, *w.condition, w.entry->method == "POST" ? "ifNoneExist" : "The conditional update");
      if (!match) return in_entry(std::move(match).error(), *w.entry);
      if (*match) {
        if (!w.body_id.empty() && w.body_id != **match)
          return in_entry(fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid,
                                      fmt::format("the resource id '{}' is not the matching resource's ('{}')", w.body_id, **match),
                                      "id-mismatch"),
                          *w.entry);
        w.id = **match;
        w.matched = true;
        if (w.entry->method == "POST") w.status = 200;  // exists: nothing is created
      }
      if (!w.entry->full_url.empty()) local[w.entry->full_url] = w.entry->type + "/" + w.id;
    }
    // http.html#trules: the resolved identities of the entries must not overlap (a conditional PUT that
    // resolves to the resource a plain PUT or a DELETE also names).
    std::set<std::string> resolved;
    for (const planned_write& w : writes) {
      std::string target = w.entry->method == "DELETE" ? (w.version ? w.version->info.type + "/" + w.version->info.id : "")
                           : w.entry->method == "POST" ? (w.status == 200 ? w.entry->type + "/" + w.id : "")
                                                       : (w.id.empty() ? "" : w.entry->type + "/" + w.id);
      if (!target.empty() && !resolved.insert(target).second)
        return in_entry(fhir::error(fhir::error_kind::invalid, fhir::issue_type::duplicate,
                                    fmt::format("{} is the resolved target of an earlier entry; a transaction changes a resource once", target),
                                    "bundle-duplicate-target"),
                        *w.entry);
    }
    // A conditional reference ("Patient?identifier=...") resolved to the one resource the caller may see
    // that matches it. Only what the caller may see counts (consent.md section 3: references to hidden
    // and to missing resources fail identically), so a hidden match neither resolves nor makes the match
    // ambiguous.
    auto resolve_conditional = [&](std::string_view reference) -> fhir::result<std::string> {
      std::size_t question = reference.find('?');
      std::string type(reference.substr(0, question));
      auto query = interactions::conditional_query(ctx, type, reference.substr(question + 1), request.caller, false);
      if (!query) return std::move(query).error();
      auto ids = tx.match(*query, max_conditional_reference_candidates);
      if (!ids) return std::move(ids).error();
      std::vector<std::string> seen;
      for (const std::string& id : *ids) {
        auto candidate = tx.read(type, id);
        if (candidate && consent::visible(ctx, request, *candidate)) seen.push_back(id);
      }
      if (seen.empty()) return no_match(reference);
      if (seen.size() > 1) return several_matches(reference);
      return type + "/" + seen.front();
    };
    // Conditional references resolved before anything is created, in Bundle order (so the first entry
    // whose reference fails is the one named, and a conditional reference never matches what this
    // transaction creates).
    for (planned_write& w : writes) {
      for (const std::string& reference : w.conditional_references) {
        if (resolved_references.contains(reference)) continue;
        auto target = resolve_conditional(reference);
        if (!target) return in_entry(std::move(target).error(), *w.entry);
        resolved_references.emplace(reference, std::move(*target));
      }
    }

    auto posted = phase("POST", [&](planned_write& w) -> fhir::result<fhir::done> {
      if (w.status == 200) {
        auto existing = tx.read(w.entry->type, w.id);
        if (!existing) return std::move(existing).error();
        w.version = for_response(std::move(*existing), request);
        return fhir::done{};
      }
      auto prepared = take_prepared(w);
      if (!prepared) return std::move(prepared).error();
      auto created = tx.create(std::move(*prepared), w.id);
      if (!created) return std::move(created).error();
      w.status = 201;
      w.version = for_response(std::move(created->version), request);
      return fhir::done{};
    });
    if (!posted) return posted;
    return phase("PUT", [&](planned_write& w) -> fhir::result<fhir::done> {
      if (w.patch) return apply_patch(ctx, request, tx, w);
      if (w.condition && !w.matched && !w.body_id.empty())
        if (auto existing = tx.read(w.entry->type, w.id); existing)
          return fhir::error(fhir::error_kind::conflict, fhir::issue_type::conflict,
                             fmt::format("no {} matches the criteria, and {}/{} exists without matching them", w.entry->type,
                                         w.entry->type, w.id),
                             "conditional-id-exists");
      if (auto current = tx.read(w.entry->type, w.id); current && !consent::visible(ctx, request, *current))
        return store::not_found_error(w.entry->type, w.id);
      auto prepared = take_prepared(w);
      if (!prepared) return std::move(prepared).error();
      auto written = tx.update(std::move(*prepared), with_controller(w.pre, request));
      if (!written) return std::move(written).error();
      w.status = written->created ? 201 : 200;
      w.version = for_response(std::move(written->version), request);
      return fhir::done{};
    });
  });
  if (!done) return std::move(done).error();

  // 3. The response, one entry per request in Bundle order; reads run now and see the writes.
  std::map<std::size_t, const planned_write*> by_index;
  for (const planned_write& w : writes) by_index[w.entry->index] = &w;
  bundle_writer out("transaction-response");
  for (const entry_request& entry : entries) {
    auto it = by_index.find(entry.index);
    if (it == by_index.end()) {
      out.add_response_entry(response_entry(ctx, dispatch_entry(ctx, request, entry)));
    } else if (!it->second->version) {
      out.add_response_entry({.status = "204 No Content"});
    } else {
      const planned_write& w = *it->second;
      auto e = response_entry(ctx, w.status, *w.version, request.prefer);
      if (w.entry->method == "DELETE") e.resource.clear();
      out.add_response_entry(e);
    }
  }
  return std::move(out).finish();
}

}  // namespace server::bundle
