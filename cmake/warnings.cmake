# Every target of ours links fhir_project_options, which carries the warning and sanitizer flags, so the
# flags never leak into third-party code and one place decides them.
add_library(fhir_project_options INTERFACE)
# -Wmissing-field-initializers is off because g++ 12 applies it to C++20 designated initializers, which we
# use precisely so that omitted members take their declared defaults. -Wrestrict is off because g++ 12 at
# -O2/-O3 reports false positives inside std::string's operator+ (GCC bug 105329).
target_compile_options(fhir_project_options INTERFACE
  -Wall -Wextra -Werror -Wno-missing-field-initializers $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
target_include_directories(fhir_project_options INTERFACE ${PROJECT_SOURCE_DIR})

if(FHIR_SANITIZE)
  set(_sanitize -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  # Sanitizer instrumentation defeats g++ 12's flow analysis: -Wmaybe-uninitialized then reports false
  # positives inside the standard library (std::function in std::regex). The Release build keeps it.
  target_compile_options(fhir_project_options INTERFACE ${_sanitize} $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  target_link_options(fhir_project_options INTERFACE ${_sanitize})
endif()

# The fuzz preset: every target of ours carries libFuzzer's coverage instrumentation; the fuzz executables
# add the fuzzer itself (fuzz/CMakeLists.txt).
if(FHIR_BUILD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FHIR_BUILD_FUZZ needs clang (libFuzzer): use the fuzz preset")
  endif()
  target_compile_options(fhir_project_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
