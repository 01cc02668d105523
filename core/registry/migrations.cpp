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
  };
  return all;
}

int latest_schema_version() { return migrations().back().version; }

void migrate(Database& db) {
  int current = db.user_version();
  if (current > latest_schema_version())
    throw Error("registry " + db.path().string() + " has schema version " + std::to_string(current) +
                ", newer than this build knows (" + std::to_string(latest_schema_version()) + ")");
  for (const auto& m : migrations()) {
    if (m.version <= current) continue;
    Transaction tx(db);
    db.exec(m.sql);
    db.exec("PRAGMA user_version = " + std::to_string(m.version));
    tx.commit();
  }
}

}  // namespace provision::registry
