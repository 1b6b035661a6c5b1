// jwt-bench: what verifying a bearer token costs (issue 7: under 50 us for ES256, and no allocation
// per request beyond a parsed claim set). For each algorithm: a fresh token every time (a full
// verification: parse, signature, claims) and the same token again (the cache of verified tokens), as
// the median of --rounds rounds of --tokens verifications, with heap allocations counted per call.
//
//   jwt-bench [--rounds R] [--tokens N]   (defaults: 7 rounds of 2000)

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fhir/json/parse.hpp"
#include "server/auth/jwt_verifier.hpp"
#include "server/auth/token_signer.hpp"

namespace {
std::atomic<std::size_t> allocations{0};
}

void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

namespace auth = server::auth;

std::string generate_pem(bool ec) {
  EVP_PKEY* key = ec ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256") : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

struct measurement {
  double micros_per_call;
  double allocations_per_call;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 7, tokens = 2000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--tokens" && i + 1 < argc) tokens = std::atoi(argv[++i]);
    else {
      std::cerr << "usage: jwt-bench [--rounds R] [--tokens N]\n";
      return 2;
    }
  }
  const std::int64_t now = 1'800'000'000;
  std::printf("%-7s %18s %14s %18s %14s\n", "alg", "fresh token us", "allocs/call", "cached token us", "allocs/call");
  for (auto alg : {auth::algorithm::es256, auth::algorithm::rs256, auth::algorithm::ps256}) {
    auto key = auth::parse_signing_key(generate_pem(alg == auth::algorithm::es256));
    if (!key) return 1;
    std::string jwks = auth::jwks_of(*key, "k", alg);
    if (alg == auth::algorithm::ps256) jwks = auth::jwks_of(*key, "k", auth::algorithm::ps256);
    auto keys = auth::key_set::parse(jwks);
    if (!keys) return 1;
    auto mint = [&](int n) {
      auto claims = fhir::json::parse(R"({"iss":"https://idp","aud":"https://shcr/fhir","sub":"555000000123","client_id":"ward-ehr",
        "scope":"user/*.rs user/Observation.c","org_ods":"RVV","nhs_role":{"person_roleid":"555000000123-01","role_code":"R8000",
        "activity_codes":["B0083"]},"purpose_of_use":["TREAT","ETREAT"],"jti":"t)" + std::to_string(n) + R"("})");
      return *auth::mint_token(*key, std::move(*claims), {.kid = "k", .alg = alg, .now_s = now});
    };
    std::vector<double> fresh_us, cached_us, fresh_allocs, cached_allocs;
    for (int r = 0; r < rounds; ++r) {
      std::vector<std::string> batch;
      for (int i = 0; i < tokens; ++i) batch.push_back(mint(r * tokens + i));
      auth::jwt_verifier verifier({.issuers = {"https://idp"}, .audience = "https://shcr/fhir", .cache_capacity = std::size_t(tokens) + 1},
                                  *keys);
      std::size_t before = allocations.load();
      auto start = std::chrono::steady_clock::now();
      for (const std::string& t : batch)
        if (!verifier.verify(t, now)) return 1;
      auto elapsed = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
      fresh_us.push_back(elapsed / tokens);
      fresh_allocs.push_back(double(allocations.load() - before) / tokens);
      before = allocations.load();
      start = std::chrono::steady_clock::now();
      for (const std::string& t : batch)
        if (!verifier.verify(t, now)) return 1;
      elapsed = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
      cached_us.push_back(elapsed / tokens);
      cached_allocs.push_back(double(allocations.load() - before) / tokens);
    }
    std::printf("%-7s %18.1f %14.1f %18.2f %14.2f\n", std::string(auth::to_string(alg)).c_str(), median(fresh_us), median(fresh_allocs),
                median(cached_us), median(cached_allocs));
  }
  return 0;
}
