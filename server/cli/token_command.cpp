#include "server/cli/token_command.hpp"

#include "fhir/file.hpp"
#include "fhir/json/parse.hpp"
#include "fhir/time.hpp"
#include "server/auth/token_signer.hpp"

namespace server::cli {
namespace {

// The key and algorithm of --key and --alg; nullopt after printing why not.
std::optional<std::pair<auth::signing_key, auth::algorithm>> signing_setup(const token_options& options, std::ostream& err) {
  auto key = auth::load_signing_key(options.key);
  if (!key) {
    err << "fhir-server: " << key.error().summary() << "\n";
    return std::nullopt;
  }
  auth::algorithm alg = options.alg.empty() ? auth::default_algorithm(*key) : *auth::parse_algorithm(options.alg);
  if (!auth::algorithm_uses(alg, key->type)) {
    err << "fhir-server: --alg " << options.alg << " does not fit the key's type\n";
    return std::nullopt;
  }
  return std::make_pair(std::move(*key), alg);
}

}  // namespace

int run_token(const token_options& options, std::ostream& out, std::ostream& err) {
  auto setup = signing_setup(options, err);
  if (!setup) return 2;
  auto text = fhir::read_file(options.claims);
  if (!text) {
    err << "fhir-server: cannot read the claims file '" << options.claims << "'\n";
    return 2;
  }
  auto claims = fhir::json::parse(*text);
  if (!claims) {
    err << "fhir-server: " << options.claims << ": " << claims.error().summary() << "\n";
    return 2;
  }
  auto token = auth::mint_token(setup->first, std::move(*claims),
                                {.kid = options.kid, .alg = setup->second, .now_s = fhir::now_ms() / 1000, .lifetime_s = options.lifetime_s});
  if (!token) {
    err << "fhir-server: " << token.error().summary() << "\n";
    return 2;
  }
  out << *token << "\n";
  return 0;
}

int run_jwks(const token_options& options, std::ostream& out, std::ostream& err) {
  auto setup = signing_setup(options, err);
  if (!setup) return 2;
  out << auth::jwks_of(setup->first, options.kid, setup->second) << "\n";
  return 0;
}

}  // namespace server::cli
