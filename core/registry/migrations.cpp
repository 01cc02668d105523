#include "registry/migrations.h"

#include <string>

#include "registry/database.h"

namespace provision::registry {

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = {
      {1, "initial registry", R"sql(
CREATE TABLE cas (
  id                TEXT PRIMARY KEY,          -- certificateId (SHA-256 of DER)
  name              TEXT NOT NULL UNIQUE,
  role              TEXT NOT NULL CHECK (role IN ('root','fleet','claim','manufacturer')),
  pem               TEXT NOT NULL,
  status            TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','INACTIVE')),
  allowed_templates TEXT NOT NULL DEFAULT '[]', -- JSON array, for claim and manufacturer CAs
  created_at        INTEGER NOT NULL
);

CREATE TABLE things (
  name       TEXT PRIMARY KEY,
  thing_type TEXT,
  attributes TEXT NOT NULL DEFAULT '{}',        -- JSON object of strings
  version    INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE certificates (
  id                   TEXT PRIMARY KEY,        -- certificateId
  pem                  TEXT NOT NULL,
  status               TEXT NOT NULL CHECK (status IN ('PENDING_ACTIVATION','ACTIVE','INACTIVE','REVOKED')),
  thing_name           TEXT REFERENCES things(name) ON DELETE SET NULL,
  ca_id                TEXT,
  serial               TEXT NOT NULL,
  not_before           INTEGER NOT NULL,
  not_after            INTEGER NOT NULL,
  claim_certificate_id TEXT,                     -- the claim that asked for it
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL
);
CREATE INDEX certificates_by_thing ON certificates(thing_name);
CREATE INDEX certificates_by_status ON certificates(status, created_at);

CREATE TABLE policies (
  name       TEXT PRIMARY KEY,
  document   TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE certificate_policies (
  certificate_id TEXT NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
  policy_name    TEXT NOT NULL REFERENCES policies(name),
  PRIMARY KEY (certificate_id, policy_name)
);

CREATE TABLE templates (
  name            TEXT PRIMARY KEY,
  description     TEXT NOT NULL DEFAULT '',
  enabled         INTEGER NOT NULL DEFAULT 1,
  default_version INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);

CREATE TABLE template_versions (
  template_name TEXT NOT NULL REFERENCES templates(name) ON DELETE CASCADE,
  version       INTEGER NOT NULL,
  body          TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (template_name, version)
);

CREATE TABLE claim_certificates (
  id                TEXT PRIMARY KEY,          -- certificateId of the claim certificate
  pem               TEXT NOT NULL,
  description       TEXT NOT NULL DEFAULT '',
  status            TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','INACTIVE')),
  allowed_templates TEXT NOT NULL DEFAULT '[]', -- JSON array of template names
  expires_at        INTEGER,                    -- NULL: the certificate's own notAfter only
  created_at        INTEGER NOT NULL
);

CREATE TABLE service_identities (
  certificate_id TEXT PRIMARY KEY,             -- certificateId of the worker's certificate
  name           TEXT NOT NULL,
  status         TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','INACTIVE')),
  created_at     INTEGER NOT NULL
);

CREATE TABLE ownership_tokens (
  token_hash           TEXT PRIMARY KEY,       -- SHA-256 of the token; the token itself is never stored
  certificate_id       TEXT NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
  claim_certificate_id TEXT NOT NULL,
  expires_at           INTEGER NOT NULL,
  used_at              INTEGER
);
CREATE INDEX ownership_tokens_by_expiry ON ownership_tokens(expires_at);

CREATE TABLE audit_log (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  at      INTEGER NOT NULL,
  actor   TEXT NOT NULL,                       -- "claim:<id>", "admin:<name>", "system"
  action  TEXT NOT NULL,                       -- "RegisterThing", "CreateCertificateFromCsr", ...
  subject TEXT NOT NULL DEFAULT '',            -- thing name, certificate id, template name...
  result  TEXT NOT NULL,                       -- "ok" or an errorCode
  source  TEXT NOT NULL DEFAULT '',            -- client address
  detail  TEXT NOT NULL DEFAULT '{}'           -- JSON
);
CREATE INDEX audit_by_subject ON audit_log(subject, at);
CREATE INDEX audit_by_time ON audit_log(at);
)sql"},
      {2, "change log for live enforcement, certificate renewal, manufacturer CAs", R"sql(
-- Every change that can take a permission away from a connected client is
-- recorded here by triggers, whoever the writer is; the broker plugin reads
-- the rows after the last one it saw and re-checks only the clients concerned.
CREATE TABLE registry_changes (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  at      INTEGER NOT NULL DEFAULT (unixepoch()),
  kind    TEXT NOT NULL CHECK (kind IN ('certificate','claim','ca','thing','policy','service')),
  subject TEXT NOT NULL
);

CREATE TRIGGER certificate_changed AFTER UPDATE OF status, thing_name ON certificates
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('certificate', NEW.id); END;
CREATE TRIGGER certificate_deleted AFTER DELETE ON certificates
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('certificate', OLD.id); END;
CREATE TRIGGER certificate_policy_attached AFTER INSERT ON certificate_policies
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('certificate', NEW.certificate_id); END;
CREATE TRIGGER certificate_policy_detached AFTER DELETE ON certificate_policies
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('certificate', OLD.certificate_id); END;
CREATE TRIGGER thing_changed AFTER UPDATE ON things
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('thing', NEW.name); END;
CREATE TRIGGER thing_deleted AFTER DELETE ON things
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('thing', OLD.name); END;
CREATE TRIGGER policy_changed AFTER UPDATE ON policies
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('policy', NEW.name); END;
CREATE TRIGGER policy_deleted AFTER DELETE ON policies
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('policy', OLD.name); END;
CREATE TRIGGER claim_changed AFTER UPDATE ON claim_certificates
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('claim', NEW.id); END;
CREATE TRIGGER claim_deleted AFTER DELETE ON claim_certificates
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('claim', OLD.id); END;
CREATE TRIGGER ca_changed AFTER UPDATE ON cas
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('ca', NEW.id); END;
CREATE TRIGGER ca_deleted AFTER DELETE ON cas
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('ca', OLD.id); END;
CREATE TRIGGER service_changed AFTER UPDATE ON service_identities
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('service', NEW.certificate_id); END;
CREATE TRIGGER service_deleted AFTER DELETE ON service_identities
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('service', OLD.certificate_id); END;

-- Renewal: a certificate issued to replace another keeps its id here; the
-- old one stops working once the new one is used, or at retire_at.
ALTER TABLE certificates ADD COLUMN replaces TEXT;
ALTER TABLE certificates ADD COLUMN retire_at INTEGER;

-- Manufacturer CAs: which certificate field is a device's registration id
-- ('CN', 'serialNumber' (subject attribute) or 'certificateSerial').
ALTER TABLE cas ADD COLUMN registration_id_field TEXT NOT NULL DEFAULT 'CN'
  CHECK (registration_id_field IN ('CN', 'serialNumber', 'certificateSerial'));
)sql"},
      {3, "admin API tokens", R"sql(
CREATE TABLE api_tokens (
  name         TEXT PRIMARY KEY,
  token_hash   TEXT NOT NULL UNIQUE,            -- SHA-256 of the token; the token itself is never stored
  role         TEXT NOT NULL CHECK (role IN ('admin', 'factory', 'operator')),
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
);
)sql"},
      {4, "thing groups, pre-provisioning hooks, enrollments, brokers", R"sql(
CREATE TABLE thing_group_members (
  thing_name TEXT NOT NULL REFERENCES things(name) ON DELETE CASCADE,
  group_name TEXT NOT NULL,
  PRIMARY KEY (thing_name, group_name)
);
CREATE INDEX thing_groups_by_group ON thing_group_members(group_name);

-- Per template: its pre-provisioning hook and how devices are assigned a broker.
ALTER TABLE templates ADD COLUMN hook TEXT;        -- JSON, NULL: no hook
ALTER TABLE templates ADD COLUMN assignment TEXT;  -- JSON, NULL: no broker assignment

-- The factory's list of devices. A registration id is a serial number, a MAC,
-- a device certificate's fingerprint (individual), or a manufacturer CA's id
-- (group). Disabled until a buyer activates it with metadata.
CREATE TABLE enrollments (
  registration_id TEXT PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('individual', 'group')),
  status          TEXT NOT NULL DEFAULT 'DISABLED' CHECK (status IN ('DISABLED', 'ENABLED')),
  template_name   TEXT,                         -- restricts which template it may register through
  attributes      TEXT NOT NULL DEFAULT '{}',   -- thing attributes set at registration
  configuration   TEXT NOT NULL DEFAULT '{}',   -- merged into the DeviceConfiguration
  broker          TEXT,                         -- pinned broker name
  thing_name      TEXT,                         -- individual: set when used
  used_at         INTEGER,
  created_at      INTEGER NOT NULL,
  activated_at    INTEGER,
  created_by      TEXT NOT NULL DEFAULT ''
);

CREATE TABLE brokers (
  name       TEXT PRIMARY KEY,
  endpoint   TEXT NOT NULL,          -- e.g. mqtts://broker-2.example.com:8883
  weight     INTEGER NOT NULL DEFAULT 1 CHECK (weight >= 0),
  enabled    INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Service identities are provisioning workers or factory servers (which
-- publish enrollments over MQTT).
ALTER TABLE service_identities ADD COLUMN kind TEXT NOT NULL DEFAULT 'worker' CHECK (kind IN ('worker', 'factory'));

-- A fourth API role: installers obtain short-lived claims for one template.
CREATE TABLE api_tokens_v4 (
  name         TEXT PRIMARY KEY,
  token_hash   TEXT NOT NULL UNIQUE,
  role         TEXT NOT NULL CHECK (role IN ('admin', 'factory', 'operator', 'installer')),
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
);
INSERT INTO api_tokens_v4 SELECT name, token_hash, role, created_at, last_used_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_v4 RENAME TO api_tokens;
)sql"},
      {5, "fewer pages written per provisioned device", R"sql(
-- What one device costs the registry is the pages its two transactions
-- dirty, each written to the WAL: every index on a random key (certificate
-- ids, token hashes) is one more page. This version keeps only the indexes a
-- query uses, and only the entries it needs.

-- The ownership token lives in its certificate's row: a token is
-- "<certificateId>.<secret>" and the row holds its SHA-256, so issuing one
-- adds no row to a second table and no entry to an index of random hashes.
-- ownership_tokens keeps the tokens issued before this version until they
-- expire (one hour); nothing writes it any more.
ALTER TABLE certificates ADD COLUMN token_hash TEXT;
ALTER TABLE certificates ADD COLUMN token_expires_at INTEGER;
ALTER TABLE certificates ADD COLUMN token_used_at INTEGER;

-- Pending certificates (the janitor's query) and renewed ones (retirement)
-- are few: partial indexes hold only them. Certificates without a thing are
-- never looked up by thing.
DROP INDEX certificates_by_status;
CREATE INDEX certificates_pending ON certificates(created_at) WHERE status = 'PENDING_ACTIVATION';
CREATE INDEX certificates_retiring ON certificates(retire_at) WHERE retire_at IS NOT NULL;
DROP INDEX certificates_by_thing;
CREATE INDEX certificates_by_thing ON certificates(thing_name) WHERE thing_name IS NOT NULL;

-- The audit log is read newest first, by subject or all of it: no query
-- used the index on time; one on the subject alone keeps its entries in id order.
DROP INDEX audit_by_time;
DROP INDEX audit_by_subject;
CREATE INDEX audit_by_subject ON audit_log(subject);

-- Attachments keyed by their primary key alone (no separate rowid tree).
-- DROP TABLE removes the table's triggers before its rows, so no change is
-- logged for the copy.
CREATE TABLE certificate_policies_v5 (
  certificate_id TEXT NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
  policy_name    TEXT NOT NULL REFERENCES policies(name),
  PRIMARY KEY (certificate_id, policy_name)
) WITHOUT ROWID;
INSERT INTO certificate_policies_v5 (certificate_id, policy_name) SELECT certificate_id, policy_name FROM certificate_policies;
DROP TABLE certificate_policies;
ALTER TABLE certificate_policies_v5 RENAME TO certificate_policies;
CREATE TRIGGER certificate_policy_attached AFTER INSERT ON certificate_policies
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('certificate', NEW.certificate_id); END;
CREATE TRIGGER certificate_policy_detached AFTER DELETE ON certificate_policies
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('certificate', OLD.certificate_id); END;
)sql"},
      {6, "a change is recorded when a CA is registered", R"sql(
-- A CA registered while the broker runs must reach the plugin like every
-- other change: it reloads its CAs on a 'ca' change (and rewrites the
-- broker's trust directory, docs/operations.md "Trusting CAs").
CREATE TRIGGER ca_registered AFTER INSERT ON cas
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('ca', NEW.id); END;
)sql"},
      {7, "re-provisioning policies of templates and enrollments", R"sql(
-- Whether a registration may take over a thing whose certificates another
-- device registered (its old certificates are then revoked): never, unless
-- the template says 'replace' (or an http/exec hook approves it). An
-- enrollment that says 'replace' may be used again by its device, for its
-- own thing; an admin may also reset a used one (used_at back to NULL).
ALTER TABLE templates ADD COLUMN reprovisioning TEXT NOT NULL DEFAULT 'never' CHECK (reprovisioning IN ('never', 'replace'));
ALTER TABLE enrollments ADD COLUMN reprovisioning TEXT NOT NULL DEFAULT 'never' CHECK (reprovisioning IN ('never', 'replace'));
)sql"},
      {8, "tasks that run once for every worker sharing the registry", R"sql(
-- Housekeeping runs once a minute across all the workers of a shared
-- registry, not once per worker: a worker runs it only if it is the one
-- that moved its last run forward (docs/scaling.md).
CREATE TABLE cluster_tasks (
  name        TEXT PRIMARY KEY,
  last_run_at INTEGER NOT NULL
);
)sql"},
      {9, "password devices, firmware releases, the bootstrap access log, brokers' password endpoints", R"sql(
-- A device without a certificate (HTTP bootstrap by MAC address) connects
-- with its thing name and a secret; the registry keeps only the secret's
-- SHA-256. Its client id is device_uuid. A new secret (rotation), a status
-- change or the row's removal is a 'thing' change for the plugin, which
-- re-checks (and cuts off) that thing's connections.
CREATE TABLE device_credentials (
  thing_name         TEXT PRIMARY KEY REFERENCES things(name) ON DELETE CASCADE,
  device_uuid        TEXT NOT NULL UNIQUE,
  secret_hash        TEXT NOT NULL,             -- hex SHA-256 of the secret (>= 128 random bits)
  status             TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
  issued_at          INTEGER NOT NULL,          -- when this secret was issued
  first_connected_at INTEGER,                   -- NULL until a broker saw it connect with this secret
  last_seen_at       INTEGER,                   -- its last bootstrap request
  created_at         INTEGER NOT NULL,
  policies           TEXT NOT NULL DEFAULT '[]' -- JSON array: the policies its connections get
);
CREATE TRIGGER device_credential_changed AFTER UPDATE OF secret_hash, status, policies ON device_credentials
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('thing', NEW.thing_name); END;
CREATE TRIGGER device_credential_deleted AFTER DELETE ON device_credentials
BEGIN INSERT INTO registry_changes (kind, subject) VALUES ('thing', OLD.thing_name); END;

-- The firmware catalog.
CREATE TABLE firmware_releases (
  id                  INTEGER PRIMARY KEY AUTOINCREMENT,
  product_id          INTEGER NOT NULL,
  version             TEXT NOT NULL,             -- semantic version
  hardware_versions   TEXT NOT NULL DEFAULT '[]', -- JSON array; empty: every hardware version
  channel             TEXT NOT NULL DEFAULT 'stable',
  download_url        TEXT NOT NULL,
  file_size           INTEGER NOT NULL,
  sha256              TEXT NOT NULL,             -- hex
  changelog           TEXT NOT NULL DEFAULT '',
  enabled             INTEGER NOT NULL DEFAULT 1,
  min_current_version TEXT,                      -- NULL: any current version
  rollout_percent     INTEGER NOT NULL DEFAULT 100 CHECK (rollout_percent BETWEEN 0 AND 100),
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  UNIQUE (product_id, channel, version)
);

-- Every request to the bootstrap listener (pruned by housekeeping).
CREATE TABLE bootstrap_access_log (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  at         INTEGER NOT NULL,                  -- Unix milliseconds
  source     TEXT NOT NULL,                     -- client address (a trusted proxy's forwarded one)
  mac        TEXT NOT NULL DEFAULT '',          -- normalised, '' when the request named none
  endpoint   TEXT NOT NULL,
  outcome    TEXT NOT NULL,
  status     INTEGER NOT NULL,
  latency_ms INTEGER NOT NULL
);
CREATE INDEX bootstrap_access_by_time ON bootstrap_access_log(at);
CREATE INDEX bootstrap_access_by_mac ON bootstrap_access_log(mac);

-- Where password devices connect (mqtts://host:port or mqtt://host:port);
-- endpoint is the certificate devices'.
ALTER TABLE brokers ADD COLUMN password_endpoint TEXT;
)sql"},
      {10, "a fifth API role: activators", R"sql(
-- The machine manufacturer activates enrollments on the web console's
-- activation portal (docs/admin.md, docs/console.md).
CREATE TABLE api_tokens_v10 (
  name         TEXT PRIMARY KEY,
  token_hash   TEXT NOT NULL UNIQUE,
  role         TEXT NOT NULL CHECK (role IN ('admin', 'factory', 'operator', 'installer', 'activator')),
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
);
INSERT INTO api_tokens_v10 SELECT name, token_hash, role, created_at, last_used_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_v10 RENAME TO api_tokens;
)sql"},
      {11, "signed bootstrap requests", R"sql(
-- A factory-burned key: HTTP bootstrap requests signed with it prove the
-- device, not only its MAC (docs/bootstrap.md, "Signed requests").
ALTER TABLE enrollments ADD COLUMN bootstrap_key TEXT;
-- Signatures already accepted, until they could no longer be fresh: each
-- is accepted once (pruned by housekeeping).
CREATE TABLE bootstrap_signatures (
  signature  TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL                   -- Unix seconds
);
CREATE INDEX bootstrap_signatures_by_expiry ON bootstrap_signatures(expires_at);
)sql"},
  };
  return all;
}

int latest_schema_version() { return migrations().back().version; }

void migrate(Database& db) {
  const auto too_new = [&](int version) {
    return Error("registry " + db.display_location() + " has schema version " + std::to_string(version) +
                 ", newer than this build knows (" + std::to_string(latest_schema_version()) + ")");
  };
  int current = db.user_version();
  if (current > latest_schema_version()) throw too_new(current);
  for (const auto& m : migrations()) {
    if (m.version <= current) continue;
    std::string_view sql = db.backend() == Database::Backend::Postgres ? postgres_migration_sql(m.version) : m.sql;
    if (sql.empty()) throw Error("registry migration " + std::to_string(m.version) + " has no text for this database");
    Transaction tx(db);
    db.lock_for_migration();  // another process may have migrated meanwhile
    current = db.user_version();
    if (current > latest_schema_version()) throw too_new(current);
    if (current >= m.version) continue;
    db.exec(sql);
    db.set_user_version(m.version);
    tx.commit();
  }
}

}  // namespace provision::registry
