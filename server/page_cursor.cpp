#include "server/page_cursor.hpp"

#include <charconv>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "fhir/base64.hpp"
#include "fhir/text.hpp"

namespace server {
namespace {

constexpr std::size_t mac_length = 22;  // base64url characters kept: 132 bits

fhir::error expired_link() {
  return fhir::error(fhir::error_kind::not_found, fhir::issue_type::not_found,
                     "This page link has expired or was issued to another caller or search: run the search again",
                     "page-link-invalid");
}

}  // namespace

http::query_params without_paging(const http::query_params& params, std::string_view page_parameter) {
  http::query_params out;
  for (const auto& p : params)
    if (p.first != page_parameter && p.first != "_format" && p.first != "_pretty") out.push_back(p);
  return out;
}

std::string page_scope(const std::string& base, const http::query_params& first_page_params) {
  return first_page_params.empty() ? base : base + "?" + http::encode_query(first_page_params);
}

page_cursors::page_cursors() {
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) throw std::runtime_error("RAND_bytes failed");
}

std::string page_cursors::mac(const auth::caller* caller, std::string_view scope, std::string_view expiry,
                              std::string_view token) const {
  std::string input;
  if (caller) {
    const auth::claims& c = *caller->token;
    for (std::string_view part : {std::string_view(c.issuer), std::string_view(c.subject), std::string_view(c.client_id),
                                  std::string_view(c.patient), std::string_view(caller->controller), std::string_view(caller->purpose)})
      fhir::append_length_prefixed(input, part);
  }
  fhir::append_length_prefixed(input, scope);
  fhir::append_length_prefixed(input, expiry);
  fhir::append_length_prefixed(input, token);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(input.data()), input.size(),
       digest, &length);
  return fhir::base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), length)).substr(0, mac_length);
}

std::string page_cursors::seal(const auth::caller* caller, std::string_view scope, std::string_view token, fhir::epoch_ms now) const {
  if (token.empty()) return {};
  std::string expiry = std::to_string((now + page_link_lifetime) / 1000);
  return expiry + "." + mac(caller, scope, expiry, token) + "." + std::string(token);
}

fhir::result<std::string> page_cursors::open(const auth::caller* caller, std::string_view scope, std::string_view sealed,
                                             fhir::epoch_ms now) const {
  std::size_t first = sealed.find('.');
  std::size_t second = first == std::string_view::npos ? first : sealed.find('.', first + 1);
  if (second == std::string_view::npos) return expired_link();
  std::string_view expiry = sealed.substr(0, first);
  std::string_view given = sealed.substr(first + 1, second - first - 1);
  std::string_view token = sealed.substr(second + 1);
  std::int64_t expires_s = 0;
  auto [end, ec] = std::from_chars(expiry.data(), expiry.data() + expiry.size(), expires_s);
  if (ec != std::errc() || end != expiry.data() + expiry.size() || token.empty()) return expired_link();
  std::string expected = mac(caller, scope, expiry, token);
  if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) return expired_link();
  if (now / 1000 >= expires_s) return expired_link();
  return std::string(token);
}

}  // namespace server
