#include "store/sqlite/audit_chain.hpp"

#include <array>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <sqlite3.h>

namespace store::sqlite {
namespace {

using digest = std::array<unsigned char, 32>;

digest link_hash(const digest& previous, std::int64_t seq, std::string_view body) {
  unsigned char seq_bytes[8];
  for (int i = 0; i < 8; ++i) seq_bytes[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(seq) >> (56 - 8 * i));
  digest out{};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  unsigned int length = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), previous.data(), previous.size()) != 1 || EVP_DigestUpdate(ctx.get(), seq_bytes, 8) != 1 ||
      EVP_DigestUpdate(ctx.get(), body.data(), body.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), out.data(), &length) != 1)
    throw sqlite_error(SQLITE_ERROR, "SHA-256 failed while chaining the audit trail");
  return out;
}

std::string hex(const digest& d) {
  std::string out;
  for (unsigned char c : d) out += fmt::format("{:02x}", c);
  return out;
}

}  // namespace

void append_audit_link(database& db, std::int64_t vid, std::string_view body) {
  digest previous{};
  std::int64_t seq = 1;
  auto last = db.cached("SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1");
  if (last->step()) {
    seq = last->column_int64(0) + 1;
    std::string_view stored = last->column_blob(1);
    if (stored.size() == previous.size()) std::memcpy(previous.data(), stored.data(), previous.size());
  }
  last->reset();
  digest hash = link_hash(previous, seq, body);
  auto insert = db.cached("INSERT INTO audit_chain(seq, vid, hash) VALUES (?1, ?2, ?3)");
  insert->bind(1, seq).bind(2, vid).bind_blob(3, std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size())).run();
}

audit_check verify_audit_chain(database& db, std::int64_t audit_type_id) {
  audit_check check;
  digest previous{};
  auto fail = [&](std::int64_t seq, std::string problem) {
    check.intact = false;
    check.first_broken = seq;
    check.problem = std::move(problem);
    return check;
  };
  auto links = db.cached(
      "SELECT c.seq, c.hash, v.body, v.type_id, r.id FROM audit_chain c "
      "LEFT JOIN resource_version v ON v.vid = c.vid LEFT JOIN resource r ON r.pk = v.pk ORDER BY c.seq");
  std::int64_t expected_seq = 1;
  while (links->step()) {
    std::int64_t seq = links->column_int64(0);
    std::string_view stored = links->column_blob(1);
    std::string id(links->column_text(4));
    if (seq != expected_seq)
      return fail(expected_seq, fmt::format("audit record {} is missing (the next record is {})", expected_seq, seq));
    if (links->column_is_null(2) || links->column_int64(3) != audit_type_id)
      return fail(seq, fmt::format("audit record {}: its AuditEvent version is missing", seq));
    digest hash = link_hash(previous, seq, links->column_text(2));
    if (stored.size() != hash.size() || std::memcmp(stored.data(), hash.data(), hash.size()) != 0)
      return fail(seq, fmt::format("audit record {} (AuditEvent/{}): the hash does not match: the record or one before it "
                                   "was altered",
                                   seq, id));
    previous = hash;
    check.records = seq;
    ++expected_seq;
  }
  links->reset();
  auto versions = db.cached("SELECT count(*) FROM resource_version WHERE type_id = ?1");
  versions->bind(1, audit_type_id);
  versions->step();
  std::int64_t audit_versions = versions->column_int64(0);
  versions->reset();
  if (audit_versions != check.records)
    return fail(check.records + 1, fmt::format("{} AuditEvent versions are stored but the chain has {} records: some were "
                                               "written around the audit trail",
                                               audit_versions, check.records));
  check.head = hex(previous);
  return check;
}

}  // namespace store::sqlite
