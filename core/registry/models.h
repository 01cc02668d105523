#pragma once
// The records the registry holds. Times are Unix seconds.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace provision::registry {

// Certificate statuses, with AWS IoT's names.
inline constexpr const char* kPendingActivation = "PENDING_ACTIVATION";
inline constexpr const char* kActive = "ACTIVE";
inline constexpr const char* kInactive = "INACTIVE";
inline constexpr const char* kRevoked = "REVOKED";

// Re-provisioning policies (templates and enrollments).
inline constexpr const char* kReprovisionNever = "never";
inline constexpr const char* kReprovisionReplace = "replace";

struct CertificateRecord {
  std::string id;
  std::string pem;
  std::string status;
  std::optional<std::string> thing_name;
  std::optional<std::string> ca_id;
  std::string serial;
  int64_t not_before = 0;
  int64_t not_after = 0;
  std::optional<std::string> claim_certificate_id;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::optional<std::string> replaces;  // renewal: the certificate this one replaces
  std::optional<int64_t> retire_at;     // renewed: stops working at this time at the latest
  // The ownership token issued with it (claim provisioning): the token's
  // SHA-256, its expiry and when RegisterThing used it.
  std::optional<std::string> token_hash;
  std::optional<int64_t> token_expires_at;
  std::optional<int64_t> token_used_at;
};

struct ThingRecord {
  std::string name;
  std::optional<std::string> thing_type;
  std::map<std::string, std::string> attributes;
  int64_t version = 1;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct PolicyRecord {
  std::string name;
  std::string document;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct TemplateRecord {
  std::string name;
  std::string description;
  bool enabled = true;
  int64_t default_version = 1;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::optional<std::string> hook;        // JSON (schemas/hook.schema.json)
  std::optional<std::string> assignment;  // JSON (schemas/assignment.schema.json)
  // May a registration take over a thing another device registered (its
  // certificates are then revoked)? never | replace
  std::string reprovisioning = kReprovisionNever;
};

struct TemplateVersionRecord {
  std::string template_name;
  int64_t version = 0;
  std::string body;
  int64_t created_at = 0;
};

struct ClaimCertificateRecord {
  std::string id;
  std::string pem;
  std::string description;
  std::string status = kActive;  // ACTIVE | INACTIVE
  std::vector<std::string> allowed_templates;
  std::optional<int64_t> expires_at;
  int64_t created_at = 0;
};

// CA roles: root (trust anchor), fleet (issues device certificates), claim
// (issues claim certificates), manufacturer (issues factory device certificates).
struct CaRecord {
  std::string id;
  std::string name;
  std::string role;
  std::string pem;
  std::string status = kActive;
  std::vector<std::string> allowed_templates;
  int64_t created_at = 0;
  std::string registration_id_field = "CN";  // manufacturer CAs: CN | serialNumber | certificateSerial
};

struct ServiceIdentityRecord {
  std::string certificate_id;
  std::string name;
  std::string status = kActive;
  int64_t created_at = 0;
  std::string kind = "worker";  // worker | factory
};

// An ownership token issued before registry schema 5 (ownership_tokens).
struct OwnershipTokenRecord {
  std::string token_hash;
  std::string certificate_id;
  std::string claim_certificate_id;
  int64_t expires_at = 0;
  std::optional<int64_t> used_at;
};

struct AuditEntry {
  int64_t id = 0;
  int64_t at = 0;
  std::string actor;
  std::string action;
  std::string subject;
  std::string result = "ok";
  std::string source;
  std::string detail = "{}";
};

struct EnrollmentRecord {
  std::string registration_id;
  std::string kind = "individual";  // individual | group
  std::string status = "DISABLED";  // DISABLED | ENABLED
  std::optional<std::string> template_name;
  std::map<std::string, std::string> attributes;
  std::string configuration = "{}";  // JSON object
  std::optional<std::string> broker;
  std::optional<std::string> thing_name;
  std::optional<int64_t> used_at;
  int64_t created_at = 0;
  std::optional<int64_t> activated_at;
  std::string created_by;
  // replace: a used individual enrollment may be used again by its device,
  // for the thing it registered (its old certificates are revoked).
  std::string reprovisioning = kReprovisionNever;
  // The factory-burned key that signs the device's HTTP bootstrap requests
  // (none: its MAC alone bootstraps it). Never shown by the API.
  std::optional<std::string> bootstrap_key;
};

struct BrokerRecord {
  std::string name;
  std::string endpoint;
  int64_t weight = 1;
  bool enabled = true;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // Where password devices connect (mqtts://host:port, or mqtt://host:port
  // on a listener that allows plain TCP); endpoint is the certificate devices'.
  std::optional<std::string> password_endpoint;
};

struct ApiTokenRecord {
  std::string name;
  std::string token_hash;
  std::string role;  // admin | factory | operator | installer
  int64_t created_at = 0;
  std::optional<int64_t> last_used_at;
};

// Keyset paging: items after `after` (by their key), at most `limit`.
struct Page {
  int limit = 100;
  std::string after;
};

// A row of the change log (written by triggers): something that may take a
// permission away from a connected client.
struct Change {
  int64_t id = 0;
  std::string kind;  // certificate | claim | ca | thing | policy | service
  std::string subject;
};

// A password device's credential (HTTP bootstrap): its client id is
// device_uuid, its username its thing name; only the secret's SHA-256 is kept.
struct DeviceCredentialRecord {
  std::string thing_name;
  std::string device_uuid;
  std::string secret_hash;       // hex SHA-256 of the secret
  std::string status = kActive;  // ACTIVE | INACTIVE
  int64_t issued_at = 0;
  std::optional<int64_t> first_connected_at;  // a broker saw it connect with this secret
  std::optional<int64_t> last_seen_at;        // its last bootstrap request
  int64_t created_at = 0;
  std::vector<std::string> policies;          // what its connections may do (as a certificate's attached policies)
};

// A release in the firmware catalog.
struct FirmwareReleaseRecord {
  int64_t id = 0;
  int64_t product_id = 0;
  std::string version;                         // semantic version
  std::vector<std::string> hardware_versions;  // empty: every hardware version
  std::string channel = "stable";
  std::string download_url;
  int64_t file_size = 0;
  std::string sha256;  // hex
  std::string changelog;
  bool enabled = true;
  std::optional<std::string> min_current_version;
  int64_t rollout_percent = 100;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct FirmwareFilter {
  std::optional<int64_t> product_id;
  std::optional<std::string> channel;
  std::optional<bool> enabled;
  int64_t after_id = 0;  // paging
  int limit = 100;
};

// One request to the bootstrap listener. `at` is in Unix milliseconds.
struct BootstrapAccessRecord {
  int64_t id = 0;
  int64_t at = 0;
  std::string source;
  std::string mac;
  std::string endpoint;
  std::string outcome;
  int64_t status = 0;
  int64_t latency_ms = 0;
};

struct BootstrapAccessFilter {
  std::optional<std::string> mac, source, endpoint, outcome;
  std::optional<int64_t> since_ms, until_ms;
  std::optional<int64_t> before_id;  // paging: entries older than this one
  int limit = 100;
};

struct AuditFilter {
  std::optional<std::string> actor, action, subject;
  std::optional<int64_t> since, until;
  std::optional<int64_t> before_id;  // paging: entries older than this one
  int limit = 100;
};

}  // namespace provision::registry
