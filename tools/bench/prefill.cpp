#include "prefill.h"

#include <cstdint>
#include <cstdio>
#include <iostream>

#include "pki/authority.h"
#include "pki/key.h"
#include "pre_issued_devices.h"
#include "registry/registry.h"
#include "report.h"
#include "stack.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"
#include "util/random.h"

namespace provision::bench {
namespace {

// The certificate whose PEM every pre-filled row shares (ids and serials are
// unique per row; nobody connects with these certificates).
struct SharedCertificate {
  std::string pem, ca_id;
  int64_t not_before = 0, not_after = 0;
};

SharedCertificate make_shared_certificate(const PrefillOptions& options) {
  auto ca = [&] {
    if (options.stack.empty()) return pki::CertificateAuthority::create_root("provision-bench prefill CA", 365LL * 24 * 3600);
    const StackSettings stack = load_stack(options.stack);
    return pki::CertificateAuthority::load(stack.fleet_ca_certificate, stack.fleet_ca_key);
  }();
  auto key = pki::PrivateKey::generate_ec("P-256");
  pki::IssueOptions issue;
  issue.subject = {{"CN", "prefilled device"}};
  auto certificate = ca.issue(key.get(), issue);
  return {certificate.to_pem(), ca.certificate().id(), certificate.not_before(), certificate.not_after()};
}

// splitmix64: a cheap bijection, so ids look random (as SHA-256 ids are, and
// land all over the index) yet never repeat.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A 64-hex certificate id, unique per (salt, n).
std::string certificate_id(uint64_t salt, uint64_t n) {
  char id[65];
  std::snprintf(id, sizeof id, "%016llx%016llx%016llx%016llx", static_cast<unsigned long long>(mix(n ^ salt)),
                static_cast<unsigned long long>(n), static_cast<unsigned long long>(mix(n + salt)),
                static_cast<unsigned long long>(salt));
  return id;
}

}  // namespace

int prefill_registry(const PrefillOptions& options) {
  const auto registry_path = options.registry.empty() ? load_stack(options.stack).registry : options.registry;
  const SharedCertificate shared = make_shared_certificate(options);
  const std::string prefix = "prefill-" + random_token(3) + "-";
  const uint64_t salt = mix(static_cast<uint64_t>(unix_now()));

  auto registry = registry::Registry::open(registry_path);
  auto& db = registry.database();
  if (!registry.find_policy(kDevicePolicy)) throw Error(std::string("the registry has no policy ") + kDevicePolicy);
  // Only for this connection: no fsync, and a page cache large enough for
  // the indexes the random ids land in.
  db.exec("PRAGMA synchronous=OFF");
  db.exec("PRAGMA cache_size=-524288");

  const auto start = std::chrono::steady_clock::now();
  const int64_t now = unix_now();
  size_t done = 0;
  while (done < options.things) {
    const size_t end = std::min(options.things, done + std::max<size_t>(options.batch, 1));
    auto tx = registry.begin();
    // Triggers log policy attachments in registry_changes for the broker
    // plugin; these rows concern no connected client, and provisiond prunes
    // the log after a day anyway: they leave with the transaction.
    const int64_t last_change = registry.latest_change_id();
    for (size_t i = done; i < end; ++i) {
      char number[24];
      std::snprintf(number, sizeof number, "%07zu", i);
      const std::string name = prefix + number;
      const std::string id = certificate_id(salt, i);
      db.prepare("INSERT INTO things (name, thing_type, attributes, version, created_at, updated_at) "
                 "VALUES (?, NULL, ?, 1, ?, ?)")
          .bind(1, name)
          .bind(2, "{\"serialNumber\":\"" + name + "\"}")
          .bind(3, now)
          .bind(4, now)
          .run();
      db.prepare("INSERT INTO certificates (id, pem, status, thing_name, ca_id, serial, not_before, not_after, "
                 "claim_certificate_id, created_at, updated_at) VALUES (?, ?, 'ACTIVE', ?, ?, ?, ?, ?, NULL, ?, ?)")
          .bind(1, id)
          .bind(2, shared.pem)
          .bind(3, name)
          .bind(4, shared.ca_id)
          .bind(5, id.substr(0, 32))
          .bind(6, shared.not_before)
          .bind(7, shared.not_after)
          .bind(8, now)
          .bind(9, now)
          .run();
      db.prepare("INSERT INTO certificate_policies (certificate_id, policy_name) VALUES (?, ?)")
          .bind(1, id)
          .bind(2, kDevicePolicy)
          .run();
    }
    db.prepare("DELETE FROM registry_changes WHERE id > ?").bind(1, last_change).run();
    tx.commit();
    done = end;
    std::cerr << "provision-bench: prefill " << done << "/" << options.things << "\r" << std::flush;
  }
  std::cerr << "\n";
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("kind", "prefill", a);
  doc.AddMember("registry", json::string_value(registry_path.string(), a), a);
  doc.AddMember("added", static_cast<uint64_t>(options.things), a);
  doc.AddMember("seconds", seconds, a);
  doc.AddMember("things_per_second", seconds > 0 ? static_cast<double>(options.things) / seconds : 0.0, a);
  doc.AddMember("registry_things", registry.count_things(), a);
  std::error_code ec;
  const auto size = std::filesystem::file_size(registry_path, ec);
  doc.AddMember("registry_kb", ec ? 0.0 : static_cast<double>(size) / 1024, a);
  std::cout << prefill_markdown(doc) << std::flush;
  if (!options.json_file.empty()) write_json_file(options.json_file, doc);
  return 0;
}

}  // namespace provision::bench
