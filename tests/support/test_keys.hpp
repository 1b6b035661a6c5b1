#pragma once
// Keys and certificates generated for a test run (never committed): RSA and P-256 private keys as PEM,
// and a self-signed certificate for 127.0.0.1, so auth and TLS tests use real cryptography.

#include <string>

namespace fhir::testing {

std::string generate_rsa_key_pem(int bits = 2048);
std::string generate_p256_key_pem();
// A self-signed certificate for CN=localhost with subjectAltName IP:127.0.0.1, valid for a day.
std::string self_signed_certificate_pem(const std::string& key_pem);

}  // namespace fhir::testing
