#pragma once
// An application on a temporary database, driven in-process: requests go straight to the router.

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "fhir/definitions/r4.hpp"
#include "fhir/validation/validation_options.hpp"
#include "fhir/json/parse.hpp"
#include "server/application.hpp"
#include "tests/support/temp_dir.hpp"

namespace fhir::testing {

struct reply {
  server::http::response http;
  unsigned status() const { return http.status; }
  std::string header(std::string_view name) const { return std::string(http.header_value(name).value_or("")); }
  json::value json() const {
    auto v = json::parse(http.body);
    INFO(http.body);
    REQUIRE(v.ok());
    return std::move(*v);
  }
  // The message ids of the OperationOutcome's issues.
  std::vector<std::string> issue_ids() const;
  std::vector<std::string> issue_expressions() const;
};

// The application as `fhir-server serve` runs it by default: R4, our UK Core definitions, UK Core default
// profiles, unknown extensions accepted with a warning.
class app_fixture {
 public:
  app_fixture();
  explicit app_fixture(validation::validation_options options);
  // With other application options (the database path and base URL are the fixture's own).
  explicit app_fixture(server::application_options options);
  reply get(std::string target, std::vector<server::http::header> headers = {}) const;
  reply post(std::string target, std::string body, std::vector<server::http::header> headers = {}) const;
  reply put(std::string target, std::string body, std::vector<server::http::header> headers = {}) const;
  reply del(std::string target, std::vector<server::http::header> headers = {}) const;
  reply send(std::string method, std::string target, std::string body, std::vector<server::http::header> headers) const;

  static constexpr std::string_view base = "http://test.example/fhir";

  server::application& application() const { return *app_; }
  // Stops the application (as a restart would: running jobs are cancelled) and opens it again on the
  // same database with the same options.
  void reopen();
  std::string database_path() const { return dir_.file("test.db"); }

 private:
  temp_dir dir_;
  server::application_options options_;
  std::unique_ptr<server::application> app_;
};

}  // namespace fhir::testing
