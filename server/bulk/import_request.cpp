#include "server/bulk/import_request.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <fmt/format.h>

#include "fhir/text.hpp"

namespace server::bulk {
namespace {

using fhir::json::value;

fhir::error bad_request(std::string why, std::string where) {
  return fhir::error(fhir::error_kind::invalid, fhir::issue_type::invalid, std::move(why), "import-request-invalid", std::move(where));
}

// The formats the proposal names for NDJSON of FHIR resources.
bool ndjson_format(std::string_view format) {
  return format == "application/fhir+ndjson" || format == "application/ndjson" || format == "ndjson";
}

// The request in one shape whichever the client sent: the manifest's members, read from a Parameters
// resource when it is one (its parameters and parts by name, values of any primitive type).
struct request_fields {
  std::string input_format, input_source, storage_type;
  struct input {
    std::string type, url, type_at, url_at;
  };
  std::vector<input> inputs;
};

const std::string* primitive_value(const value& parameter) {
  for (std::string_view name : {"valueCode", "valueString", "valueUri", "valueUrl", "valueCanonical"})
    if (const std::string* v = parameter.find_string(name)) return v;
  return nullptr;
}

std::string string_member(const value& object, std::string_view name) {
  const std::string* v = object.find_string(name);
  return v ? *v : std::string();
}

request_fields from_parameters(const value& parameters) {
  request_fields out;
  const value* list = parameters.find("parameter");
  if (!list || !list->is_array()) return out;
  std::size_t index = 0;
  for (const value& p : list->as_array()) {
    std::string where = fmt::format("Parameters.parameter[{}]", index++);
    std::string name = string_member(p, "name");
    const std::string* v = primitive_value(p);
    if (name == "inputFormat" && v) out.input_format = *v;
    else if (name == "inputSource" && v) out.input_source = *v;
    if (name != "input" && name != "storageDetail") continue;
    // The parts of input and storageDetail, by name.
    std::string type, url;
    if (const value* parts = p.find("part"); parts && parts->is_array())
      for (const value& part : parts->as_array()) {
        const std::string* pv = primitive_value(part);
        if (!pv) continue;
        std::string part_name = string_member(part, "name");
        if (part_name == "type") type = *pv;
        else if (part_name == "url") url = *pv;
      }
    if (name == "storageDetail") out.storage_type = type.empty() && v ? *v : type;
    else out.inputs.push_back({std::move(type), std::move(url), where + ".part.where(name = 'type')", where + ".part.where(name = 'url')"});
  }
  return out;
}

request_fields from_manifest(const value& manifest) {
  request_fields out;
  out.input_format = string_member(manifest, "inputFormat");
  out.input_source = string_member(manifest, "inputSource");
  if (const value* storage = manifest.find("storageDetail"); storage && storage->is_object()) out.storage_type = string_member(*storage, "type");
  if (const value* inputs = manifest.find("input"); inputs && inputs->is_array()) {
    std::size_t index = 0;
    for (const value& i : inputs->as_array()) {
      std::string where = fmt::format("input[{}]", index++);
      if (i.is_object()) out.inputs.push_back({string_member(i, "type"), string_member(i, "url"), where + ".type", where + ".url"});
      else out.inputs.push_back({{}, {}, where + ".type", where + ".url"});
    }
  }
  return out;
}

bool contains_ci(std::string_view text, std::string_view needle) {
  auto it = std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); });
  return it != text.end();
}

// The URL as compared with the allowed prefixes: parsed, normalised (case of scheme and host, dot
// segments, percent-encoding), and refused when it could lead elsewhere than it seems to.
std::optional<std::string> comparable_url(std::string_view text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return std::nullopt;
  boost::urls::url u(*parsed);
  if (u.has_userinfo() || u.has_fragment() || !u.has_authority() || u.host().empty()) return std::nullopt;
  std::string scheme(u.scheme());
  if (scheme != "https" && scheme != "http") return std::nullopt;
  // Encoded slashes, backslashes and dots would be decoded by the source after our prefix check.
  std::string_view path = u.encoded_path();
  // So are path parameters (";") and double encoding ("%25"), which some servers resolve too.
  if (contains_ci(path, "%2f") || contains_ci(path, "%5c") || contains_ci(path, "%2e") || contains_ci(path, "%25") ||
      path.find('\\') != std::string_view::npos || path.find(';') != std::string_view::npos)
    return std::nullopt;
  u.normalize();
  return std::string(u.buffer());
}

}  // namespace

bool usable_source(std::string_view prefix) { return comparable_url(prefix).has_value(); }

bool allowed_source(std::string_view url, const std::vector<std::string>& sources) {
  auto candidate = comparable_url(url);
  if (!candidate) return false;
  for (const std::string& source : sources) {
    auto prefix = comparable_url(source);
    if (!prefix || !candidate->starts_with(*prefix)) continue;
    // The prefix ends at a boundary: "https://h/exports" allows "https://h/exports/x", not "https://h/exports-old".
    if (prefix->ends_with('/') || candidate->size() == prefix->size()) return true;
    char next = (*candidate)[prefix->size()];
    if (next == '/' || next == '?') return true;
  }
  return false;
}

fhir::result<import_spec> parse_import_request(const context& ctx, const value& body, std::string request_url) {
  if (!body.is_object()) return bad_request("The $import request must be a JSON object (the import manifest) or a Parameters resource", "");
  const std::string* resource_type = body.find_string("resourceType");
  bool parameters = resource_type && *resource_type == "Parameters";
  request_fields fields = parameters ? from_parameters(body) : from_manifest(body);
  auto at = [&](std::string_view name) { return parameters ? fmt::format("Parameters.parameter.where(name = '{}')", name) : std::string(name); };

  if (fields.input_format.empty()) return bad_request("inputFormat is required (application/fhir+ndjson)", at("inputFormat"));
  if (!ndjson_format(fields.input_format))
    return bad_request(fmt::format("inputFormat '{}' is not supported: only application/fhir+ndjson", fhir::utf8_prefix(fields.input_format, 100)),
                       at("inputFormat"));
  if (fields.input_source.empty()) return bad_request("inputSource is required (a URI naming where the data comes from)", at("inputSource"));
  if (!fields.storage_type.empty() && fields.storage_type != "https")
    return bad_request(fmt::format("storageDetail type '{}' is not supported: only https", fhir::utf8_prefix(fields.storage_type, 100)),
                       at("storageDetail"));
  if (fields.inputs.empty()) return bad_request("At least one input (type and url) is required", at("input"));
  if (fields.inputs.size() > max_import_inputs)
    return bad_request(fmt::format("{} inputs; one import takes at most {}", fields.inputs.size(), max_import_inputs), at("input"));

  import_spec spec{.input_source = fields.input_source, .request_url = std::move(request_url)};
  for (request_fields::input& input : fields.inputs) {
    if (!ctx.definitions.is_resource_type(input.type))
      return bad_request(input.type.empty() ? "The input has no type" : fmt::format("'{}' is not a resource type", fhir::utf8_prefix(input.type, 100)),
                         input.type_at);
    if (input.url.empty()) return bad_request("The input has no url", input.url_at);
    if (!allowed_source(input.url, ctx.settings.import_sources))
      return bad_request(ctx.settings.import_sources.empty()
                             ? "This server fetches imports from no source (the operator allows them with --import-source)"
                             : fmt::format("'{}' is not inside a source this server imports from", fhir::utf8_prefix(input.url, 200)),
                         input.url_at);
    spec.inputs.push_back({std::move(input.type), std::move(input.url), std::move(input.type_at)});
  }
  return spec;
}

std::string import_key(const import_spec& spec, const auth::caller& owner) {
  // Each field length-prefixed, so that no text a client chooses can make two requests read alike; the
  // caller's part is what same_caller compares.
  const auth::claims& t = *owner.token;
  std::string text;
  auto field = [&text](std::string_view v) { text += fmt::format("{}:{};", v.size(), v); };
  for (std::string_view v : {std::string_view(t.issuer), std::string_view(t.subject), std::string_view(t.client_id), std::string_view(t.patient),
                             std::string_view(t.scope), std::string_view(owner.controller), std::string_view(owner.purpose),
                             std::string_view(spec.input_source)})
    field(v);
  field(std::to_string(t.roles.size()));
  for (const auth::nhs_role& role : t.roles) {
    field(role.person_roleid);
    field(role.role_code);
    field(std::to_string(role.activity_codes.size()));
    for (const auto& code : role.activity_codes) field(code);
  }
  field(std::to_string(spec.inputs.size()));
  for (const import_input& input : spec.inputs) {
    field(input.type);
    field(input.url);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace server::bulk
