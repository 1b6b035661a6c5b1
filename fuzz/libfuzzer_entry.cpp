// libFuzzer's entry point for one target, chosen at compile time (FHIR_FUZZ_TARGET, see CMakeLists.txt).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fhir::fuzz::FHIR_FUZZ_TARGET(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
