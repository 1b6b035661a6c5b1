# All dependencies come from Debian 12 packages (scripts/install-deps.sh installs them).
find_package(Boost 1.81 REQUIRED COMPONENTS json url)
find_package(SQLite3 REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
# $import fetches its inputs over HTTPS (server/bulk/url_fetch.cpp).
find_package(CURL REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
if(FHIR_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
endif()

# Boost.Asio/Beast: no deprecated interfaces, and no separate compilation (server/ keeps them in few TUs).
add_library(fhir_boost_asio INTERFACE)
target_compile_definitions(fhir_boost_asio INTERFACE BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
target_link_libraries(fhir_boost_asio INTERFACE Boost::headers Threads::Threads)
