#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "registry/migrations.h"
#include "registry/database.h"
#include "registry/registry.h"
#include "registry/wal_batching_vfs.h"
#include "postgres.h"
#include "temp_dir.h"
#include "util/clock.h"
#include "util/random.h"

using namespace provision;
using namespace provision::registry;

namespace {
using provision::testing::TempDir;

CertificateRecord certificate(const std::string& id, const std::string& status = kPendingActivation) {
  CertificateRecord r;
  r.id = id;
  r.pem = "PEM";
  r.status = status;
  r.serial = "01";
  r.not_before = 1;
  r.not_after = 2;
  r.claim_certificate_id = "claim";
  return r;
}
// A fresh registry location on a backend: a SQLite file, or a new database
// on the test program's PostgreSQL server.
struct Where {
  TempDir dir;
  std::string location;
  explicit Where(const std::string& backend) {
    if (backend == "postgres") location = test::PostgresServer::shared().create_database("registry_" + random_token(8));
    else location = (dir.path / "r.db").string();
  }
};
}  // namespace

// The same test on each backend (a section each).
#define ON_EACH_BACKEND(where)                                                                \
  const std::string backend_name = GENERATE(as<std::string>{}, "sqlite", "postgres");       \
  INFO("backend: " << backend_name);                                                         \
  Where where(backend_name)

TEST_CASE("a new registry is migrated to the latest version, in WAL mode") {
  TempDir dir;
  auto reg = Registry::open(dir.path / "r.db");
  CHECK(database_of(reg).user_version() == latest_schema_version());
  auto s = database_of(reg).prepare("PRAGMA journal_mode");
  REQUIRE(s.step());
  CHECK(s.text(0) == "wal");
}

TEST_CASE("migrations are idempotent and a newer file is refused") {
  TempDir dir;
  { auto reg = Registry::open(dir.path / "r.db"); }
  { auto reg = Registry::open(dir.path / "r.db"); CHECK(database_of(reg).user_version() == latest_schema_version()); }
  {
    auto db = Database::open(dir.path / "r.db", Database::Mode::ReadWrite);
    db->exec("PRAGMA user_version = 999");
  }
  CHECK_THROWS_WITH(Registry::open(dir.path / "r.db"), Catch::Contains("newer than this build knows"));
  CHECK_THROWS_WITH(Registry::open_read_only(dir.path / "r.db"), Catch::Contains("schema version 999"));
}

TEST_CASE("schema 5 keeps a schema-4 registry's rows, and its queries use the indexes it keeps") {
  TempDir dir;
  {
    auto db = Database::open(dir.path / "r.db", Database::Mode::ReadWrite);
    for (const auto& m : migrations())
      if (m.version <= 4) db->exec(m.sql);
    db->exec("PRAGMA user_version = 4");
    db->exec(
        "INSERT INTO things (name, created_at, updated_at) VALUES ('t1', 1, 1);"
        "INSERT INTO policies (name, document, created_at, updated_at) VALUES ('p', '{\"statements\":[]}', 1, 1);"
        "INSERT INTO certificates (id, pem, status, thing_name, serial, not_before, not_after, created_at, updated_at) "
        "VALUES ('c1', 'PEM', 'ACTIVE', 't1', '01', 1, 2, 1, 1);"
        "INSERT INTO certificate_policies (certificate_id, policy_name) VALUES ('c1', 'p');"
        "INSERT INTO ownership_tokens (token_hash, certificate_id, claim_certificate_id, expires_at) VALUES ('h', 'c1', 'k', 9);"
        "INSERT INTO audit_log (at, actor, action, subject, result) VALUES (1, 'a', 'RegisterThing', 't1', 'ok');"
        "DELETE FROM registry_changes;");
  }
  auto reg = Registry::open(dir.path / "r.db");
  CHECK(database_of(reg).user_version() == latest_schema_version());
  CHECK(reg.policies_of_certificate("c1") == std::vector<std::string>{"p"});
  CHECK(reg.certificates_of_thing("t1").size() == 1);
  CHECK(reg.find_token("h")->certificate_id == "c1");
  registry::AuditFilter by_subject;
  by_subject.subject = "t1";
  CHECK(reg.audit_entries(by_subject).size() == 1);
  CHECK(reg.changes_after(0).empty());  // copying the attachments logged no change
  // the attachment table's triggers are back
  reg.attach_policy("c1", "p");
  reg.detach_policies("c1");
  CHECK(reg.changes_after(0).size() == 1);

  auto plan = [&](const std::string& sql) {
    auto s = database_of(reg).prepare("EXPLAIN QUERY PLAN " + sql);
    std::string out;
    while (s.step()) out += s.text(3) + "\n";
    return out;
  };
  CHECK_THAT(plan("SELECT id FROM certificates WHERE thing_name = 't1'"), Catch::Contains("certificates_by_thing"));
  CHECK_THAT(plan("SELECT id FROM certificates WHERE status = 'PENDING_ACTIVATION' AND created_at < 5"),
             Catch::Contains("certificates_pending"));
  CHECK_THAT(plan("SELECT id FROM certificates WHERE status = 'ACTIVE' AND retire_at IS NOT NULL AND retire_at <= 5"),
             Catch::Contains("certificates_retiring"));
  CHECK_THAT(plan("SELECT id FROM audit_log WHERE subject = 't1' ORDER BY id DESC LIMIT 5"), Catch::Contains("audit_by_subject"));
  CHECK_THAT(plan("SELECT id FROM audit_log WHERE subject = 't1' ORDER BY id DESC LIMIT 5"),
             !Catch::Contains("TEMP B-TREE"));
}

TEST_CASE("read-only open of a missing registry fails clearly") {
  TempDir dir;
  CHECK_THROWS_WITH(Registry::open_read_only(dir.path / "missing.db"), Catch::Contains("does not exist"));
}

TEST_CASE("certificates, things and policies") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  reg.insert_certificate(certificate("c1"));
  CHECK_THROWS_AS(reg.insert_certificate(certificate("c1")), RegistryError);
  auto c = reg.find_certificate("c1");
  REQUIRE(c);
  CHECK(c->status == kPendingActivation);
  CHECK_FALSE(c->thing_name);

  reg.insert_thing({"thing-1", std::string("sensor"), {{"site", "b"}}});
  const int64_t changes_before = reg.latest_change_id();
  CHECK(reg.activate_certificate("c1", "thing-1", kActive));
  CHECK(reg.latest_change_id() == changes_before + 1);  // one change logged for the plugin, not one per column
  CHECK_FALSE(reg.activate_certificate("nope", "thing-1", kActive));
  CHECK(reg.set_certificate_status("c1", kActive));
  CHECK_FALSE(reg.set_certificate_status("nope", kActive));
  CHECK(reg.find_certificate("c1")->thing_name == "thing-1");
  CHECK(reg.find_certificate("c1")->status == kActive);
  CHECK(reg.certificates_of_thing("thing-1").size() == 1);

  reg.put_policy("p", R"({"statements":[]})");
  reg.attach_policy("c1", "p");
  reg.attach_policy("c1", "p");
  CHECK(reg.policies_of_certificate("c1") == std::vector<std::string>{"p"});
  CHECK_THROWS_AS(reg.attach_policy("c1", "no-such-policy"), RegistryError);  // foreign key

  auto thing = reg.find_thing("thing-1");
  REQUIRE(thing);
  CHECK(thing->attributes.at("site") == "b");
  thing->attributes["floor"] = "2";
  reg.update_thing(*thing);
  CHECK(reg.find_thing("thing-1")->version == 2);
  CHECK(reg.find_thing("thing-1")->attributes.size() == 2);

  CHECK(reg.delete_thing("thing-1"));
  CHECK_FALSE(reg.find_certificate("c1")->thing_name);  // ON DELETE SET NULL
}

TEST_CASE("a transaction that is not committed leaves nothing behind") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  try {
    auto tx = reg.begin();
    reg.insert_certificate(certificate("c1"));
    reg.insert_thing({"t1", std::nullopt, {}});
    throw std::runtime_error("handler failed");
  } catch (const std::runtime_error&) {
  }
  CHECK_FALSE(reg.find_certificate("c1"));
  CHECK_FALSE(reg.find_thing("t1"));
  {
    auto tx = reg.begin();
    reg.insert_thing({"t1", std::nullopt, {}});
    tx.commit();
  }
  CHECK(reg.find_thing("t1"));
}

TEST_CASE("a read transaction sees one state of the registry and, once ended, holds nothing") {
  TempDir dir;
  auto writer = Registry::open(dir.path / "r.db");
  writer.insert_certificate(certificate("c1"));
  auto reader = Registry::open_read_only(dir.path / "r.db");
  {
    ReadTransaction snapshot(database_of(reader));
    CHECK(reader.find_certificate("c1"));
    writer.insert_certificate(certificate("c2"));  // committed while the reader's snapshot is open
    CHECK_FALSE(reader.find_certificate("c2"));
    CHECK(database_of(reader).in_transaction());
  }
  CHECK_FALSE(database_of(reader).in_transaction());
  CHECK(reader.find_certificate("c2"));
  // No read mark left behind: a checkpoint that must wait for readers
  // copies the whole WAL back.
  auto checkpoint = database_of(writer).prepare("PRAGMA wal_checkpoint(TRUNCATE)");
  REQUIRE(checkpoint.step());
  CHECK(checkpoint.int64(0) == 0);  // not busy
  for (int round = 0; round < 3; ++round) {  // the cached COMMIT runs again and again
    ReadTransaction snapshot(database_of(reader));
    CHECK(reader.find_certificate("c1"));
  }
  CHECK_FALSE(database_of(reader).in_transaction());
}

TEST_CASE("templates are versioned and the newest version becomes the default") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  CHECK(reg.add_template_version("T", "{\"v\":1}", "first") == 1);
  CHECK(reg.add_template_version("T", "{\"v\":2}") == 2);
  auto t = reg.find_template("T");
  REQUIRE(t);
  CHECK(t->default_version == 2);
  CHECK(t->description == "first");
  CHECK(reg.default_template_version("T")->body == "{\"v\":2}");
  CHECK(reg.find_template_version("T", 1)->body == "{\"v\":1}");
  CHECK(reg.set_template_enabled("T", false));
  CHECK_FALSE(reg.find_template("T")->enabled);
  CHECK_FALSE(reg.default_template_version("missing"));
}

TEST_CASE("claims, CAs, service identities and tokens") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  ClaimCertificateRecord claim;
  claim.id = "claim1";
  claim.pem = "PEM";
  claim.allowed_templates = {"A", "B"};
  reg.put_claim_certificate(claim);
  CHECK(reg.find_claim_certificate("claim1")->allowed_templates == std::vector<std::string>{"A", "B"});
  CHECK(reg.set_claim_status("claim1", kInactive));
  CHECK(reg.find_claim_certificate("claim1")->status == kInactive);

  reg.put_ca({"ca1", "Fleet", "fleet", "PEM", kActive, {}, 0, "CN"});
  CHECK(reg.find_ca_by_role("fleet")->id == "ca1");
  CHECK_FALSE(reg.find_ca_by_role("claim"));
  CHECK_THROWS_AS(reg.put_ca({"ca2", "Odd", "emperor", "PEM", kActive, {}, 0, "CN"}), RegistryError);

  reg.put_service_identity({"svc", "provisiond", kActive, 0, "worker"});
  CHECK(reg.find_service_identity("svc")->name == "provisiond");
  reg.put_service_identity({"line", "line-1", kActive, 0, "factory"});
  reg.put_service_identity({"abc", "other", kInactive, 0, "worker"});
  auto identities = reg.list_service_identities({2, ""});
  REQUIRE(identities.size() == 2);
  CHECK(identities[0].certificate_id == "abc");
  CHECK(identities[0].status == kInactive);
  CHECK(identities[1].certificate_id == "line");
  CHECK(identities[1].kind == "factory");
  auto rest = reg.list_service_identities({2, "line"});
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].name == "provisiond");
  CHECK(reg.delete_service_identity("abc"));
  CHECK_FALSE(reg.delete_service_identity("abc"));
  CHECK_FALSE(reg.find_service_identity("abc"));

}

TEST_CASE("ownership tokens are kept in the certificate row, and those issued before schema 5 until they expire") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  auto c = certificate("c1");
  c.token_hash = "hash-of-token";
  c.token_expires_at = unix_now() + 3600;
  reg.insert_certificate(c);
  auto found = reg.find_certificate("c1");
  REQUIRE(found);
  CHECK(found->token_hash == "hash-of-token");
  CHECK(found->token_expires_at == c.token_expires_at);
  CHECK_FALSE(found->token_used_at);
  CHECK(reg.mark_certificate_token_used("c1", 5));
  CHECK(reg.find_certificate("c1")->token_used_at == 5);
  CHECK_FALSE(reg.mark_certificate_token_used("nope", 5));

  // Rows a registry of schema 4 holds: read, marked used, and removed once expired.
  database_of(reg).exec("INSERT INTO ownership_tokens (token_hash, certificate_id, claim_certificate_id, expires_at) VALUES "
                      "('h1', 'c1', 'claim1', " + std::to_string(unix_now() + 3600) + "), ('h2', 'c1', 'claim1', " +
                      std::to_string(unix_now() - 10) + ")");
  reg.mark_token_used("h1", 5);
  CHECK(reg.find_token("h1")->used_at == 5);
  CHECK(reg.delete_expired_tokens(unix_now()) == 1);
  CHECK_FALSE(reg.find_token("h2"));
}

TEST_CASE("pending certificates older than the cutoff are removed") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  auto old = certificate("old");
  old.created_at = unix_now() - 7200;
  reg.insert_certificate(old);
  reg.insert_certificate(certificate("new"));
  auto active = certificate("active", kActive);
  active.created_at = unix_now() - 7200;
  reg.insert_certificate(active);
  CHECK(reg.delete_pending_certificates_before(unix_now() - 3600) == std::vector<std::string>{"old"});
  CHECK(reg.find_certificate("new"));
  CHECK(reg.find_certificate("active"));
}

TEST_CASE("the audit log filters by subject, actor and action") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  reg.audit({0, 0, "claim:1", "RegisterThing", "thing-1", "ok", "127.0.0.1", "{}"});
  reg.audit({0, 0, "claim:1", "RegisterThing", "thing-2", "InvalidParameter", "127.0.0.1", "{}"});
  reg.audit({0, 0, "admin:root", "RevokeCertificate", "thing-1", "ok", "", "{}"});
  CHECK(reg.audit_entries({}).size() == 3);
  AuditFilter by_subject;
  by_subject.subject = "thing-1";
  CHECK(reg.audit_entries(by_subject).size() == 2);
  AuditFilter by_actor;
  by_actor.actor = "claim:1";
  by_actor.action = "RegisterThing";
  auto entries = reg.audit_entries(by_actor);
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].subject == "thing-2");  // newest first
}

TEST_CASE("a read-only connection sees commits from the writer and notices them via data_version") {
  TempDir dir;
  auto writer = Registry::open(dir.path / "r.db");
  auto reader = Registry::open_read_only(dir.path / "r.db");
  int64_t before = reader.data_version();
  writer.insert_thing({"t1", std::nullopt, {}});
  CHECK(reader.data_version() != before);
  CHECK(reader.find_thing("t1"));
  CHECK_THROWS_AS(reader.insert_thing({"t2", std::nullopt, {}}), RegistryError);
}

TEST_CASE("concurrent writers from several connections all commit") {
  ON_EACH_BACKEND(where);
  { auto init = Registry::open(where.location); }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      auto reg = Registry::open(where.location);
      for (int i = 0; i < 50; ++i) {
        auto tx = reg.begin();
        reg.insert_thing({"t" + std::to_string(t) + "-" + std::to_string(i), std::nullopt, {}});
        tx.commit();
      }
    });
  for (auto& th : threads) th.join();
  CHECK(Registry::open(where.location).count_things() == 200);
}

TEST_CASE("every change that can take a permission away is in the change log, whoever wrote it") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  int64_t start = reg.latest_change_id();
  auto kinds_after = [&](int64_t id) {
    std::vector<std::string> out;
    for (const auto& c : reg.changes_after(id)) out.push_back(c.kind + ":" + c.subject);
    return out;
  };
  reg.insert_thing({"t1", std::nullopt, {}});
  reg.insert_certificate(certificate("c1"));
  CHECK(kinds_after(start).empty());  // creations take nothing away
  reg.put_policy("p", "{}");
  CHECK(kinds_after(start).empty());

  reg.set_certificate_status("c1", kRevoked);
  reg.attach_policy("c1", "p");
  reg.put_policy("p", R"({"statements":[]})");
  reg.update_thing({"t1", std::string("type"), {}});
  ClaimCertificateRecord claim;
  claim.id = "claim1";
  claim.pem = "PEM";
  reg.put_claim_certificate(claim);
  reg.set_claim_status("claim1", kInactive);
  reg.put_service_identity({"svc", "w", kActive, 0, "worker"});
  reg.put_service_identity({"svc", "w", kInactive, 0, "worker"});
  reg.delete_thing("t1");
  reg.delete_certificate("c1");
  CHECK(kinds_after(start) == std::vector<std::string>{"certificate:c1", "certificate:c1", "policy:p", "thing:t1",
                                                         "claim:claim1", "service:svc", "thing:t1", "certificate:c1",
                                                         "certificate:c1"});  // deleted, and its policy detached
  int64_t latest = reg.latest_change_id();
  CHECK(reg.changes_after(latest).empty());
  CHECK(reg.delete_changes_before(unix_now() + 10) == 9);
}

TEST_CASE("registering, changing and deleting a CA are each in the change log (schema 6)") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  int64_t start = reg.latest_change_id();
  CaRecord ca;
  ca.id = "ca1";
  ca.name = "acme";
  ca.role = "manufacturer";
  ca.pem = "PEM";
  reg.put_ca(ca);  // a new CA: the broker must learn it (its devices, its TLS trust)
  ca.status = kInactive;
  reg.put_ca(ca);
  reg.delete_ca("ca1");
  std::vector<std::string> kinds;
  for (const auto& c : reg.changes_after(start)) kinds.push_back(c.kind + ":" + c.subject);
  CHECK(kinds == std::vector<std::string>{"ca:ca1", "ca:ca1", "ca:ca1"});
}

TEST_CASE("renewed certificates become due for retirement at retire_at") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  reg.insert_certificate(certificate("old", kActive));
  reg.insert_certificate(certificate("new", kActive));
  CHECK(reg.set_certificate_retire_at("old", unix_now() - 1));
  CHECK(reg.certificates_due_for_retirement(unix_now()) == std::vector<std::string>{"old"});
  reg.set_certificate_status("old", kInactive);
  CHECK(reg.certificates_due_for_retirement(unix_now()).empty());
}

// --- the WAL-batching VFS (wal_batching_vfs.h)

namespace {
AuditEntry bulky_entry(int i) {
  AuditEntry e;
  e.actor = "test";
  e.action = "Bulk";
  e.subject = "subject-" + std::to_string(i);
  e.result = "ok";
  e.detail = "{\"padding\":\"" + std::string(600, 'x') + "\"}";
  return e;
}
int64_t count_rows(Registry& reg, const std::string& table) {
  auto s = database_of(reg).prepare("SELECT count(*) FROM " + table);
  return s.step() ? s.int64(0) : -1;
}
}  // namespace

TEST_CASE("a commit's WAL frames reach the file in one write, before another connection can see the commit") {
  TempDir dir;
  auto writer = Registry::open(dir.path / "r.db");
  std::atomic<int> wal_frames{0};
  database_of(writer).disable_auto_checkpoint(wal_frames);
  auto reader = Registry::open_read_only(dir.path / "r.db");
  CHECK(reader.count_things() == 0);

  const long long before = wal_batching_vfs_writes();
  {
    auto tx = writer.begin();
    for (int i = 0; i < 20; ++i) writer.insert_thing({"thing-" + std::to_string(i), std::nullopt, {}});
    for (int i = 0; i < 20; ++i) writer.audit(bulky_entry(i));  // several pages of several tables
    tx.commit();
  }
  CHECK(wal_batching_vfs_writes() - before == 1);
  CHECK(wal_frames > 3);  // what the checkpointing thread reads
  const int frames = wal_frames;
  CHECK(database_of(writer).checkpoint() == frames);  // nothing checkpointed it meanwhile
  CHECK(reader.count_things() == 20);
  CHECK(count_rows(reader, "audit_log") == 20);
}

TEST_CASE("transactions larger than the page cache or the gathering buffer, committed or rolled back, keep the registry whole") {
  TempDir dir;
  auto writer = Registry::open(dir.path / "r.db");
  std::atomic<int> wal_frames{0};
  database_of(writer).disable_auto_checkpoint(wal_frames);
  database_of(writer).exec("PRAGMA cache_size=20");  // 20 pages: the transactions below spill to the WAL before commit
  auto reader = Registry::open_read_only(dir.path / "r.db");

  {
    auto tx = writer.begin();
    for (int i = 0; i < 3000; ++i) writer.audit(bulky_entry(i));  // about 2 MiB
    // rolled back
  }
  CHECK(count_rows(writer, "audit_log") == 0);
  {
    auto tx = writer.begin();
    for (int i = 0; i < 3000; ++i) writer.audit(bulky_entry(i));
    tx.commit();
  }
  {
    auto tx = writer.begin();
    writer.insert_thing({"after", std::nullopt, {}});
    tx.commit();
  }
  CHECK(count_rows(reader, "audit_log") == 3000);
  CHECK(reader.find_thing("after"));
  auto check = database_of(reader).prepare("PRAGMA integrity_check");
  REQUIRE(check.step());
  CHECK(check.text(0) == "ok");
  database_of(writer).checkpoint(true);
  CHECK(count_rows(reader, "audit_log") == 3000);
}

TEST_CASE("what a writer committed is in its WAL even when the process dies without closing the registry") {
  TempDir dir;
  { auto migrate = Registry::open(dir.path / "r.db"); }
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto writer = Registry::open(dir.path / "r.db");
    std::atomic<int> wal_frames{0};
    database_of(writer).disable_auto_checkpoint(wal_frames);
    auto tx = writer.begin();
    writer.insert_thing({"committed-before-the-crash", std::nullopt, {}});
    tx.commit();
    _exit(0);  // no close, no checkpoint: the next opener recovers the WAL
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  auto reader = Registry::open(dir.path / "r.db");
  CHECK(reader.find_thing("committed-before-the-crash"));
}

TEST_CASE("a password device's credential: one per thing, its secret only as a hash, its changes in the change log (schema 9)") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  CHECK(reg.schema_version() == registry::latest_schema_version());
  reg.insert_thing({"dev-1", std::nullopt, {}});
  DeviceCredentialRecord c;
  c.thing_name = "dev-1";
  c.device_uuid = "0b6f7c7e-7a43-4a43-9a3c-2f1e0c9d8b7a";
  c.secret_hash = "hash-1";
  c.issued_at = 100;
  c.policies = {"p1", "p2"};
  const int64_t start = reg.latest_change_id();
  reg.insert_device_credential(c);
  CHECK(reg.changes_after(start).empty());  // a new credential takes nothing away
  auto found = reg.find_device_credential("dev-1");
  REQUIRE(found);
  CHECK(found->device_uuid == c.device_uuid);
  CHECK(found->secret_hash == "hash-1");
  CHECK(found->status == kActive);
  CHECK(found->policies == std::vector<std::string>{"p1", "p2"});
  CHECK_FALSE(found->first_connected_at);
  CHECK(reg.find_device_credential_by_uuid(c.device_uuid)->thing_name == "dev-1");
  CHECK_FALSE(reg.find_device_credential("nobody"));
  // a second credential with the same uuid is refused by the database
  reg.insert_thing({"dev-2", std::nullopt, {}});
  DeviceCredentialRecord twin = c;
  twin.thing_name = "dev-2";
  CHECK_THROWS_AS(reg.insert_device_credential(twin), RegistryError);

  // the first connect is recorded once, and only for the current secret
  CHECK_FALSE(reg.mark_device_connected("dev-1", "other-hash", 200));
  CHECK(reg.mark_device_connected("dev-1", "hash-1", 200));
  CHECK_FALSE(reg.mark_device_connected("dev-1", "hash-1", 300));
  CHECK(reg.find_device_credential("dev-1")->first_connected_at == 200);
  reg.touch_device_credential("dev-1", 250);
  CHECK(reg.find_device_credential("dev-1")->last_seen_at == 250);
  CHECK(reg.changes_after(start).empty());  // connects and bootstrap requests take nothing away

  // rotation: a new hash, first connect cleared; status; deletion: each a 'thing' change
  CHECK(reg.set_device_secret("dev-1", "hash-2", 400));
  found = reg.find_device_credential("dev-1");
  CHECK(found->secret_hash == "hash-2");
  CHECK(found->issued_at == 400);
  CHECK_FALSE(found->first_connected_at);
  CHECK(reg.set_device_credential_status("dev-1", kInactive));
  CHECK(reg.set_device_policies("dev-1", {"p3"}));
  CHECK(reg.find_device_credential("dev-1")->policies == std::vector<std::string>{"p3"});
  CHECK(reg.delete_device_credential("dev-1"));
  CHECK_FALSE(reg.set_device_secret("dev-1", "hash-3", 500));
  std::vector<std::string> changes;
  for (const auto& ch : reg.changes_after(start)) changes.push_back(ch.kind + ":" + ch.subject);
  CHECK(changes == std::vector<std::string>{"thing:dev-1", "thing:dev-1", "thing:dev-1", "thing:dev-1"});

  // deleting the thing deletes its credential
  DeviceCredentialRecord again = c;
  again.device_uuid = "uuid-again";
  reg.insert_device_credential(again);
  reg.delete_thing("dev-1");
  CHECK_FALSE(reg.find_device_credential("dev-1"));
}

TEST_CASE("firmware releases are stored, filtered, updated and deleted") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  FirmwareReleaseRecord r;
  r.product_id = 1;
  r.version = "1.10.0";
  r.hardware_versions = {"ESP32-S3", "ESP32-C3"};
  r.download_url = "https://fw.example.com/1.10.0.bin";
  r.file_size = 1048576;
  r.sha256 = std::string(64, 'a');
  r.changelog = "faster";
  r.min_current_version = "1.0.0";
  r.rollout_percent = 50;
  const int64_t id = reg.insert_firmware_release(r);
  CHECK(id > 0);
  auto found = reg.find_firmware_release(id);
  REQUIRE(found);
  CHECK(found->version == "1.10.0");
  CHECK(found->hardware_versions == std::vector<std::string>{"ESP32-S3", "ESP32-C3"});
  CHECK(found->channel == "stable");
  CHECK(found->min_current_version == std::string("1.0.0"));
  CHECK(found->rollout_percent == 50);
  CHECK(found->enabled);
  // (product, channel, version) is unique
  CHECK_THROWS_AS(reg.insert_firmware_release(r), RegistryError);
  r.channel = "beta";
  const int64_t beta = reg.insert_firmware_release(r);
  r.product_id = 2;
  r.channel = "stable";
  reg.insert_firmware_release(r);
  CHECK(reg.list_firmware_releases({}).size() == 3);
  FirmwareFilter product1;
  product1.product_id = 1;
  CHECK(reg.list_firmware_releases(product1).size() == 2);
  product1.channel = "beta";
  REQUIRE(reg.list_firmware_releases(product1).size() == 1);
  CHECK(reg.list_firmware_releases(product1).front().id == beta);
  found->enabled = false;
  found->rollout_percent = 101;
  CHECK_THROWS_AS(reg.update_firmware_release(*found), RegistryError);  // the database refuses it too
  found->rollout_percent = 10;
  CHECK(reg.update_firmware_release(*found));
  FirmwareFilter enabled;
  enabled.enabled = true;
  CHECK(reg.list_firmware_releases(enabled).size() == 2);
  CHECK(reg.delete_firmware_release(id));
  CHECK_FALSE(reg.delete_firmware_release(id));
  CHECK_FALSE(reg.find_firmware_release(id));
  FirmwareFilter page;
  page.after_id = beta;
  CHECK(reg.list_firmware_releases(page).size() == 1);
}

TEST_CASE("the bootstrap access log filters newest first and is pruned by age") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  reg.log_bootstrap_access({0, 1000, "10.0.0.1", "AABBCCDDEEFF", "/device/info", "ok", 200, 101});
  reg.log_bootstrap_access({0, 2000, "10.0.0.2", "", "/device/info", "bad_request", 400, 100});
  reg.log_bootstrap_access({0, 3000, "10.0.0.1", "AABBCCDDEEFF", "/firmware/check", "ok", 200, 102});
  auto all = reg.bootstrap_access({});
  REQUIRE(all.size() == 3);
  CHECK(all.front().at == 3000);
  CHECK(all.front().endpoint == "/firmware/check");
  CHECK(all.front().latency_ms == 102);
  BootstrapAccessFilter f;
  f.mac = "AABBCCDDEEFF";
  CHECK(reg.bootstrap_access(f).size() == 2);
  f.endpoint = "/device/info";
  CHECK(reg.bootstrap_access(f).size() == 1);
  BootstrapAccessFilter by_status;
  by_status.outcome = "bad_request";
  CHECK(reg.bootstrap_access(by_status).front().status == 400);
  BootstrapAccessFilter since;
  since.since_ms = 2000;
  CHECK(reg.bootstrap_access(since).size() == 2);
  BootstrapAccessFilter older;
  older.before_id = all.front().id;
  older.limit = 1;
  CHECK(reg.bootstrap_access(older).front().at == 2000);
  CHECK(reg.delete_bootstrap_access_before(2500) == 2);
  CHECK(reg.bootstrap_access({}).size() == 1);
}

TEST_CASE("brokers keep an endpoint for password devices (schema 9)") {
  ON_EACH_BACKEND(where);
  auto reg = Registry::open(where.location);
  BrokerRecord b;
  b.name = "eu-1";
  b.endpoint = "mqtts://eu-1.example.com:8883";
  reg.put_broker(b);
  CHECK_FALSE(reg.find_broker("eu-1")->password_endpoint);
  b.password_endpoint = "mqtts://eu-1.example.com:8884";
  reg.put_broker(b);
  CHECK(reg.find_broker("eu-1")->password_endpoint == std::string("mqtts://eu-1.example.com:8884"));
  CHECK(reg.list_brokers().front().password_endpoint == std::string("mqtts://eu-1.example.com:8884"));
}
