#include "server/application.hpp"

#include "conformance/capability_statement.hpp"
#include <chrono>

#include "fhir/json/serialize.hpp"
#include "fhir/text.hpp"
#include "server/log.hpp"

namespace server {

fhir::result<std::unique_ptr<application>> application::open(const fhir::definitions::registry& definitions,
                                                              const application_options& options) {
  search_support search;
  search.parameters = std::make_unique<fhir::search::search_parameters>(definitions);
  search.indexer = std::make_unique<fhir::search::indexer>(*search.parameters);
  auto store = store::open_sqlite_store(store::sqlite_options{.path = options.database_path,
                                                              .resource_types = definitions.resource_types(),
                                                              .max_readers = options.max_readers,
                                                              .skip_unchanged_updates = options.skip_unchanged_updates,
                                                              .indexer = options.search_index ? search.indexer.get() : nullptr});
  if (!store) return std::move(store).error();
  return std::unique_ptr<application>(new application(std::move(search), std::move(*store), definitions, options));
}

application::application(search_support search, std::unique_ptr<store::store> store,
                         const fhir::definitions::registry& definitions, const application_options& options)
    : search_(std::move(search)), store_(std::move(store)), validator_(definitions, options.validation) {
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
  auto capability = conformance::build_capability_statement(definitions, description);
  context_ = std::make_unique<server::context>(server::context{
      definitions, validator_, *store_, *search_.parameters, settings{.base_url = options.base_url, .default_page_size = options.default_page_size,
                                                             .max_page_size = options.max_page_size, .software_version = options.software_version,
                                                             .conditional_delete_multiple = options.conditional_delete_multiple},
      fhir::json::serialize(capability)});
  context_->dispatch = [this](const http::request& request) { return router_.handle(*context_, request); };
}

http::response application::handle(const http::request& request) const {
  if (!log::enabled(log::level::debug)) return router_.handle(*context_, request);
  auto start = std::chrono::steady_clock::now();
  http::response response = router_.handle(*context_, request);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  log::debug("{} {} {} {} bytes {} us {}", request.method, fhir::utf8_prefix(request.target, 500), response.status,
             response.body.size(), micros, request.remote_address);
  return response;
}

}  // namespace server
