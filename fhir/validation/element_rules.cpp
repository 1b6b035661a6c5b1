#include "fhir/validation/element_rules.hpp"

#include <fmt/format.h>

#include "fhir/validation/nhs_number.hpp"

namespace fhir::validation {
namespace {

bool is_absolute(std::string_view url) { return url.find(':') != std::string_view::npos; }

}  // namespace

void element_rules::check(const element_site& site, std::vector<issue>& issues) const {
  if (!site.type || !site.type_info) return;
  const definitions::type_info* type = site.type_info;
  if (site.value) {
    // Bindings apply to coded types: code (and a string or uri with a binding), Coding, CodeableConcept,
    // Quantity.
    if (site.element.binding && (type == types_.code || type == types_.coding || type == types_.codeable_concept ||
                                 type->is_quantity || type == types_.string || type == types_.uri))
      bindings_.check(*site.element.binding, type->code, *site.value, site.path, {}, issues);
    if (type == types_.coding || type->is_quantity) bindings_.check_code_system(*site.value, site.path, issues);
    else if (type == types_.reference) references_.check(*site.value, site.type->target_profiles, site.container, site.path, {}, issues);
    else if (type == types_.identifier) identifier(site, issues);
    else if (type == types_.extension) extension(site, issues);
  }
  if (type != types_.extension) {
    for (const std::string& url : site.type->profiles) {
      const auto* profile = defs_.find_structure(url);
      if (!profile) continue;
      profiles_.validate_element(fhirpath::node{site.value, site.extension, site.type_info, &site.element}, *profile, site.path,
                                 site.resource, issues);
    }
  }
}

void element_rules::identifier(const element_site& site, std::vector<issue>& issues) const {
  const std::string* system = site.value->find_string("system");
  if (!system || *system != nhs_number_system) return;
  const std::string* value = site.value->find_string("value");
  if (!value) return;  // an NHS number identifier without a value: what profiles require, not this rule
  if (!is_valid_nhs_number(*value))
    issues.push_back(issue{severity::error, issue_type::value,
                           fmt::format("'{}' is not a valid NHS number: it must be 10 digits, the last a Modulus 11 check digit", *value),
                           site.path + ".value", "nhs-number-invalid"});
}

void element_rules::extension(const element_site& site, std::vector<issue>& issues) const {
  const std::string* url = site.value->find_string("url");
  if (!url) return;  // the structural validator reports the missing url
  bool modifier_position = site.element.name == "modifierExtension";
  // A relative url names a part of the extension that holds it, checked with that extension.
  if (!is_absolute(*url) && site.host_extension_url) return;
  const definitions::structure_definition* definition = defs_.find_structure(*url);
  if (!definition || definition->type != "Extension") {
    bool reject = modifier_position || options_.unknown_extensions == unknown_extension_policy::error;
    issues.push_back(issue{reject ? severity::error : severity::warning, issue_type::extension,
                           modifier_position
                               ? fmt::format("The modifier extension {} is not known: a resource that a modifier extension this server "
                                             "does not understand changes cannot be accepted",
                                             *url)
                               : fmt::format("The extension {} is not known to this server, so it was not checked", *url),
                           site.path, "extension-unknown"});
    return;
  }
  if (!context_allows(*definition, site)) {
    std::string allowed;
    for (const auto& [type, expression] : definition->contexts) allowed += (allowed.empty() ? "" : ", ") + expression;
    // A warning, not an error: published definitions, the R4 specification's own among them, use
    // extensions outside their declared contexts (regex on ElementDefinition.type, for one), and
    // rejecting a feed for it would be stricter than the specification's own content.
    issues.push_back(issue{severity::warning, issue_type::extension,
                           fmt::format("The extension {} is not allowed on {}; its definition allows it on {}", *url, site.host_path, allowed),
                           site.path, "extension-context"});
  }
  bool modifier_definition = definition->root().is_modifier;
  if (modifier_definition != modifier_position)
    issues.push_back(issue{severity::error, issue_type::extension,
                           modifier_definition
                               ? fmt::format("The extension {} is a modifier extension: it must be in modifierExtension", *url)
                               : fmt::format("The extension {} is not a modifier extension: it must be in extension, not modifierExtension", *url),
                           site.path, "extension-modifier"});
  profiles_.validate_element(fhirpath::node{site.value, nullptr, site.type_info, &site.element}, *definition, site.path, site.resource,
                             issues);
}

// StructureDefinition.context (R4): an element path or type ("Patient", "Patient.contact",
// "ContactPoint.system", "Element"), another extension's URL, or a FHIRPath expression.
bool element_rules::context_allows(const definitions::structure_definition& extension, const element_site& site) const {
  if (extension.contexts.empty()) return true;
  for (const auto& [type, expression] : extension.contexts) {
    if (type == "fhirpath") return true;  // not evaluated: accept rather than reject what may be valid
    if (type == "extension") {
      if (site.host_extension_url && *site.host_extension_url == expression) return true;
      continue;
    }
    const bool type_path = expression.size() == site.host_type_root.size() + site.host_type_rest.size() &&
                           std::string_view(expression).starts_with(site.host_type_root) &&
                           std::string_view(expression).ends_with(site.host_type_rest);
    if (expression == "Element" || expression == site.host_path || type_path) return true;
    if (site.host_type && site.host_type->derives_from(expression)) return true;
    // A context on a resource's element applies to it in every resource: "Resource.meta" etc.
    if (site.host_type && site.host_type->is_resource && expression.find('.') == std::string::npos &&
        (expression == "Resource" || expression == "DomainResource"))
      return true;
  }
  return false;
}

}  // namespace fhir::validation
