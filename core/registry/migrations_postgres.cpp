// The registry's schema migrations for PostgreSQL: the same versions as
// migrations.cpp's SQLite texts, each making the same schema in PostgreSQL's
// dialect (BIGINT for SQLite's INTEGER, BIGSERIAL for AUTOINCREMENT, one
// trigger function for the change log, constraints replaced where SQLite
// copies a table). registry_test runs the same suite against both.
#include "registry/migrations.h"

namespace provision::registry {

std::string_view postgres_migration_sql(int version) {
  switch (version) {
    case 1: return R"sql(
CREATE TABLE cas (
  id                TEXT PRIMARY KEY,
  name              TEXT NOT NULL UNIQUE,
  role              TEXT NOT NULL CHECK (role IN ('root','fleet','claim','manufacturer')),
  pem               TEXT NOT NULL,
  status            TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','INACTIVE')),
  allowed_templates TEXT NOT NULL DEFAULT '[]',
  created_at        BIGINT NOT NULL
);
CREATE TABLE things (
  name       TEXT PRIMARY KEY,
  thing_type TEXT,
  attributes TEXT NOT NULL DEFAULT '{}',
  version    BIGINT NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE certificates (
  id                   TEXT PRIMARY KEY,
  pem                  TEXT NOT NULL,
  status               TEXT NOT NULL CHECK (status IN ('PENDING_ACTIVATION','ACTIVE','INACTIVE','REVOKED')),
  thing_name           TEXT REFERENCES things(name) ON DELETE SET NULL,
  ca_id                TEXT,
  serial               TEXT NOT NULL,
  not_before           BIGINT NOT NULL,
  not_after            BIGINT NOT NULL,
  claim_certificate_id TEXT,
  created_at           BIGINT NOT NULL,
  updated_at           BIGINT NOT NULL
);
CREATE INDEX certificates_by_thing ON certificates(thing_name);
CREATE INDEX certificates_by_status ON certificates(status, created_at);
CREATE TABLE policies (
  name       TEXT PRIMARY KEY,
  document   TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE certificate_policies (
  certificate_id TEXT NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
  policy_name    TEXT NOT NULL REFERENCES policies(name),
  PRIMARY KEY (certificate_id, policy_name)
);
CREATE TABLE templates (
  name            TEXT PRIMARY KEY,
  description     TEXT NOT NULL DEFAULT '',
  enabled         BIGINT NOT NULL DEFAULT 1,
  default_version BIGINT NOT NULL,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL
);
CREATE TABLE template_versions (
  template_name TEXT NOT NULL REFERENCES templates(name) ON DELETE CASCADE,
  version       BIGINT NOT NULL,
  body          TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  PRIMARY KEY (template_name, version)
);
CREATE TABLE claim_certificates (
  id                TEXT PRIMARY KEY,
  pem               TEXT NOT NULL,
  description       TEXT NOT NULL DEFAULT '',
  status            TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','INACTIVE')),
  allowed_templates TEXT NOT NULL DEFAULT '[]',
  expires_at        BIGINT,
  created_at        BIGINT NOT NULL
);
CREATE TABLE service_identities (
  certificate_id TEXT PRIMARY KEY,
  name           TEXT NOT NULL,
  status         TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','INACTIVE')),
  created_at     BIGINT NOT NULL
);
CREATE TABLE ownership_tokens (
  token_hash           TEXT PRIMARY KEY,
  certificate_id       TEXT NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
  claim_certificate_id TEXT NOT NULL,
  expires_at           BIGINT NOT NULL,
  used_at              BIGINT
);
CREATE INDEX ownership_tokens_by_expiry ON ownership_tokens(expires_at);
CREATE TABLE audit_log (
  id      BIGSERIAL PRIMARY KEY,
  at      BIGINT NOT NULL,
  actor   TEXT NOT NULL,
  action  TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  result  TEXT NOT NULL,
  source  TEXT NOT NULL DEFAULT '',
  detail  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_subject ON audit_log(subject, at);
CREATE INDEX audit_by_time ON audit_log(at);
)sql";
    case 2: return R"sql(
CREATE TABLE registry_changes (
  id      BIGSERIAL PRIMARY KEY,
  at      BIGINT NOT NULL DEFAULT extract(epoch FROM now())::bigint,
  kind    TEXT NOT NULL CHECK (kind IN ('certificate','claim','ca','thing','policy','service')),
  subject TEXT NOT NULL
);
-- One function for every trigger: the kind of change, and the column that names its subject.
CREATE FUNCTION registry_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO registry_changes (kind, subject)
  VALUES (TG_ARGV[0], to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END) ->> TG_ARGV[1]);
  RETURN NULL;
END $$;
CREATE TRIGGER certificate_changed AFTER UPDATE OF status, thing_name ON certificates
  FOR EACH ROW EXECUTE FUNCTION registry_change('certificate', 'id');
CREATE TRIGGER certificate_deleted AFTER DELETE ON certificates
  FOR EACH ROW EXECUTE FUNCTION registry_change('certificate', 'id');
CREATE TRIGGER certificate_policy_attached AFTER INSERT ON certificate_policies
  FOR EACH ROW EXECUTE FUNCTION registry_change('certificate', 'certificate_id');
CREATE TRIGGER certificate_policy_detached AFTER DELETE ON certificate_policies
  FOR EACH ROW EXECUTE FUNCTION registry_change('certificate', 'certificate_id');
CREATE TRIGGER thing_changed AFTER UPDATE ON things FOR EACH ROW EXECUTE FUNCTION registry_change('thing', 'name');
CREATE TRIGGER thing_deleted AFTER DELETE ON things FOR EACH ROW EXECUTE FUNCTION registry_change('thing', 'name');
CREATE TRIGGER policy_changed AFTER UPDATE ON policies FOR EACH ROW EXECUTE FUNCTION registry_change('policy', 'name');
CREATE TRIGGER policy_deleted AFTER DELETE ON policies FOR EACH ROW EXECUTE FUNCTION registry_change('policy', 'name');
CREATE TRIGGER claim_changed AFTER UPDATE ON claim_certificates FOR EACH ROW EXECUTE FUNCTION registry_change('claim', 'id');
CREATE TRIGGER claim_deleted AFTER DELETE ON claim_certificates FOR EACH ROW EXECUTE FUNCTION registry_change('claim', 'id');
CREATE TRIGGER ca_changed AFTER UPDATE ON cas FOR EACH ROW EXECUTE FUNCTION registry_change('ca', 'id');
CREATE TRIGGER ca_deleted AFTER DELETE ON cas FOR EACH ROW EXECUTE FUNCTION registry_change('ca', 'id');
CREATE TRIGGER service_changed AFTER UPDATE ON service_identities
  FOR EACH ROW EXECUTE FUNCTION registry_change('service', 'certificate_id');
CREATE TRIGGER service_deleted AFTER DELETE ON service_identities
  FOR EACH ROW EXECUTE FUNCTION registry_change('service', 'certificate_id');
ALTER TABLE certificates ADD COLUMN replaces TEXT;
ALTER TABLE certificates ADD COLUMN retire_at BIGINT;
ALTER TABLE cas ADD COLUMN registration_id_field TEXT NOT NULL DEFAULT 'CN'
  CHECK (registration_id_field IN ('CN', 'serialNumber', 'certificateSerial'));
)sql";
    case 3: return R"sql(
CREATE TABLE api_tokens (
  name         TEXT PRIMARY KEY,
  token_hash   TEXT NOT NULL UNIQUE,
  role         TEXT NOT NULL CONSTRAINT api_tokens_role_check CHECK (role IN ('admin', 'factory', 'operator')),
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT
);
)sql";
    case 4: return R"sql(
CREATE TABLE thing_group_members (
  thing_name TEXT NOT NULL REFERENCES things(name) ON DELETE CASCADE,
  group_name TEXT NOT NULL,
  PRIMARY KEY (thing_name, group_name)
);
CREATE INDEX thing_groups_by_group ON thing_group_members(group_name);
ALTER TABLE templates ADD COLUMN hook TEXT;
ALTER TABLE templates ADD COLUMN assignment TEXT;
CREATE TABLE enrollments (
  registration_id TEXT PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('individual', 'group')),
  status          TEXT NOT NULL DEFAULT 'DISABLED' CHECK (status IN ('DISABLED', 'ENABLED')),
  template_name   TEXT,
  attributes      TEXT NOT NULL DEFAULT '{}',
  configuration   TEXT NOT NULL DEFAULT '{}',
  broker          TEXT,
  thing_name      TEXT,
  used_at         BIGINT,
  created_at      BIGINT NOT NULL,
  activated_at    BIGINT,
  created_by      TEXT NOT NULL DEFAULT ''
);
CREATE TABLE brokers (
  name       TEXT PRIMARY KEY,
  endpoint   TEXT NOT NULL,
  weight     BIGINT NOT NULL DEFAULT 1 CHECK (weight >= 0),
  enabled    BIGINT NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
ALTER TABLE service_identities ADD COLUMN kind TEXT NOT NULL DEFAULT 'worker' CHECK (kind IN ('worker', 'factory'));
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check CHECK (role IN ('admin', 'factory', 'operator', 'installer'));
)sql";
    case 5: return R"sql(
ALTER TABLE certificates ADD COLUMN token_hash TEXT;
ALTER TABLE certificates ADD COLUMN token_expires_at BIGINT;
ALTER TABLE certificates ADD COLUMN token_used_at BIGINT;
DROP INDEX certificates_by_status;
CREATE INDEX certificates_pending ON certificates(created_at) WHERE status = 'PENDING_ACTIVATION';
CREATE INDEX certificates_retiring ON certificates(retire_at) WHERE retire_at IS NOT NULL;
DROP INDEX certificates_by_thing;
CREATE INDEX certificates_by_thing ON certificates(thing_name) WHERE thing_name IS NOT NULL;
DROP INDEX audit_by_time;
DROP INDEX audit_by_subject;
CREATE INDEX audit_by_subject ON audit_log(subject);
)sql";
    case 6: return R"sql(
CREATE TRIGGER ca_registered AFTER INSERT ON cas FOR EACH ROW EXECUTE FUNCTION registry_change('ca', 'id');
)sql";
    case 7: return R"sql(
ALTER TABLE templates ADD COLUMN reprovisioning TEXT NOT NULL DEFAULT 'never' CHECK (reprovisioning IN ('never', 'replace'));
ALTER TABLE enrollments ADD COLUMN reprovisioning TEXT NOT NULL DEFAULT 'never' CHECK (reprovisioning IN ('never', 'replace'));
)sql";
    case 8: return R"sql(
CREATE TABLE cluster_tasks (
  name        TEXT PRIMARY KEY,
  last_run_at BIGINT NOT NULL
);
)sql";
    case 9: return R"sql(
CREATE TABLE device_credentials (
  thing_name         TEXT PRIMARY KEY REFERENCES things(name) ON DELETE CASCADE,
  device_uuid        TEXT NOT NULL UNIQUE,
  secret_hash        TEXT NOT NULL,
  status             TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
  issued_at          BIGINT NOT NULL,
  first_connected_at BIGINT,
  last_seen_at       BIGINT,
  created_at         BIGINT NOT NULL,
  policies           TEXT NOT NULL DEFAULT '[]'
);
CREATE TRIGGER device_credential_changed AFTER UPDATE OF secret_hash, status, policies ON device_credentials
  FOR EACH ROW EXECUTE FUNCTION registry_change('thing', 'thing_name');
CREATE TRIGGER device_credential_deleted AFTER DELETE ON device_credentials
  FOR EACH ROW EXECUTE FUNCTION registry_change('thing', 'thing_name');
CREATE TABLE firmware_releases (
  id                  BIGSERIAL PRIMARY KEY,
  product_id          BIGINT NOT NULL,
  version             TEXT NOT NULL,
  hardware_versions   TEXT NOT NULL DEFAULT '[]',
  channel             TEXT NOT NULL DEFAULT 'stable',
  download_url        TEXT NOT NULL,
  file_size           BIGINT NOT NULL,
  sha256              TEXT NOT NULL,
  changelog           TEXT NOT NULL DEFAULT '',
  enabled             BIGINT NOT NULL DEFAULT 1,
  min_current_version TEXT,
  rollout_percent     BIGINT NOT NULL DEFAULT 100 CHECK (rollout_percent BETWEEN 0 AND 100),
  created_at          BIGINT NOT NULL,
  updated_at          BIGINT NOT NULL,
  UNIQUE (product_id, channel, version)
);
CREATE TABLE bootstrap_access_log (
  id         BIGSERIAL PRIMARY KEY,
  at         BIGINT NOT NULL,
  source     TEXT NOT NULL,
  mac        TEXT NOT NULL DEFAULT '',
  endpoint   TEXT NOT NULL,
  outcome    TEXT NOT NULL,
  status     BIGINT NOT NULL,
  latency_ms BIGINT NOT NULL
);
CREATE INDEX bootstrap_access_by_time ON bootstrap_access_log(at);
CREATE INDEX bootstrap_access_by_mac ON bootstrap_access_log(mac);
ALTER TABLE brokers ADD COLUMN password_endpoint TEXT;
)sql";
    case 10: return R"sql(
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check CHECK (role IN ('admin', 'factory', 'operator', 'installer', 'activator'));
)sql";
    case 11: return R"sql(
ALTER TABLE enrollments ADD COLUMN bootstrap_key TEXT;
CREATE TABLE bootstrap_signatures (
  signature  TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE INDEX bootstrap_signatures_by_expiry ON bootstrap_signatures(expires_at);
)sql";
  }
  return {};
}

}  // namespace provision::registry
