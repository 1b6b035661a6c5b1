#pragma once
// Owning handles for the OpenSSL objects the auth code uses. Included by .cpp files only: the public
// headers of server/auth name no OpenSSL type except the forward-declared key.

#include <memory>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

namespace server::auth::openssl {

struct bn_free_fn { void operator()(BIGNUM* p) const { BN_free(p); } };
struct pkey_ctx_free_fn { void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); } };
struct md_ctx_free_fn { void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); } };
struct param_bld_free_fn { void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); } };
struct param_free_fn { void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); } };
struct ecdsa_sig_free_fn { void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); } };
struct openssl_free_fn { void operator()(unsigned char* p) const { OPENSSL_free(p); } };

using bignum = std::unique_ptr<BIGNUM, bn_free_fn>;
using pkey_ctx = std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free_fn>;
using md_ctx = std::unique_ptr<EVP_MD_CTX, md_ctx_free_fn>;
using param_builder = std::unique_ptr<OSSL_PARAM_BLD, param_bld_free_fn>;
using params = std::unique_ptr<OSSL_PARAM, param_free_fn>;
using ecdsa_signature = std::unique_ptr<ECDSA_SIG, ecdsa_sig_free_fn>;
using openssl_bytes = std::unique_ptr<unsigned char, openssl_free_fn>;

inline const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace server::auth::openssl
