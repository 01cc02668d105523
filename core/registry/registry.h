#pragma once
// The registry: things, certificates, policies, templates, claims, CAs,
// service identities, ownership tokens and the audit log, in one SQLite file.
//
// A Registry is one connection: one thread at a time uses it. The worker opens it
// read-write (and migrates it); the broker plugin opens it read-only. Methods
// that change several rows are meant to be called inside a Transaction
// (see begin()) so that a request is all or nothing.
//
// This is the whole interface: nothing outside core/registry sees the
// database behind it (its SQL, its handle, its settings).
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "registry/error.h"
#include "registry/models.h"
#include "registry/transaction.h"

namespace provision::registry {

class Database;

// Whether a registry location is a PostgreSQL URI (postgresql:// or
// postgres://) rather than a SQLite file.
bool is_database_uri(std::string_view location);
// A location as it may be shown in logs and messages (a URI without its password).
std::string display_location(const std::string& location);

// How a read-write connection is used.
struct OpenOptions {
  int busy_timeout_ms = 5000;  // how long a call waits for another writer before RegistryError (busy)
  // The connection that answers requests: the database's automatic
  // checkpoints are left to whoever calls checkpoint(), so that no request
  // waits on one; after each commit *wal_frames holds the frames in the
  // write-ahead log. nullptr: automatic checkpoints.
  std::atomic<int>* wal_frames = nullptr;
  // The page cache, in KiB (0: a small default; connections drop theirs
  // whenever another one commits).
  int page_cache_kib = 0;
  // A bulk load that can be started over (the benchmark's pre-fill): no
  // fsync at commit, and a large page cache.
  bool bulk_load = false;
};

// A device as provisioning leaves it, for bulk loads: its thing, one
// certificate attached to it, the certificate's policies.
struct RegisteredDevice {
  ThingRecord thing;
  CertificateRecord certificate;
  std::vector<std::string> policies;
};

class Registry {
 public:
  // Opens the registry read-write, creating and migrating it as needed. Its
  // location is a SQLite file or a PostgreSQL URI (postgresql://...).
  static Registry open(const std::string& location, const OpenOptions& options = {});
  static Registry open(const std::filesystem::path& path, const OpenOptions& options = {}) {
    return open(path.string(), options);
  }
  // Opens an existing registry read-only (the plugin). busy_timeout_ms bounds
  // how long a read may wait on a lock.
  static Registry open_read_only(const std::string& location, int busy_timeout_ms = 100);
  static Registry open_read_only(const std::filesystem::path& path, int busy_timeout_ms = 100) {
    return open_read_only(path.string(), busy_timeout_ms);
  }
  // Whether it is on PostgreSQL (several brokers and workers may share it).
  bool shared() const;
  Registry(Registry&&) noexcept;
  Registry& operator=(Registry&&) noexcept;
  ~Registry();

  Transaction begin() { return Transaction(*this); }
  ReadTransaction read() { return ReadTransaction(*this); }
  // Changes whenever another connection commits.
  int64_t data_version();
  int schema_version();
  // A read of one row: throws RegistryError when the registry cannot be read (health checks).
  void check();
  // Copies what the write-ahead log holds back into the database, when
  // nobody needs it any more (passive), or (restart) waiting up to the busy
  // timeout for the transactions in flight so that the log starts over.
  // Returns the frames the log still holds. For connections opened with
  // OpenOptions::wal_frames.
  int checkpoint(bool restart = false);
  // Writes devices in one transaction, faster than registering each: for
  // loading a large fleet (the benchmark). No change-log rows are kept for
  // them (they concern no connected client). Throws on any conflict.
  void import_registered_devices(const std::vector<RegisteredDevice>& devices);

  // --- certificates (certificates.cpp)
  void insert_certificate(const CertificateRecord& record);
  std::optional<CertificateRecord> find_certificate(const std::string& id);
  // Returns false when there is no such certificate.
  bool set_certificate_status(const std::string& id, const std::string& status);
  // Registration: the certificate gets its thing and status in one update.
  bool activate_certificate(const std::string& id, const std::string& thing_name, const std::string& status);
  // Detaches a certificate from its thing; false when it was not attached to it.
  bool detach_certificate(const std::string& id, const std::string& thing_name);
  // Its ownership token was used (CertificateRecord::token_*). False when it
  // was used already: of two writers racing on one token, one gets false
  // (the database serialises the two updates).
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

  // How many certificates there are of each status (the console's overview).
  std::map<std::string, int64_t> count_certificates_by_status();

  // --- things (things.cpp)
  std::optional<ThingRecord> find_thing(const std::string& name);
  void insert_thing(const ThingRecord& record);
  // Inside a write transaction: until it ends, no other transaction on a
  // shared registry can take the same lock, so registrations of one thing
  // name by several workers are one at a time (PostgreSQL: an advisory lock
  // held to commit or rollback). SQLite's writers are one at a time already:
  // nothing to do there.
  void lock_thing(const std::string& name);
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
  // Claims, CAs and enrollments that name `template_name`.
  int64_t count_template_users(const std::string& template_name);
  // Enrollments that name `template_name`.
  int64_t count_template_enrollments(const std::string& template_name);

  // --- claim certificates (claims.cpp)
  void put_claim_certificate(const ClaimCertificateRecord& record);
  std::optional<ClaimCertificateRecord> find_claim_certificate(const std::string& id);
  bool set_claim_status(const std::string& id, const std::string& status);
  bool delete_claim_certificate(const std::string& id);
  std::vector<ClaimCertificateRecord> list_claim_certificates(const Page& page, const std::optional<std::string>& status);

  // --- CAs (cas.cpp)
  void put_ca(const CaRecord& record);
  std::optional<CaRecord> find_ca(const std::string& id);
  std::optional<CaRecord> find_ca_by_role(const std::string& role);
  std::vector<CaRecord> list_cas();
  std::vector<CaRecord> list_cas(const Page& page, const std::optional<std::string>& role);
  bool delete_ca(const std::string& id);

  // --- service identities (service_identities.cpp)
  void put_service_identity(const ServiceIdentityRecord& record);
  std::optional<ServiceIdentityRecord> find_service_identity(const std::string& certificate_id);
  std::vector<ServiceIdentityRecord> list_service_identities(const Page& page);  // by certificate id
  bool delete_service_identity(const std::string& certificate_id);

  // --- enrollments (enrollments.cpp)
  std::optional<EnrollmentRecord> find_enrollment(const std::string& registration_id);
  // Inserts a new enrollment; an existing one is left exactly as it is
  // (publishing the same enrollment twice is harmless and never re-enables
  // or resets it). Returns true when it was new.
  bool upsert_enrollment(const EnrollmentRecord& record);
  void update_enrollment(const EnrollmentRecord& record);  // everything
  // Registration through an individual enrollment: used by `thing_name` at
  // `at`, if it is still unused (or its policy is replace). False otherwise:
  // of two writers racing on one enrollment, one gets false.
  bool use_enrollment(const std::string& registration_id, const std::string& thing_name, int64_t at);
  bool delete_enrollment(const std::string& registration_id);
  std::vector<EnrollmentRecord> list_enrollments(const Page& page, const std::optional<std::string>& status);
  std::map<std::string, int64_t> count_enrollments_by_status();

  // --- brokers (brokers.cpp)
  std::optional<BrokerRecord> find_broker(const std::string& name);
  void put_broker(const BrokerRecord& record);
  bool delete_broker(const std::string& name);
  // Enrollments pinned to the broker, and templates whose static assignment names it.
  int64_t count_broker_users(const std::string& name);
  std::vector<BrokerRecord> list_brokers();

  // --- password devices' credentials (device_credentials.cpp)
  std::optional<DeviceCredentialRecord> find_device_credential(const std::string& thing_name);
  std::optional<DeviceCredentialRecord> find_device_credential_by_uuid(const std::string& device_uuid);
  void insert_device_credential(const DeviceCredentialRecord& record);
  // A new secret (rotation): first_connected_at is cleared. False when there is none.
  bool set_device_secret(const std::string& thing_name, const std::string& secret_hash, int64_t issued_at);
  bool set_device_credential_status(const std::string& thing_name, const std::string& status);
  bool set_device_policies(const std::string& thing_name, const std::vector<std::string>& policies);
  // The first connect with the secret whose hash is `secret_hash`: false when
  // it was recorded already (or the secret changed meanwhile).
  bool mark_device_connected(const std::string& thing_name, const std::string& secret_hash, int64_t at);
  void touch_device_credential(const std::string& thing_name, int64_t at);
  bool delete_device_credential(const std::string& thing_name);

  // --- the firmware catalog (firmware.cpp)
  // Returns the new release's id.
  int64_t insert_firmware_release(const FirmwareReleaseRecord& record);
  std::optional<FirmwareReleaseRecord> find_firmware_release(int64_t id);
  bool update_firmware_release(const FirmwareReleaseRecord& record);  // everything but id and created_at
  bool delete_firmware_release(int64_t id);
  // By id.
  std::vector<FirmwareReleaseRecord> list_firmware_releases(const FirmwareFilter& filter);

  // --- the bootstrap listener's access log (bootstrap_log.cpp)
  void log_bootstrap_access(const BootstrapAccessRecord& record);
  // Newest first.
  std::vector<BootstrapAccessRecord> bootstrap_access(const BootstrapAccessFilter& filter);
  int64_t delete_bootstrap_access_before(int64_t at_ms);
  // A signed bootstrap request's signature, kept until `expires_at` (Unix
  // seconds): false when it was kept already (the request is a replay).
  bool remember_bootstrap_signature(const std::string& signature, int64_t expires_at);
  int64_t delete_bootstrap_signatures_before(int64_t at);

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
  // False when it was already used (or there is none).
  bool mark_token_used(const std::string& token_hash, int64_t at);
  // Deletes tokens that expired before `now`; returns how many.
  int64_t delete_expired_tokens(int64_t now);

  // --- tasks that run once across the workers of a shared registry (changes.cpp)
  // True for the one caller that moves `task`'s last run to `now`, when it
  // was at least `interval_seconds` ago (inside the caller's transaction:
  // two workers never both get true for the same interval).
  bool claim_task(const std::string& task, int64_t now, int64_t interval_seconds);

  // --- change log (changes.cpp)
  std::vector<Change> changes_after(int64_t id, int limit = 10000);
  int64_t latest_change_id();
  int64_t delete_changes_before(int64_t at);

  // --- audit log (audit.cpp)
  void audit(const AuditEntry& entry);
  std::vector<AuditEntry> audit_entries(const AuditFilter& filter);

 private:
  friend class Transaction;
  friend class ReadTransaction;
  friend Database& database_of(Registry& registry);
  explicit Registry(std::unique_ptr<Database> db);
  Database& database() { return *db_; }
  std::unique_ptr<Database> db_;
};

}  // namespace provision::registry
