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

  // Only for this connection: no fsync, and a page cache large enough for
  // the indexes the random ids land in.
  registry::OpenOptions bulk;
  bulk.bulk_load = true;
  auto registry = registry::Registry::open(registry_path, bulk);
  if (!registry.find_policy(kDevicePolicy)) throw Error(std::string("the registry has no policy ") + kDevicePolicy);

  const auto start = std::chrono::steady_clock::now();
  const int64_t now = unix_now();
  size_t done = 0;
  std::vector<registry::RegisteredDevice> batch;
  while (done < options.things) {
    const size_t end = std::min(options.things, done + std::max<size_t>(options.batch, 1));
    batch.clear();
    for (size_t i = done; i < end; ++i) {
      char number[24];
      std::snprintf(number, sizeof number, "%07zu", i);
      registry::RegisteredDevice device;
      device.thing.name = prefix + number;
      device.thing.attributes = {{"serialNumber", device.thing.name}};
      device.thing.created_at = device.thing.updated_at = now;
      auto& c = device.certificate;
      c.id = certificate_id(salt, i);
      c.pem = shared.pem;
      c.status = registry::kActive;
      c.thing_name = device.thing.name;
      c.ca_id = shared.ca_id;
      c.serial = c.id.substr(0, 32);
      c.not_before = shared.not_before;
      c.not_after = shared.not_after;
      c.created_at = c.updated_at = now;
      device.policies = {kDevicePolicy};
      batch.push_back(std::move(device));
    }
    registry.import_registered_devices(batch);
    done = end;
    std::cerr << "provision-bench: prefill " << done << "/" << options.things << "\r" << std::flush;
  }
  std::cerr << "\n";
  registry.checkpoint(true);
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
