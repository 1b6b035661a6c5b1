#include "tests/server/app_fixture.hpp"

#include "profiles/definition_set.hpp"

namespace fhir::testing {

namespace {
std::vector<std::string> issue_field(const json::value& outcome, bool ids) {
  std::vector<std::string> out;
  const json::value* issues = outcome.find("issue");
  if (!issues) return out;
  for (const json::value& i : issues->as_array()) {
    if (ids) {
      const json::value* details = i.find("details");
      const json::value* coding = details ? details->find("coding") : nullptr;
      out.push_back(coding ? coding->as_array()[0].find_string("code") ? *coding->as_array()[0].find_string("code") : "" : "");
    } else {
      const json::value* expression = i.find("expression");
      out.push_back(expression ? expression->as_array()[0].as_string() : "");
    }
  }
  return out;
}
}  // namespace

std::vector<std::string> reply::issue_ids() const { return issue_field(json(), true); }
std::vector<std::string> reply::issue_expressions() const { return issue_field(json(), false); }

app_fixture::app_fixture() : app_fixture(validation::validation_options{.default_profiles = profiles::server_default_profiles()}) {}

app_fixture::app_fixture(validation::validation_options options)
    : options_{.database_path = dir_.file("test.db"),
               .base_url = std::string(base),
               .validation = std::move(options),
               .auth = {.mode = server::auth::auth_mode::dev}} {
  reopen();
}

app_fixture::app_fixture(server::application_options options) {
  options.database_path = dir_.file("test.db");
  options.base_url = std::string(base);
  if (options.validation.default_profiles.empty()) options.validation.default_profiles = profiles::server_default_profiles();
  // In-process tests act as the development user unless they configure JWT keys themselves.
  if (options.auth.jwks_path.empty()) options.auth.mode = server::auth::auth_mode::dev;
  options_ = std::move(options);
  reopen();
}

void app_fixture::reopen() {
  app_.reset();
  auto opened = server::application::open(profiles::r4_uk_core(), options_);
  REQUIRE(opened.ok());
  app_ = std::move(*opened);
}

reply app_fixture::send(std::string method, std::string target, std::string body,
                        std::vector<server::http::header> headers) const {
  server::http::request r{.method = std::move(method), .target = std::move(target), .headers = std::move(headers),
                          .body = std::move(body), .remote_address = "127.0.0.1"};
  if (!r.body.empty() && !r.header_value("Content-Type"))
    r.headers.push_back({"Content-Type", "application/fhir+json"});
  server::http::response answer = app_->handle(r);
  server::http::settle(answer);  // as the transport does: the answer is sent once its audit record has committed
  return reply{std::move(answer)};
}

reply app_fixture::get(std::string target, std::vector<server::http::header> headers) const {
  return send("GET", std::move(target), {}, std::move(headers));
}
reply app_fixture::post(std::string target, std::string body, std::vector<server::http::header> headers) const {
  return send("POST", std::move(target), std::move(body), std::move(headers));
}
reply app_fixture::put(std::string target, std::string body, std::vector<server::http::header> headers) const {
  return send("PUT", std::move(target), std::move(body), std::move(headers));
}
reply app_fixture::del(std::string target, std::vector<server::http::header> headers) const {
  return send("DELETE", std::move(target), {}, std::move(headers));
}

}  // namespace fhir::testing
