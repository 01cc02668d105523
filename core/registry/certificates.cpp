#include "registry/database.h"
#include "registry/registry.h"
#include "util/clock.h"

namespace provision::registry {
namespace {

constexpr const char* kCertificateColumns =
    "id, pem, status, thing_name, ca_id, serial, not_before, not_after, claim_certificate_id, created_at, updated_at, "
    "replaces, retire_at, token_hash, token_expires_at, token_used_at";

CertificateRecord read_certificate(const Statement& s) {
  CertificateRecord r;
  r.id = s.text(0);
  r.pem = s.text(1);
  r.status = s.text(2);
  r.thing_name = s.optional_text(3);
  r.ca_id = s.optional_text(4);
  r.serial = s.text(5);
  r.not_before = s.int64(6);
  r.not_after = s.int64(7);
  r.claim_certificate_id = s.optional_text(8);
  r.created_at = s.int64(9);
  r.updated_at = s.int64(10);
  r.replaces = s.optional_text(11);
  r.retire_at = s.optional_int64(12);
  r.token_hash = s.optional_text(13);
  r.token_expires_at = s.optional_int64(14);
  r.token_used_at = s.optional_int64(15);
  return r;
}

}  // namespace

void Registry::insert_certificate(const CertificateRecord& r) {
  int64_t now = unix_now();
  db_->prepare(
         "INSERT INTO certificates (id, pem, status, thing_name, ca_id, serial, not_before, not_after, "
         "claim_certificate_id, created_at, updated_at, replaces, retire_at, token_hash, token_expires_at, token_used_at) "
         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
      .bind(1, r.id)
      .bind(2, r.pem)
      .bind(3, r.status)
      .bind(4, r.thing_name)
      .bind(5, r.ca_id)
      .bind(6, r.serial)
      .bind(7, r.not_before)
      .bind(8, r.not_after)
      .bind(9, r.claim_certificate_id)
      .bind(10, r.created_at ? r.created_at : now)
      .bind(11, now)
      .bind(12, r.replaces)
      .bind(13, r.retire_at)
      .bind(14, r.token_hash)
      .bind(15, r.token_expires_at)
      .bind(16, r.token_used_at)
      .run();
}

std::optional<CertificateRecord> Registry::find_certificate(const std::string& id) {
  auto s = db_->prepare(std::string("SELECT ") + kCertificateColumns + " FROM certificates WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_certificate(s);
}

bool Registry::set_certificate_status(const std::string& id, const std::string& status) {
  db_->prepare("UPDATE certificates SET status = ?, updated_at = ? WHERE id = ?")
      .bind(1, status)
      .bind(2, unix_now())
      .bind(3, id)
      .run();
  return db_->changes() > 0;
}

bool Registry::activate_certificate(const std::string& id, const std::string& thing_name, const std::string& status) {
  // One statement: the change log gets one row for the certificate.
  db_->prepare("UPDATE certificates SET thing_name = ?, status = ?, updated_at = ? WHERE id = ?")
      .bind(1, thing_name)
      .bind(2, status)
      .bind(3, unix_now())
      .bind(4, id)
      .run();
  return db_->changes() > 0;
}

bool Registry::detach_certificate(const std::string& id, const std::string& thing_name) {
  db_->prepare("UPDATE certificates SET thing_name = NULL, updated_at = ? WHERE id = ? AND thing_name = ?")
      .bind(1, unix_now())
      .bind(2, id)
      .bind(3, thing_name)
      .run();
  return db_->changes() > 0;
}

bool Registry::mark_certificate_token_used(const std::string& id, int64_t at) {
  db_->prepare("UPDATE certificates SET token_used_at = ? WHERE id = ? AND token_used_at IS NULL").bind(1, at).bind(2, id).run();
  return db_->changes() > 0;
}

std::vector<CertificateRecord> Registry::certificates_of_thing(const std::string& thing_name) {
  auto s = db_->prepare(std::string("SELECT ") + kCertificateColumns +
                        " FROM certificates WHERE thing_name = ? ORDER BY created_at, id");
  s.bind(1, thing_name);
  std::vector<CertificateRecord> out;
  while (s.step()) out.push_back(read_certificate(s));
  return out;
}

void Registry::attach_policy(const std::string& certificate_id, const std::string& policy_name) {
  db_->prepare("INSERT INTO certificate_policies (certificate_id, policy_name) VALUES (?, ?) ON CONFLICT DO NOTHING")
      .bind(1, certificate_id)
      .bind(2, policy_name)
      .run();
}

std::vector<std::string> Registry::policies_of_certificate(const std::string& certificate_id) {
  auto s = db_->prepare("SELECT policy_name FROM certificate_policies WHERE certificate_id = ? ORDER BY policy_name");
  s.bind(1, certificate_id);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<std::string> Registry::delete_pending_certificates_before(int64_t cutoff) {
  std::vector<std::string> ids;
  {
    auto s = db_->prepare("SELECT id FROM certificates WHERE status = 'PENDING_ACTIVATION' AND created_at < ?");
    s.bind(1, cutoff);
    while (s.step()) ids.push_back(s.text(0));
  }
  for (const auto& id : ids) db_->prepare("DELETE FROM certificates WHERE id = ?").bind(1, id).run();
  return ids;
}

std::vector<CertificateRecord> Registry::list_certificates(const Page& page, const std::optional<std::string>& thing,
                                                           const std::optional<std::string>& status) {
  auto s = db_->prepare(std::string("SELECT ") + kCertificateColumns +
                        " FROM certificates WHERE id > ?1 AND (CAST(?2 AS TEXT) IS NULL OR thing_name = ?2) AND (CAST(?3 AS TEXT) IS NULL OR status = ?3) "
                        "ORDER BY id LIMIT ?4");
  s.bind(1, page.after).bind(2, thing).bind(3, status).bind(4, page.limit);
  std::vector<CertificateRecord> out;
  while (s.step()) out.push_back(read_certificate(s));
  return out;
}

void Registry::detach_policies(const std::string& certificate_id) {
  db_->prepare("DELETE FROM certificate_policies WHERE certificate_id = ?").bind(1, certificate_id).run();
}

int64_t Registry::count_policy_attachments(const std::string& policy_name) {
  auto s = db_->prepare("SELECT count(*) FROM certificate_policies WHERE policy_name = ?");
  s.bind(1, policy_name);
  return s.step() ? s.int64(0) : 0;
}

bool Registry::delete_certificate(const std::string& id) {
  db_->prepare("DELETE FROM certificates WHERE id = ?").bind(1, id).run();
  return db_->changes() > 0;
}

bool Registry::set_certificate_retire_at(const std::string& id, int64_t at) {
  db_->prepare("UPDATE certificates SET retire_at = ?, updated_at = ? WHERE id = ?").bind(1, at).bind(2, unix_now()).bind(3, id).run();
  return db_->changes() > 0;
}

std::vector<std::string> Registry::certificates_due_for_retirement(int64_t now) {
  auto s = db_->prepare("SELECT id FROM certificates WHERE status = 'ACTIVE' AND retire_at IS NOT NULL AND retire_at <= ?");
  s.bind(1, now);
  std::vector<std::string> ids;
  while (s.step()) ids.push_back(s.text(0));
  return ids;
}

std::map<std::string, int64_t> Registry::count_certificates_by_status() {
  std::map<std::string, int64_t> counts;
  auto s = db_->prepare("SELECT status, count(*) FROM certificates GROUP BY status");
  while (s.step()) counts[s.text(0)] = s.int64(1);
  return counts;
}

}  // namespace provision::registry
