// The plugin's decision code: the registry under the plugin (missing, locked, changing) and the trust directory it writes.
// Shared fixture: plugin_fixture.h.
#include <sqlite3.h>

#include "plugin_fixture.h"

using namespace provision;
using namespace provision::plugin;
using namespace provision::plugin_test;

TEST_CASE("a missing registry fails closed, and is picked up once it appears", "[plugin][registry]") {
  TempDir dir;
  auto files = pki::create_development_pki(dir.path / "pki");
  auto claim = pki::Certificate::load(files.claim_cert);
  auto path = dir.path / "later.db";
  std::vector<LogLine> logs;
  Gatekeeper gk(parse_options({{"registry", path.string()}}),
                [&](LogLevel level, const std::string& text) { logs.push_back({level, text}); });
  int k = 0;

  CHECK_FALSE(gk.authenticate(ClientInfo{&k, "dev-1", "10.0.0.1"}, claim.get(), unix_now()).allowed);
  CHECK(gk.connection_count() == 0);
  auto has = [&](LogLevel level, const std::string& fragment) {
    return std::any_of(logs.begin(), logs.end(),
                       [&](const LogLine& l) { return l.level == level && l.text.find(fragment) != std::string::npos; });
  };
  CHECK(has(LogLevel::Error, "registry unavailable, refusing every client"));
  CHECK(has(LogLevel::Error, path.string()));
  CHECK(has(LogLevel::Notice, "refused client 'dev-1'"));
  Actions out;
  CHECK_NOTHROW(gk.on_tick(1000, out));
  CHECK(out.messages.empty());
  CHECK_FALSE(std::filesystem::exists(path));  // the plugin never creates it

  {
    auto reg = registry::Registry::open(path);
    registry::ClaimCertificateRecord row;
    row.id = claim.id();
    row.pem = claim.to_pem();
    row.description = "claim-batch-1";
    row.allowed_templates = {"DemoFleet"};
    reg.put_claim_certificate(row);
  }
  auto r = gk.authenticate(ClientInfo{&k, "dev-1", "10.0.0.1"}, claim.get(), unix_now());
  CHECK(r.allowed);
  CHECK(r.username == "claim:" + claim.id().substr(0, 16));
  CHECK(has(LogLevel::Notice, "opened"));
}

TEST_CASE("a registry that cannot be read (locked) refuses clients with a clear log line and recovers", "[plugin][registry]") {
  Fixture f;
  // A copy nobody else has open: in WAL mode only a connection in exclusive
  // locking mode keeps readers out, and it can take that lock only alone.
  database_of(f.reg).exec("PRAGMA wal_checkpoint(TRUNCATE)");
  auto copy = f.dir.path / "copy.db";
  std::filesystem::copy_file(f.registry_path, copy);
  f.registry_path = copy;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(copy.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE things SET version = version; COMMIT;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  auto gk = f.gatekeeper();
  auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(sign_in(*gk, f.key(0), "c0", f.claim, f.now).allowed);
  // a locked registry costs a connect at most the plugin's busy timeout (100 ms), never a stall
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  CHECK(f.logged_at(LogLevel::Error, "registry unavailable, refusing every client until it returns"));
  CHECK(f.logged("refused client 'c0'"));
  sqlite3_close(db);
  CHECK(sign_in(*gk, f.key(0), "c0", f.claim, f.now).allowed);
  CHECK(f.logged("registry " + f.registry_path.string() + " opened"));
}

namespace {

using StorePtr = std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)>;
using StoreContextPtr = std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)>;

// Verifies `leaf` the way the broker does with `capath DIR`: a hashed
// directory lookup, nothing else trusted, no chain sent beyond the leaf.
bool verifies_through(const std::filesystem::path& dir, const pki::Certificate& leaf) {
  StorePtr store(X509_STORE_new(), X509_STORE_free);
  REQUIRE(store);
  REQUIRE(X509_STORE_load_path(store.get(), dir.c_str()) == 1);
  StoreContextPtr context(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  REQUIRE(context);
  REQUIRE(X509_STORE_CTX_init(context.get(), store.get(), leaf.get(), nullptr) == 1);
  bool ok = X509_verify_cert(context.get()) == 1;
  ERR_clear_error();
  return ok;
}

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TrustedCa trusted(const pki::CertificateAuthority& ca, const std::string& role = "manufacturer") {
  return {ca.certificate().id(), role, ca.certificate().to_pem()};
}

}  // namespace

TEST_CASE("trust directory: each CA under its OpenSSL hashed name, as openssl rehash names it, and OpenSSL verifies through it",
          "[plugin][trust]") {
  TempDir dir;
  auto trust = dir.path / "trust";
  auto acme = pki::CertificateAuthority::create_root("Acme Factory CA", 3600);
  auto globex = pki::CertificateAuthority::create_root("Globex Factory CA", 3600);
  auto stranger = pki::CertificateAuthority::create_root("Stranger CA", 3600);
  auto done = TrustDirectory(trust).sync({trusted(acme), trusted(globex, "claim")});  // creates the directory
  const std::string acme_file = acme.certificate().subject_name_hash() + ".0";
  const std::string globex_file = globex.certificate().subject_name_hash() + ".0";
  CHECK(files_in(trust) == [&] {
    std::vector<std::string> v{acme_file, globex_file};
    std::sort(v.begin(), v.end());
    return v;
  }());
  CHECK(done.written.size() == 2);
  CHECK(read_file(trust / acme_file).starts_with(TrustDirectory::kMarker));
  CHECK(pki::Certificate::load(trust / acme_file).id() == acme.certificate().id());

  CHECK(verifies_through(trust, issue_client(acme, "SN-1")));
  CHECK(verifies_through(trust, issue_client(globex, "SN-2")));
  CHECK_FALSE(verifies_through(trust, issue_client(stranger, "SN-3")));

  // The names openssl rehash gives the same certificates.
  if (std::system("openssl version >/dev/null 2>&1") == 0) {
    auto rehashed = dir.path / "rehashed";
    std::filesystem::create_directories(rehashed);
    write_file(rehashed / "acme.pem", acme.certificate().to_pem(), 0644);
    write_file(rehashed / "globex.pem", globex.certificate().to_pem(), 0644);
    REQUIRE(std::system(("openssl rehash " + rehashed.string() + " >/dev/null 2>&1").c_str()) == 0);
    std::vector<std::string> links;
    for (const auto& name : files_in(rehashed))
      if (!name.ends_with(".pem")) links.push_back(name);
    CHECK(links == files_in(trust));
  } else {
    WARN("no openssl command: the names were checked against OpenSSL's lookup only");
  }

  // Nothing changed: nothing written.
  auto again = TrustDirectory(trust).sync({trusted(acme), trusted(globex, "claim")});
  CHECK_FALSE(again.changed());
}

TEST_CASE("trust directory: CAs with the same subject take .0, .1 without a gap, also after one goes", "[plugin][trust]") {
  TempDir dir;
  auto first = pki::CertificateAuthority::create_root("Same Name CA", 3600);
  auto second = pki::CertificateAuthority::create_root("Same Name CA", 3600);
  REQUIRE(first.certificate().subject_name_hash() == second.certificate().subject_name_hash());
  const std::string hash = first.certificate().subject_name_hash();
  TrustDirectory trust(dir.path);
  trust.sync({trusted(first), trusted(second)});
  CHECK(files_in(dir.path) == std::vector<std::string>{hash + ".0", hash + ".1"});
  CHECK(verifies_through(dir.path, issue_client(first, "a")));
  CHECK(verifies_through(dir.path, issue_client(second, "b")));

  // Whichever goes, the other is .0: OpenSSL stops at the first missing suffix.
  std::string kept_id = pki::Certificate::load(dir.path / (hash + ".1")).id();
  const auto& kept = kept_id == first.certificate().id() ? first : second;
  const auto& gone = kept_id == first.certificate().id() ? second : first;
  auto done = trust.sync({trusted(kept)});
  CHECK(files_in(dir.path) == std::vector<std::string>{hash + ".0"});
  CHECK(pki::Certificate::load(dir.path / (hash + ".0")).id() == kept.certificate().id());
  CHECK(done.written == std::vector<std::string>{hash + ".0"});
  CHECK(done.removed == std::vector<std::string>{hash + ".1"});
  CHECK(verifies_through(dir.path, issue_client(kept, "c")));
  CHECK_FALSE(verifies_through(dir.path, issue_client(gone, "d")));

  trust.sync({});
  CHECK(files_in(dir.path).empty());
}

TEST_CASE("trust directory: files that are not the plugin's are never touched, and its own are numbered around them",
          "[plugin][trust]") {
  TempDir dir;
  auto mine = pki::CertificateAuthority::create_root("Shared Name CA", 3600);
  auto theirs = pki::CertificateAuthority::create_root("Shared Name CA", 3600);
  const std::string hash = mine.certificate().subject_name_hash();
  // An operator's own CA under the same hash (no marker), a symlink, notes.
  write_file(dir.path / (hash + ".0"), theirs.certificate().to_pem(), 0644);
  write_file(dir.path / "README", "operator notes\n", 0644);
  write_file(dir.path / "theirs.pem", theirs.certificate().to_pem(), 0644);
  std::filesystem::create_symlink("theirs.pem", dir.path / "0badcafe.0");
  auto before = [&](const std::string& name) { return read_file(dir.path / name); };
  const std::string their_file = before(hash + ".0");

  TrustDirectory trust(dir.path);
  auto done = trust.sync({trusted(mine)});
  CHECK(done.written == std::vector<std::string>{hash + ".1"});
  CHECK(read_file(dir.path / (hash + ".0")) == their_file);
  CHECK(verifies_through(dir.path, issue_client(mine, "a")));
  CHECK(verifies_through(dir.path, issue_client(theirs, "b")));

  done = trust.sync({});
  CHECK(done.removed == std::vector<std::string>{hash + ".1"});
  CHECK(files_in(dir.path) == std::vector<std::string>{"0badcafe.0", hash + ".0", "README", "theirs.pem"});
  CHECK(read_file(dir.path / (hash + ".0")) == their_file);
  CHECK(std::filesystem::is_symlink(dir.path / "0badcafe.0"));
}

TEST_CASE("trust directory: the gatekeeper writes the registry's active CAs at start and follows every CA change",
          "[plugin][trust]") {
  Fixture f;
  auto trust = f.dir.path / "trust";
  auto gk = f.gatekeeper({{"trust_dir", trust.string()}});
  // At start, before any client: the fixture's claim and fleet CAs.
  auto claim_file = trust / (f.claim_ca.certificate().subject_name_hash() + ".0");
  auto fleet_file = trust / (f.fleet_ca.certificate().subject_name_hash() + ".0");
  CHECK(files_in(trust).size() == 2);
  CHECK(std::filesystem::exists(claim_file));
  CHECK(std::filesystem::exists(fleet_file));
  CHECK(f.logged("trust directory " + trust.string()));

  auto factory = pki::CertificateAuthority::create_root("Runtime Factory CA", 3600);
  auto factory_file = trust / (factory.certificate().subject_name_hash() + ".0");
  registry::CaRecord row;
  row.id = factory.certificate().id();
  row.name = "runtime-factory";
  row.role = "manufacturer";
  row.pem = factory.certificate().to_pem();
  f.reg.put_ca(row);
  int64_t now_ms = 1'000'000;
  Actions out;
  gk->on_tick(now_ms, out);
  CHECK(std::filesystem::exists(factory_file));
  CHECK(verifies_through(trust, issue_client(factory, "SN-9")));

  row.status = registry::kInactive;  // disabled: no longer offered to TLS
  f.reg.put_ca(row);
  gk->on_tick(now_ms += gk->options().registry_poll_ms, out);
  CHECK_FALSE(std::filesystem::exists(factory_file));
  row.status = registry::kActive;
  f.reg.put_ca(row);
  gk->on_tick(now_ms += gk->options().registry_poll_ms, out);
  CHECK(std::filesystem::exists(factory_file));
  f.reg.delete_ca(row.id);
  gk->on_tick(now_ms += gk->options().registry_poll_ms, out);
  CHECK_FALSE(std::filesystem::exists(factory_file));
  CHECK(std::filesystem::exists(claim_file));

  // trust_dir belongs in mosquitto.conf (it must match the broker's capath).
  auto file = f.dir.path / "plugin.conf";
  write_file(file, "trust_dir /elsewhere\n", 0644);
  CHECK_THROWS_WITH(parse_options({{"registry", "r.db"}, {"options_file", file.string()}}), Catch::Contains("belongs in mosquitto.conf"));
}

TEST_CASE("trust directory: a directory the plugin cannot write is logged once and retried at every poll", "[plugin][trust]") {
  Fixture f;
  auto blocker = f.dir.path / "not-a-directory";
  write_file(blocker, "x", 0644);
  auto gk = f.gatekeeper({{"trust_dir", (blocker / "trust").string()}});
  CHECK(f.logged_at(LogLevel::Error, "cannot update the trust directory"));
  Actions out;
  gk->on_tick(1'000'000, out);
  gk->on_tick(1'000'000 + gk->options().registry_poll_ms, out);
  CHECK(std::count_if(f.logs.begin(), f.logs.end(),
                      [](const LogLine& l) { return l.text.find("cannot update the trust directory") != std::string::npos; }) == 1);
  std::filesystem::remove(blocker);
  std::filesystem::create_directories(blocker);
  gk->on_tick(1'000'000 + 2 * gk->options().registry_poll_ms, out);
  CHECK(files_in(blocker / "trust").size() == 2);
  CHECK(sign_in(*gk, f.key(0), "dev-1", f.claim, f.now).allowed);  // clients were never affected
}
