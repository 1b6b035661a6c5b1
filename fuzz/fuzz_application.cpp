#include "fuzz/fuzz_application.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>

#include "profiles/definition_set.hpp"

namespace fhir::fuzz {

namespace {

// In memory where the system offers it (/dev/shm): every write commits with fsync, which on a disk would
// limit a target to a few dozen inputs a second.
std::filesystem::path make_directory() {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0
                                   ? std::filesystem::path("/dev/shm")
                                   : std::filesystem::temp_directory_path();
  std::string pattern = (base / "fhir-fuzz-XXXXXX").string();
  if (!mkdtemp(pattern.data())) {
    std::perror("mkdtemp");
    std::abort();
  }
  return pattern;
}

struct instance {
  std::filesystem::path directory = make_directory();
  std::unique_ptr<server::application> app;

  instance() {
    server::application_options options{
        .database_path = (directory / "fuzz.db").string(),
        .base_url = "http://fuzz.example/fhir",
        .validation = {.default_profiles = profiles::server_default_profiles()},
        // A small budget, so that transaction inputs also reach entries prepared inside their unit of work.
        .transaction_prepare_ahead_bytes = 1024,
        .auth = {.mode = server::auth::auth_mode::dev}};
    auto opened = server::application::open(profiles::r4_uk_core(), options);
    if (!opened) {
      std::fprintf(stderr, "cannot open the fuzz application: %s\n", opened.error().summary().c_str());
      std::abort();
    }
    app = std::move(*opened);
  }
  ~instance() {
    app.reset();
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  }
};

}  // namespace

server::application& fuzz_application() {
  static instance the_instance;
  return *the_instance.app;
}

unsigned handle(const server::http::request& request) {
  server::http::response answer = fuzz_application().handle(request);
  server::http::settle(answer);
  return answer.status;
}

}  // namespace fhir::fuzz
