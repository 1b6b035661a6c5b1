# Every target of ours links fhir_project_options, which carries the warning and sanitizer flags, so the
# flags never leak into third-party code and one place decides them.
add_library(fhir_project_options INTERFACE)
target_compile_options(fhir_project_options INTERFACE -Wall -Wextra -Werror)
target_include_directories(fhir_project_options INTERFACE ${PROJECT_SOURCE_DIR})

if(FHIR_SANITIZE)
  set(_sanitize -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_compile_options(fhir_project_options INTERFACE ${_sanitize})
  target_link_options(fhir_project_options INTERFACE ${_sanitize})
endif()
