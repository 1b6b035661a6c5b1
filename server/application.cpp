#include "server/application.hpp"

#include <algorithm>

#include "server/bulk/export_run.hpp"
#include "server/bulk/import_request.hpp"
#include "server/bulk/import_run.hpp"

#include "server/operations.hpp"

#include "server/audit/audit_record_codec.hpp"
#include "server/consent/consent_enforcement.hpp"

#include "conformance/capability_statement.hpp"
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "fhir/json/serialize.hpp"
#include "fhir/text.hpp"
#include "server/audit/audit_record_codec.hpp"
#include "server/consent/consent_enforcement.hpp"
#include "server/interactions/compartment.hpp"
#include "server/log.hpp"

namespace server {

namespace {

// Keys whose issuer binding (a JWK's "issuer") is likely a mistake: with several trusted issuers, keys any
// of them may sign with; keys bound to an issuer that is not trusted, which no token can use.
void warn_about_key_issuers(const auth::key_set& keys, const std::vector<std::string>& issuers) {
  std::size_t unbound = 0;
  for (const auth::verification_key& key : keys.keys()) {
    if (!key.issuer) ++unbound;
    else if (std::find(issuers.begin(), issuers.end(), *key.issuer) == issuers.end())
      log::warning("JWKS key '{}' is bound to the issuer {}, which is not trusted (--issuer): no token can use it", key.kid, *key.issuer);
  }
  if (issuers.size() > 1 && unbound > 0)
    log::warning("{} of the {} JWKS keys name no issuer: any of the {} trusted issuers may sign with them (give each key an "
                 "\"issuer\" member to bind it)",
                 unbound, keys.size(), issuers.size());
}

fhir::result<std::unique_ptr<auth::authenticator>> make_authenticator(const fhir::definitions::registry& definitions,
                                                                     const application_options& options) {
  const auth_options& a = options.auth;
  auth::access_policy policy = auth::access_policy::defaults();
  if (!a.access_policy_path.empty()) {
    auto loaded = auth::access_policy::load(a.access_policy_path);
    if (!loaded) return std::move(loaded).error();
    policy = std::move(*loaded);
  }
  std::shared_ptr<auth::jwt_verifier> verifier;
  if (a.mode == auth::auth_mode::jwt && (a.jwks_path.empty() || a.issuers.empty()))
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::security,
                       "JWT authentication needs the issuers' keys (--jwks FILE) and at least one trusted issuer (--issuer URL)",
                       "auth-not-configured");
  if (!a.jwks_path.empty()) {
    auto keys = auth::key_set::load(a.jwks_path);
    if (!keys) return std::move(keys).error();
    warn_about_key_issuers(**keys, a.issuers);
    verifier = std::make_shared<auth::jwt_verifier>(
        auth::jwt_options{.issuers = a.issuers, .audience = a.audience.empty() ? options.base_url : a.audience}, std::move(*keys));
  }
  auto patient_types = interactions::compartment_types(definitions, "Patient");
  std::set<std::string, std::less<>> patient_data(patient_types.begin(), patient_types.end());
  return std::make_unique<auth::authenticator>(
      a.mode, std::move(policy), std::move(verifier),
      [patient_data = std::move(patient_data)](std::string_view type) { return patient_data.contains(type); });
}

// Where the jobs of a bulk operation ("export", "import") keep their files.
std::string bulk_directory(const application_options& options, std::string_view kind) {
  const std::string& chosen = kind == "export" ? options.export_directory : options.import_directory;
  return chosen.empty() ? fmt::format("{}.{}s", options.database_path, kind) : chosen;
}

// An import source the allow-list could never match is a mistake to report, not to ignore; the export and
// import queues each remove the other's leftover directories, so they must not share one.
fhir::result<fhir::done> check_bulk_options(const application_options& options) {
  for (const std::string& source : options.import_sources)
    if (!bulk::usable_source(source))
      return fhir::error(fhir::error_kind::invalid, fhir::issue_type::value,
                         fmt::format("--import-source {} is not an http(s) URL prefix without userinfo, fragment, ';' or encoded "
                                     "slashes, dots and percent signs",
                                     source),
                         "import-source-invalid");
  if (!options.import_ca_file.empty() && !std::ifstream(options.import_ca_file))
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::value, fmt::format("--import-ca {} cannot be read", options.import_ca_file),
                       "import-ca-unreadable");
  std::string exports = bulk_directory(options, "export"), imports = bulk_directory(options, "import");
  std::error_code export_ec, import_ec;
  auto export_path = std::filesystem::weakly_canonical(exports, export_ec), import_path = std::filesystem::weakly_canonical(imports, import_ec);
  if (export_ec || import_ec ? exports == imports : export_path == import_path)
    return fhir::error(fhir::error_kind::invalid, fhir::issue_type::value, "--export-dir and --import-dir must be different directories",
                       "bulk-directory-shared");
  return fhir::done{};
}

}  // namespace

fhir::result<std::unique_ptr<application>> application::open(const fhir::definitions::registry& definitions,
                                                              const application_options& options) {
  if (auto bulk = check_bulk_options(options); !bulk) return std::move(bulk).error();
  auto authenticator = make_authenticator(definitions, options);
  if (!authenticator) return std::move(authenticator).error();
  search_support search;
  search.parameters = std::make_unique<fhir::search::search_parameters>(definitions);
  search.indexer = std::make_unique<fhir::search::indexer>(*search.parameters, std::vector<std::string>{options.base_url});
  auto store = store::open_sqlite_store(store::sqlite_options{.path = options.database_path,
                                                              .resource_types = definitions.resource_types(),
                                                              .max_readers = options.max_readers,
                                                              .skip_unchanged_updates = options.skip_unchanged_updates,
                                                              .indexer = options.search_index ? search.indexer.get() : nullptr,
                                                              .render_audit = audit::render_record});
  if (!store) return std::move(store).error();
  return std::unique_ptr<application>(
      new application(std::move(search), std::move(*store), std::move(*authenticator), definitions, options));
}

application::application(search_support search, std::unique_ptr<store::store> store,
                         std::unique_ptr<auth::authenticator> authenticator, const fhir::definitions::registry& definitions,
                         const application_options& options)
    : search_(std::move(search)),
      store_(std::move(store)),
      validator_(definitions, options.validation),
      authenticator_(std::move(authenticator)),
      jwks_path_(options.auth.jwks_path) {
  conformance::server_description description{
      .base_url = options.base_url,
      .software_name = "shcr-fhir",
      .software_version = options.software_version,
      .release_date = FHIR_BUILD_DATE,
  };
  for (const supported_interaction& i : router_.supported_interactions()) {
    // Compartment searches are declared by rest.compartment, not as an interaction.
    if (i.code == "search-compartment") continue;
    // Conditional update and delete are declared by flags on each resource, not as interactions.
    if (i.code == "conditional-update") { description.conditional_update = true; continue; }
    if (i.code == "conditional-patch") continue;  // R4 has no CapabilityStatement flag for it
    if (i.code == "$everything") {  // defined on Patient only
      description.resource_operations["Patient"].emplace_back("everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything");
      continue;
    }
    if (i.code == "$break-glass") {  // defined on Patient only (docs/consent.md)
      description.resource_operations["Patient"].emplace_back("break-glass",
                                                              "https://shared-care-record.github.io/fhir/OperationDefinition/Patient-break-glass");
      continue;
    }
    if (i.code == "$export") {  // Bulk Data Access 2.0: system, Patient and Group levels
      constexpr std::string_view bulk = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/";
      description.system_operations.emplace_back("export", std::string(bulk) + "export");
      description.resource_operations["Patient"].emplace_back("export", std::string(bulk) + "patient-export");
      description.resource_operations["Group"].emplace_back("export", std::string(bulk) + "group-export");
      continue;
    }
    if (i.code == "$export-poll-status" || i.code == "$export-file") continue;  // the export's own endpoints
    if (i.code == "$import") {  // only when the operator allows sources to fetch from (docs/operations.md)
      if (!options.import_sources.empty())
        description.system_operations.emplace_back("import", "https://shared-care-record.github.io/fhir/OperationDefinition/import");
      continue;
    }
    if (i.code == "$import-poll-status" || i.code == "$import-file") continue;
    if (i.code == "$data-quality") {  // this server's own (docs/operations.md)
      description.system_operations.emplace_back("data-quality", "https://shared-care-record.github.io/fhir/OperationDefinition/data-quality");
      continue;
    }
    if (i.code == "conditional-delete") {
      description.conditional_delete = options.conditional_delete_multiple ? "multiple" : "single";
      continue;
    }
    // POST [base] takes both kinds of Bundle.
    if (i.code == "transaction") description.system_interactions.emplace_back("batch");
    if (i.code.starts_with('$')) description.type_operations.emplace_back(i.code.substr(1));
    else (i.system_level ? description.system_interactions : description.type_interactions).emplace_back(i.code);
  }
  description.conditional_create = true;              // If-None-Exist (create.cpp)
  description.conditional_read = "full-support";     // If-Modified-Since and If-None-Match (read.cpp)
  description.default_profiles = options.validation.default_profiles;
  description.search = search_.parameters.get();
  description.compartments = {"http://hl7.org/fhir/CompartmentDefinition/patient"};
  description.special_types["AuditEvent"] = {
      .interactions = {"read", "vread", "search-type", "history-type", "history-instance"},
      .search_parameters = {std::begin(store::audit_search_parameters), std::end(store::audit_search_parameters)},
      .documentation = "The audit trail: written by the server for every request, never by clients; read and searched by "
                       "privacy officers (consent.md section 4). Each record has one version."};
  description.security_description =
      "Every request but this CapabilityStatement needs `Authorization: Bearer <JWT>` (RS256, PS256 or ES256, keys from the "
      "configured JWKS; claims `org_ods`, `nhs_role`, `purpose_of_use`, SMART v2 `scope`, and `patient` for patient-facing "
      "tokens), with `X-Purpose-Of-Use` when the token allows several purposes. Access is the intersection of the SMART scopes "
      "and the RBAC table of NHS roles and purposes; every request is audited as an AuditEvent (privacy officers read them). "
      "Consent is enforced on every read, search, include, chain, history, $everything and write: a patient's opt-out "
      "(`shcr-optout`), upheld Article 21 objection, Article 18 restriction, granular Consent or national data opt-out "
      "(`ndoo`, for planning and research) hides their data exactly as if it did not exist (404, empty searches, totals "
      "counting only what is visible), except from the organisation that wrote it (direct care); clinicians see a minimal "
      "Patient tagged REDACTED and a `suppressed` warning. Emergency access needs `POST Patient/[id]/$break-glass` "
      "(entitled roles, purpose ETREAT), audited as a Security Alert.";
  description.excluded_interactions["Consent"] = {"delete"};  // every change is a status change (access_gate)
  description.documentation["Consent"] =
      "Consents are written by consent administrators (and an Article 21 objection by the patient, as `proposed`). Each has "
      "exactly one kind in `category` (CodeSystem https://shared-care-record.github.io/fhir/CodeSystem/consent-kind: "
      "shcr-optout, art21-objection, art18-restriction, granular, ndoo, research-consent) and conforms to "
      "https://shared-care-record.github.io/fhir/StructureDefinition/SHCR-Consent; a Consent the server could not fully "
      "enforce is 422. A Consent changes by status only (a Provenance records each change); DELETE is 405; one active "
      "opt-out per patient. Read and search: consent administrators, and a patient their own.";
  auto capability = conformance::build_capability_statement(definitions, description);
  context_ = std::make_unique<server::context>(server::context{
      definitions, validator_, *store_, *search_.parameters, settings{.base_url = options.base_url, .default_page_size = options.default_page_size,
                                                             .max_page_size = options.max_page_size, .software_version = options.software_version,
                                                             .conditional_delete_multiple = options.conditional_delete_multiple,
                                                             .audit = options.audit,
                                                             .transaction_prepare_ahead_bytes = options.transaction_prepare_ahead_bytes,
                                                             .ndoo_max_age = options.ndoo_max_age,
                                                             .stale_feed_age = options.stale_feed_age,
                                                             .import_sources = options.import_sources},
      fhir::json::serialize(capability)});
  context_->auth = authenticator_.get();
  consents_ = std::make_unique<consent::consent_cache>();
  if (options.consent) context_->consents = consents_.get();
  break_glass_ = std::make_unique<consent::break_glass_sessions>(options.break_glass_length);
  context_->break_glass = break_glass_.get();
  metrics_ = std::make_unique<server::metrics>();
  context_->metrics = metrics_.get();
  cursors_ = std::make_unique<page_cursors>();
  context_->cursors = cursors_.get();
  context_->dispatch = [this](const http::request& request, const auth::caller& caller) {
    return router_.handle_as(*context_, request, caller);
  };
  exports_ = std::make_unique<bulk::export_jobs>(
      bulk::job_settings{.directory = bulk_directory(options, "export"),
                         .retention = options.export_retention,
                         .kind = "export"},
      [this](bulk::export_job& job) { return bulk::run_export(*context_, job); });
  context_->exports = exports_.get();
  // An import interrupted by a restart continues when asked for again: its directory is kept a while.
  imports_ = std::make_unique<bulk::import_jobs>(
      bulk::job_settings{.directory = bulk_directory(options, "import"),
                         .retention = options.export_retention,
                         .max_unfinished_per_caller = 1,
                         .resumable_marker = std::string(bulk::import_resumable_marker),
                         .keep_leftovers = 7 * 24 * 3'600'000,
                         .kind = "import"},
      [this, run = bulk::import_run_settings{.fetch = {.max_bytes = options.import_max_bytes, .ca_file = options.import_ca_file}}](
          bulk::import_job& job) { return bulk::run_import(*context_, job, run); });
  context_->imports = imports_.get();
  if (options.data_quality) {
    quality_ = std::make_unique<quality::quality_recorder>(
        *store_, *search_.parameters,
        [ctx = context_.get()](const auth::caller& caller, const store::resource_version& version) {
          return consent::decide(*ctx, caller, version).permitted();
        },
        quality::recorder_options{.base_url = options.base_url});
    context_->quality = quality_.get();
  }
}

http::response application::handle(const http::request& request) const {
  if (auto operations = operations_endpoint(*context_, request)) return std::move(*operations);
  if (!log::enabled(log::level::debug)) return router_.handle(*context_, request);
  auto start = std::chrono::steady_clock::now();
  http::response response = router_.handle(*context_, request);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  log::write(log::level::debug, "request",
             {{"method", request.method},
              {"target", std::string(fhir::utf8_prefix(request.target, 500))},
              {"status", std::to_string(response.status)},
              {"bytes", std::to_string(response.body.size())},
              {"micros", std::to_string(micros)},
              {"remote", request.remote_address},
              {"request_id", std::string(response.header_value("X-Request-Id").value_or(""))}});
  return response;
}

fhir::result<fhir::done> application::reload_keys() {
  if (jwks_path_.empty() || !authenticator_->verifier()) return fhir::done{};
  auto keys = auth::key_set::load(jwks_path_);
  if (!keys) return std::move(keys).error();
  warn_about_key_issuers(**keys, authenticator_->verifier()->options().issuers);
  authenticator_->verifier()->replace_keys(std::move(*keys));
  return fhir::done{};
}

}  // namespace server
