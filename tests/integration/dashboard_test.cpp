// The operators' dashboard in a real browser (issue 10): Debian's Chromium, headless, loads GET
// /dashboard from the running server, which fetches $data-quality and draws the figures; the test reads
// the DOM the page built (the summary row of the organisation, the chart's bars, the top issues) and takes
// a screenshot, checking that the chart's accepted and rejected bars are drawn in it.
// Without Chromium the test is skipped with a warning, except in CI (CI=true), where it fails.

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/png.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fhir::testing;

namespace {

const header_list fhir_json = {{"Content-Type", "application/fhir+json"}};

std::string chromium_binary() {
  for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (std::filesystem::exists(candidate)) return candidate;
  return {};
}

// Runs a command line (built by this test from fixed words, a port and temporary paths) and returns
// its standard output.
std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  for (std::size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  pclose(pipe);
  return out;
}

std::string patient(const std::string& nhs_number) {
  return R"({"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" + nhs_number +
         R"("}],"name":[{"family":"Dashboard"}],"gender":"female","birthDate":"1980-01-01"})";
}

}  // namespace

TEST_CASE("the dashboard shows each organisation's figures in a real browser", "[integration][dashboard]") {
  std::string chromium = chromium_binary();
  if (chromium.empty()) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("chromium is missing in CI (scripts/install-deps.sh --tests installs it)");
    WARN("chromium is not installed: the dashboard's browser test is skipped (apt-get install chromium)");
    return;
  }
  temp_dir dir;
  server_process server(dir.file("db.sqlite"));
  http_connection c(server.port());
  for (int i = 0; i < 3; ++i) REQUIRE(c.request("POST", "/fhir/Patient", patient("9000000009"), fhir_json).status == 201);
  REQUIRE(c.request("POST", "/fhir/Patient", patient("9000000008"), fhir_json).status == 422);  // fails Modulus 11

  http_reply page = c.request("GET", "/dashboard");
  REQUIRE(page.status == 200);
  CHECK(page.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(page.header("Content-Security-Policy").find("default-src 'self'") != std::string::npos);
  CHECK(c.request("GET", "/dashboard.js").header("Content-Type") == "text/javascript; charset=utf-8");
  CHECK(c.request("GET", "/dashboard.css").status == 200);

  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/dashboard";
  // Each run its own profile (a run cut off by `timeout` may leave its profile locked); sRGB so that
  // the page's colours reach the screenshot unchanged.
  auto chromium_run = [&](const std::string& profile) {
    return "timeout 120 " + chromium + " --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run " +
           "--force-color-profile=srgb --user-data-dir=" + dir.file(profile) + " --virtual-time-budget=15000 --window-size=1280,1000 ";
  };

  // The DOM the page built from $data-quality.
  std::string dom = run(chromium_run("profile-dom") + "--dump-dom " + url + " 2>/dev/null");
  INFO(dom.substr(0, 4000));
  REQUIRE(dom.find(R"(<tr data-organization="DEV">)") != std::string::npos);
  std::string row = dom.substr(dom.find(R"(<tr data-organization="DEV">)"));
  row = row.substr(0, row.find("</tr>"));
  // Organisation, last feed, accepted 3, rejected 1, 25.0 %, 1 invalid NHS number.
  CHECK(row.find(R"(<td class="number">3</td><td class="number">1</td><td class="number">25.0</td><td class="number">1</td>)") !=
        std::string::npos);
  CHECK(dom.find(R"(<svg class="chart")") != std::string::npos);
  CHECK(dom.find(R"(<rect class="accepted")") != std::string::npos);
  CHECK(dom.find(R"(<rect class="rejected")") != std::string::npos);
  CHECK(dom.find("<td>nhs-number-invalid</td>") != std::string::npos);
  CHECK(dom.find(R"(class="error")") == std::string::npos);

  // The screenshot: the chart's bars are drawn in their colours.
  std::string shot = dir.file("dashboard.png");
  run(chromium_run("profile-shot") + "--screenshot=" + shot + " " + url + " >/dev/null 2>&1");
  std::string why;
  auto image = read_png(shot, &why);
  INFO(why);
  REQUIRE(image);
  CHECK(image->width == 1280);
  CHECK(image->height >= 800);
  CHECK(image->count(0x2e, 0x7d, 0x32, 2) > 500);  // accepted bars (#2e7d32)
  CHECK(image->count(0xc6, 0x28, 0x28, 2) > 100);  // rejected bars (#c62828)
  CHECK(image->count(0x00, 0x5e, 0xb8, 2) > 10000);  // the header band (#005eb8)
}
