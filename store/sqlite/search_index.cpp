#include "store/sqlite/search_index.hpp"

#include "fhir/search/position.hpp"

namespace store::sqlite {

namespace {

std::string key(std::int64_t type_id, std::string_view code) {
  std::string k = std::to_string(type_id);
  k += '/';
  k += code;
  return k;
}

}  // namespace

void param_ids::load(database& db, const fhir::search::search_parameters* parameters,
                     const std::unordered_map<std::string, std::int64_t>& type_ids) {
  for (const auto& [name, id] : type_ids) type_ids_.emplace(name, id);
  if (parameters) {
    transaction tx(db);
    auto insert = [&](std::int64_t type_id, const std::string& code, std::string_view kind) {
      auto st = db.cached("INSERT OR IGNORE INTO search_param(type_id, code, kind) VALUES (?1, ?2, ?3)");
      st->bind(1, type_id).bind(2, code).bind(3, kind).run();
    };
    for (const auto& [type, type_id] : type_ids) {
      for (const auto& [code, p] : parameters->of(type)) {
        if (!p.indexed()) continue;
        if (!p.covered_by.empty()) covered_by_[key(type_id, code)] = p.covered_by;
        // Derived rows: Reference.identifier values (:identifier) and typed identifiers (:of-type).
        std::string derived = p.type == fhir::search::param_type::reference ? ":identifier"
                              : p.type == fhir::search::param_type::token   ? ":of-type"
                                                                             : "";
        // Each parameter twice: for resources, and for resources contained in others (contained_code).
        for (const std::string& stored : {code, contained_code(code)}) {
          insert(type_id, stored, fhir::search::to_string(p.type));
          if (!derived.empty()) insert(type_id, stored + derived, "token");
        }
      }
    }
    tx.commit();
  }
  auto all = db.cached("SELECT param_id, type_id, code, kind FROM search_param");
  while (all->step()) {
    std::int64_t id = all->column_int64(0), type_id = all->column_int64(1);
    std::string code(all->column_text(2));
    // Wildcard includes follow resources' references, not contained resources'.
    if (all->column_text(3) == "reference" && !code.starts_with('#')) references_[type_id].push_back(id);
    ids_[type_id].emplace(std::move(code), id);
  }
}

std::optional<std::int64_t> param_ids::type_id(std::string_view name) const {
  auto it = type_ids_.find(name);
  return it == type_ids_.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
}

std::optional<std::int64_t> param_ids::find(std::int64_t type_id, std::string_view code) const {
  auto of_type = ids_.find(type_id);
  if (of_type == ids_.end()) return std::nullopt;
  auto it = of_type->second.find(code);
  if (it == of_type->second.end()) return std::nullopt;
  return it->second;
}

std::vector<std::int64_t> param_ids::find_all(std::int64_t type_id, std::string_view code) const {
  std::vector<std::int64_t> out;
  if (auto id = find(type_id, code)) out.push_back(*id);
  // A contained resource's parameter ('#' + code) is covered as the resource's is.
  std::string prefix = code.starts_with('#') ? "#" : "";
  code.remove_prefix(prefix.size());
  std::string_view base = code.substr(0, code.find(':'));
  std::string_view suffix = code.substr(base.size());
  if (auto covers = covered_by_.find(key(type_id, base)); covers != covered_by_.end())
    for (const std::string& cover : covers->second)
      if (auto id = find(type_id, prefix + cover + std::string(suffix))) out.push_back(*id);
  return out;
}

const std::vector<std::int64_t>& param_ids::reference_params(std::int64_t type_id) const {
  auto it = references_.find(type_id);
  return it == references_.end() ? none_ : it->second;
}

namespace {

// One table per statement: each uses the table's (res_pk, ...) index.
void delete_rows(database& db, std::int64_t pk) {
  static const char* const deletes[] = {
      "DELETE FROM ix_string WHERE res_pk = ?1",   "DELETE FROM ix_token WHERE res_pk = ?1",
      "DELETE FROM ix_date WHERE res_pk = ?1",     "DELETE FROM ix_number WHERE res_pk = ?1",
      "DELETE FROM ix_quantity WHERE res_pk = ?1", "DELETE FROM ix_reference WHERE res_pk = ?1",
      "DELETE FROM ix_uri WHERE res_pk = ?1",      "DELETE FROM ix_composite WHERE res_pk = ?1",
      "DELETE FROM ix_text WHERE res_pk = ?1",     "DELETE FROM ix_position WHERE res_pk = ?1",
  };
  for (const char* sql : deletes) db.cached(sql)->bind(1, pk).run();
}

// The rows of `index` (not its contained resources'), for row owner `pk` (a resource's pk or a contained
// resource's cpk); `param` maps an entry's code to its parameter id.
template <typename ParamId>
void insert_rows(database& db, std::int64_t pk, const fhir::search::index_set& index, ParamId param) {
  for (const auto& e : index.strings)
    if (auto id = param(e.code)) {
      auto st = db.cached("INSERT OR IGNORE INTO ix_string(param_id, norm, exact, res_pk) VALUES (?1, ?2, ?3, ?4)");
      st->bind(1, *id).bind_static(2, e.normalized).bind_static(3, e.exact).bind(4, pk).run();
    }
  for (const auto& e : index.tokens)
    if (auto id = param(e.code)) {
      auto st = db.cached("INSERT OR IGNORE INTO ix_token(param_id, system, code, text, res_pk) VALUES (?1, ?2, ?3, ?4, ?5)");
      st->bind(1, *id).bind_static(2, e.system).bind_static(3, e.value).bind_static(4, e.text).bind(5, pk).run();
    }
  for (const auto& e : index.dates)
    if (auto id = param(e.code)) {
      auto st = db.cached("INSERT OR IGNORE INTO ix_date(param_id, lo, hi, res_pk) VALUES (?1, ?2, ?3, ?4)");
      st->bind(1, *id).bind(2, e.low).bind(3, e.high).bind(4, pk).run();
    }
  for (const auto& e : index.numbers)
    if (auto id = param(e.code)) {
      auto st = db.cached("INSERT OR IGNORE INTO ix_number(param_id, value, lo, hi, res_pk) VALUES (?1, ?2, ?3, ?4, ?5)");
      st->bind(1, *id).bind_real(2, e.value).bind_real(3, e.low).bind_real(4, e.high).bind(5, pk).run();
    }
  for (const auto& e : index.quantities)
    if (auto id = param(e.code)) {
      auto st = db.cached(
          "INSERT OR IGNORE INTO ix_quantity(param_id, system, unit, value, lo, hi, cunit, cvalue, res_pk) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
      st->bind(1, *id).bind_static(2, e.system).bind_static(3, e.unit).bind_real(4, e.value).bind_real(5, e.low).bind_real(6, e.high);
      st->bind_static(7, e.canonical_unit).bind_real(8, e.canonical_value).bind(9, pk).run();
    }
  for (const auto& e : index.references)
    if (auto id = param(e.code)) {
      auto st = db.cached("INSERT OR IGNORE INTO ix_reference(param_id, target_type, target_id, url, res_pk) VALUES (?1, ?2, ?3, ?4, ?5)");
      st->bind(1, *id).bind_static(2, e.target_type).bind_static(3, e.target_id).bind_static(4, e.url).bind(5, pk).run();
    }
  for (const auto& e : index.composites)
    if (auto id = param(e.code)) {
      auto st = db.cached(
          "INSERT OR IGNORE INTO ix_composite(param_id, system1, code1, system2, code2, value2, low2, high2, cunit2, cvalue2, res_pk, "
          "url1, value3) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
      st->bind(1, *id).bind_static(2, e.system1).bind_static(3, e.code1).bind_static(4, e.system2).bind_static(5, e.code2);
      st->bind_real(6, e.value2).bind_real(7, e.low2).bind_real(8, e.high2).bind_static(9, e.canonical_unit2);
      st->bind_real(10, e.canonical_value2).bind(11, pk).bind_static(12, e.url1).bind_real(13, e.value3).run();
    }
  for (const auto& e : index.texts)
    if (auto id = param(e.code)) {
      auto st = db.cached("INSERT OR IGNORE INTO ix_text(res_pk, param_id, text) VALUES (?1, ?2, ?3)");
      st->bind(1, pk).bind(2, *id).bind_static(3, e.text).run();
    }
  for (const auto& e : index.positions)
    if (auto id = param(e.code)) {
      auto st = db.cached("INSERT OR IGNORE INTO ix_position(param_id, lat, lon, x, y, z, res_pk) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
      fhir::search::unit_vector v = fhir::search::on_unit_sphere(e.latitude, e.longitude);
      st->bind(1, *id).bind_real(2, e.latitude).bind_real(3, e.longitude).bind_real(4, v.x).bind_real(5, v.y).bind_real(6, v.z);
      st->bind(7, pk).run();
    }
  for (const auto& e : index.uris)
    if (auto id = param(e.code)) {
      auto st = db.cached("INSERT OR IGNORE INTO ix_uri(param_id, uri, res_pk) VALUES (?1, ?2, ?3)");
      st->bind(1, *id).bind_static(2, e.uri).bind(3, pk).run();
    }
}

}  // namespace

void delete_index(database& db, std::int64_t pk) {
  delete_rows(db, pk);
  std::vector<std::int64_t> contained;
  auto st = db.cached("SELECT cpk FROM contained_resource WHERE container_pk = ?1");
  st->bind(1, pk);
  while (st->step()) contained.push_back(st->column_int64(0));
  if (contained.empty()) return;
  for (std::int64_t cpk : contained) delete_rows(db, cpk);
  db.cached("DELETE FROM contained_resource WHERE container_pk = ?1")->bind(1, pk).run();
}

void write_index(database& db, const param_ids& ids, std::int64_t pk, std::int64_t type_id,
                 const fhir::search::index_set& index, bool fresh) {
  if (!fresh) delete_index(db, pk);
  insert_rows(db, pk, index, [&](const std::string& code) { return ids.find(type_id, code); });
  for (const fhir::search::contained_index& c : index.contained) {
    auto contained_type = ids.type_id(c.type);
    if (!contained_type) continue;
    // cpks count down from -1 (the lowest is the first row of the table); a local id the container
    // repeats keeps its first resource.
    auto lowest = db.cached("SELECT coalesce(min(cpk), 0) FROM contained_resource");
    lowest->step();
    std::int64_t cpk = lowest->column_int64(0) - 1;
    auto insert = db.cached("INSERT OR IGNORE INTO contained_resource(cpk, container_pk, type_id, local_id) VALUES (?1, ?2, ?3, ?4)");
    insert->bind(1, cpk).bind(2, pk).bind(3, *contained_type).bind(4, c.id).run();
    if (db.changes() == 0) continue;
    insert_rows(db, cpk, c.index, [&](const std::string& code) { return ids.find(*contained_type, contained_code(code)); });
  }
}

}  // namespace store::sqlite
