// The definition sets the server validates with: R4 + our UK Core definitions, and packages.
#include <catch2/catch.hpp>

#include <fstream>

#include <fmt/format.h>
#include <zlib.h>

#include "fhir/definitions/package_reader.hpp"
#include "profiles/definition_set.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_data.hpp"

namespace {

constexpr std::string_view uk = "https://fhir.hl7.org.uk/StructureDefinition/";

// A minimal ustar archive of `files`, gzip-compressed: what `npm pack` produces.
void write_tgz(const std::filesystem::path& path, const std::vector<std::pair<std::string, std::string>>& files) {
  std::string tar;
  for (const auto& [name, content] : files) {
    std::string header(512, '\0');
    header.replace(0, name.size(), name);
    header.replace(100, 7, "0000644");
    header.replace(108, 7, "0000000");
    header.replace(116, 7, "0000000");
    std::string size = fmt::format("{:011o}", content.size());
    header.replace(124, size.size(), size);
    header.replace(136, 11, "00000000000");
    header[156] = '0';
    header.replace(257, 6, std::string("ustar\0", 6));
    header.replace(263, 2, "00");
    header.replace(148, 8, "        ");
    unsigned sum = 0;
    for (unsigned char c : header) sum += c;
    std::string checksum = fmt::format("{:06o}", sum);
    header.replace(148, 6, checksum);
    header[154] = '\0';
    tar += header;
    tar += content;
    tar.append((512 - content.size() % 512) % 512, '\0');
  }
  tar.append(1024, '\0');
  gzFile out = gzopen(path.c_str(), "wb");
  REQUIRE(out);
  REQUIRE(gzwrite(out, tar.data(), static_cast<unsigned>(tar.size())) == static_cast<int>(tar.size()));
  gzclose(out);
}

const char* small_profile = R"({"resourceType":"StructureDefinition","url":"http://example.org/fhir/StructureDefinition/P",
  "name":"P","status":"active","kind":"resource","abstract":false,"type":"Patient",
  "baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient","derivation":"constraint",
  "differential":{"element":[{"id":"Patient.birthDate","path":"Patient.birthDate","min":1}]}})";

}  // namespace

TEST_CASE("R4 with our UK Core definitions loads, with a snapshot for every profile", "[profiles]") {
  const auto& defs = fhir::profiles::r4_uk_core();
  for (std::string_view name : {"UKCore-Patient", "UKCore-MedicationStatement", "UKCore-AllergyIntolerance",
                                "UKCore-Observation", "UKCore-Consent", "Extension-UKCore-BirthSex"}) {
    INFO(name);
    const auto* sd = defs.find_structure(std::string(uk) + std::string(name));
    REQUIRE(sd);
    CHECK(sd->elements.size() >= 5);
  }
  const auto* patient = defs.find_structure(std::string(uk) + "UKCore-Patient");
  const auto* nhs_system = patient->find_by_id("Patient.identifier:nhsNumber.system");
  REQUIRE(nhs_system);
  CHECK(nhs_system->fixed.as_string() == "https://fhir.nhs.uk/Id/nhs-number");
  CHECK(defs.find_value_set("https://fhir.hl7.org.uk/ValueSet/UKCore-BirthSex"));
  CHECK(defs.find_code_system("https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"));
}

TEST_CASE("the official UK Core definitions load as a package directory, snapshots generated", "[profiles][ukcore]") {
  auto dir = fhir::testing::shared_data("ukcore");
  if (!dir) return;
  auto resources = fhir::definitions::read_package(*dir);
  REQUIRE(resources.ok());
  std::size_t structures = 0;
  for (const auto& r : *resources) structures += *r.resource.find_string("resourceType") == "StructureDefinition";
  CHECK(structures == 153);  // examples/ is skipped: only definitions
  auto defs = fhir::profiles::load_definitions({.uk_core = false, .packages = {*dir}});
  REQUIRE(defs.ok());
  for (const auto& r : *resources) {
    if (*r.resource.find_string("resourceType") != "StructureDefinition") continue;
    INFO(r.file);
    const auto* sd = (*defs)->find_structure(*r.resource.find_string("url"));
    REQUIRE(sd);
    CHECK(sd->elements.size() > 1);
  }
}

TEST_CASE("a package tarball contributes its definitions, not its examples", "[profiles]") {
  fhir::testing::temp_dir dir;
  auto tgz = dir.path() / "example.fhir.package-1.0.0.tgz";
  write_tgz(tgz, {{"package/package.json", R"({"name":"example.fhir.package","version":"1.0.0"})"},
                  {"package/StructureDefinition-P.json", small_profile},
                  {"package/example/Patient-x.json", R"({"resourceType":"Patient","id":"x"})"},
                  {"package/other/StructureDefinition-ignored.json", "not even JSON"}});
  auto resources = fhir::definitions::read_package(tgz);
  REQUIRE(resources.ok());
  REQUIRE(resources->size() == 1);
  CHECK((*resources)[0].file == "package/StructureDefinition-P.json");

  auto defs = fhir::profiles::load_definitions({.uk_core = true, .packages = {tgz}});
  REQUIRE(defs.ok());
  const auto* p = (*defs)->find_structure("http://example.org/fhir/StructureDefinition/P");
  REQUIRE(p);
  CHECK(p->find_by_id("Patient.birthDate")->min == 1);
}

TEST_CASE("a broken package fails with the file named", "[profiles]") {
  fhir::testing::temp_dir dir;
  {
    std::ofstream(dir.path() / "bad.json") << R"({"resourceType":"StructureDefinition", "url": )";
  }
  auto broken = fhir::profiles::load_definitions({.uk_core = false, .packages = {dir.path()}});
  REQUIRE_FALSE(broken.ok());
  CHECK_THAT(broken.error().summary(), Catch::Contains("bad.json"));

  auto missing = fhir::profiles::load_definitions({.uk_core = false, .packages = {dir.path() / "nope.tgz"}});
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().summary(), Catch::Contains("nope.tgz"));

  auto truncated = dir.path() / "truncated.tgz";
  write_tgz(truncated, {{"package/StructureDefinition-P.json", small_profile}});
  std::filesystem::resize_file(truncated, std::filesystem::file_size(truncated) / 2);
  auto corrupt = fhir::definitions::read_package(truncated);
  REQUIRE_FALSE(corrupt.ok());
  CHECK_THAT(corrupt.error().summary(), Catch::Contains("truncated.tgz"));
}
