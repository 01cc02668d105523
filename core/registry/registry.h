#pragma once
// The registry: things, certificates, policies, templates, claims, CAs,
// service identities, ownership tokens and the audit log, in one SQLite file.
//
// A Registry is one connection: one thread at a time uses it. The worker opens it
// read-write (and migrates it); the broker plugin opens it read-only. Methods
// that change several rows are meant to be called inside a Transaction
// (see begin()) so that a request is all or nothing.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "registry/database.h"
#include "registry/models.h"

namespace provision::registry {

class Registry {
 public:
  // Opens the registry file read-write, creating and migrating it as needed.
  static Registry open(const std::filesystem::path& path);
  // Opens an existing registry read-only (the plugin). busy_timeout_ms bounds
  // how long a read may wait on a lock.
  static Registry open_read_only(const std::filesystem::path& path, int busy_timeout_ms = 100);

  Transaction begin() { return Transaction(*db_); }
  Database& database() { return *db_; }
  // Changes whenever another connection commits (PRAGMA data_version).
  int64_t data_version() { return db_->data_version(); }

  // --- certificates (certificates.cpp)
  void insert_certificate(const CertificateRecord& record);
  std::optional<CertificateRecord> find_certificate(const std::string& id);
  // Returns false when there is no such certificate.
  bool set_certificate_status(const std::string& id, const std::string& status);
  // Registration: the certificate gets its thing and status in one update.
  bool activate_certificate(const std::string& id, const std::string& thing_name, const std::string& status);
  // Detaches a certificate from its thing; false when it was not attached to it.
  bool detach_certificate(const std::string& id, const std::string& thing_name);
  // Its ownership token was used (CertificateRecord::token_*).
  bool mark_certificate_token_used(const std::string& id, int64_t at);
  std::vector<CertificateRecord> certificates_of_thing(const std::string& thing_name);
  // By id; optionally only those of a thing and/or with a status.
  std::vector<CertificateRecord> list_certificates(const Page& page, const std::optional<std::string>& thing,
                                                   const std::optional<std::string>& status);
  void detach_policies(const std::string& certificate_id);
  int64_t count_policy_attachments(const std::string& policy_name);
  void attach_policy(const std::string& certificate_id, const std::string& policy_name);
  std::vector<std::string> policies_of_certificate(const std::string& certificate_id);
  // Deletes PENDING_ACTIVATION certificates created before `cutoff`; returns their ids.
  std::vector<std::string> delete_pending_certificates_before(int64_t cutoff);
  bool delete_certificate(const std::string& id);
  bool set_certificate_retire_at(const std::string& id, int64_t at);
  // ACTIVE certificates whose retire_at has passed.
  std::vector<std::string> certificates_due_for_retirement(int64_t now);

  // --- things (things.cpp)
  std::optional<ThingRecord> find_thing(const std::string& name);
  void insert_thing(const ThingRecord& record);
  void update_thing(const ThingRecord& record);  // bumps version
  bool delete_thing(const std::string& name);
  int64_t count_things();
  std::vector<ThingRecord> list_things(const Page& page, const std::string& prefix = "");
  std::vector<std::string> groups_of_thing(const std::string& name);
  void set_thing_groups(const std::string& name, const std::vector<std::string>& groups);

  // --- policies (policies.cpp)
  std::optional<PolicyRecord> find_policy(const std::string& name);
  // Inserts or replaces the document.
  void put_policy(const std::string& name, const std::string& document);
  bool delete_policy(const std::string& name);
  std::vector<PolicyRecord> list_policies(const Page& page);

  // --- templates (templates.cpp)
  std::optional<TemplateRecord> find_template(const std::string& name);
  // Adds `body` as a new version (creating the template if needed) and makes
  // it the default; returns the version number.
  int64_t add_template_version(const std::string& name, const std::string& body, const std::string& description = "");
  std::optional<TemplateVersionRecord> find_template_version(const std::string& name, int64_t version);
  // The default version of an existing template.
  std::optional<TemplateVersionRecord> default_template_version(const std::string& name);
  bool set_template_enabled(const std::string& name, bool enabled);
  bool update_template(const TemplateRecord& record);  // description, enabled, default_version
  std::vector<TemplateRecord> list_templates();
  std::vector<TemplateRecord> list_templates(const Page& page, std::optional<bool> enabled);
  std::vector<TemplateVersionRecord> template_versions(const std::string& name);  // without bodies
  bool delete_template(const std::string& name);
  bool delete_template_version(const std::string& name, int64_t version);

  // --- claims, CAs and service identities (claims.cpp)
  void put_claim_certificate(const ClaimCertificateRecord& record);
  std::optional<ClaimCertificateRecord> find_claim_certificate(const std::string& id);
  bool set_claim_status(const std::string& id, const std::string& status);
  bool delete_claim_certificate(const std::string& id);
  std::vector<ClaimCertificateRecord> list_claim_certificates(const Page& page, const std::optional<std::string>& status);
  bool delete_ca(const std::string& id);
  std::vector<CaRecord> list_cas(const Page& page, const std::optional<std::string>& role);
  // Claims, CAs and enrollments that name `template_name`.
  int64_t count_template_users(const std::string& template_name);
  void put_ca(const CaRecord& record);
  std::optional<CaRecord> find_ca(const std::string& id);
  std::optional<CaRecord> find_ca_by_role(const std::string& role);
  std::vector<CaRecord> list_cas();
  void put_service_identity(const ServiceIdentityRecord& record);
  std::optional<ServiceIdentityRecord> find_service_identity(const std::string& certificate_id);

  // --- enrollments and brokers (enrollments.cpp)
  std::optional<EnrollmentRecord> find_enrollment(const std::string& registration_id);
  // Inserts a new enrollment; an existing one is left exactly as it is
  // (publishing the same enrollment twice is harmless and never re-enables
  // or resets it). Returns true when it was new.
  bool upsert_enrollment(const EnrollmentRecord& record);
  void update_enrollment(const EnrollmentRecord& record);  // everything
  bool delete_enrollment(const std::string& registration_id);
  std::vector<EnrollmentRecord> list_enrollments(const Page& page, const std::optional<std::string>& status);
  std::optional<BrokerRecord> find_broker(const std::string& name);
  void put_broker(const BrokerRecord& record);
  bool delete_broker(const std::string& name);
  // Enrollments pinned to the broker, and templates whose static assignment names it.
  int64_t count_broker_users(const std::string& name);
  std::vector<BrokerRecord> list_brokers();

  // --- admin API tokens (api_tokens.cpp)
  void insert_api_token(const ApiTokenRecord& record);
  std::optional<ApiTokenRecord> find_api_token_by_hash(const std::string& token_hash);
  std::optional<ApiTokenRecord> find_api_token(const std::string& name);
  std::vector<ApiTokenRecord> list_api_tokens(const Page& page);
  bool delete_api_token(const std::string& name);
  void touch_api_token(const std::string& name, int64_t at);

  // --- ownership tokens issued before registry schema 5 (tokens.cpp); newer
  // tokens are kept in their certificate's row (CertificateRecord::token_*).
  std::optional<OwnershipTokenRecord> find_token(const std::string& token_hash);
  void mark_token_used(const std::string& token_hash, int64_t at);
  // Deletes tokens that expired before `now`; returns how many.
  int64_t delete_expired_tokens(int64_t now);

  // --- change log (changes.cpp)
  std::vector<Change> changes_after(int64_t id, int limit = 10000);
  int64_t latest_change_id();
  int64_t delete_changes_before(int64_t at);

  // --- audit log (audit.cpp)
  void audit(const AuditEntry& entry);
  std::vector<AuditEntry> audit_entries(const AuditFilter& filter);

 private:
  explicit Registry(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  std::unique_ptr<Database> db_;
};

}  // namespace provision::registry
