#include "pre_issued_devices.h"

#include <cstdio>
#include <fstream>

#include "pki/authority.h"
#include "pki/key.h"
#include "registry/registry.h"
#include "util/error.h"
#include "util/files.h"

namespace provision::bench {
namespace {

std::filesystem::path devices_dir(const StackSettings& stack) { return stack.dir / "bench-devices"; }
std::filesystem::path index_file(const StackSettings& stack) { return devices_dir(stack) / "devices.txt"; }

PreIssuedDevice device_named(const StackSettings& stack, const std::string& name) {
  const auto dir = devices_dir(stack);
  return {name, "devices/" + name + "/telemetry", dir / (name + ".pem"), dir / (name + ".key"), {}, std::nullopt};
}

std::string thing_name(size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "baseline-%06zu", index);
  return name;
}

}  // namespace

std::vector<PreIssuedDevice> load_pre_issued_devices(const StackSettings& stack) {
  std::vector<PreIssuedDevice> devices;
  std::ifstream in(index_file(stack));
  for (std::string name; std::getline(in, name);) {
    if (name.empty()) continue;
    PreIssuedDevice device = device_named(stack, name);
    device.certificate_pem = read_file(device.certificate_file);
    device.key = pki::PrivateKey::from_pem(read_file(device.key_file));
    devices.push_back(std::move(device));
  }
  return devices;
}

std::vector<PreIssuedDevice> ensure_pre_issued_devices(const StackSettings& stack, size_t count) {
  auto devices = load_pre_issued_devices(stack);
  if (devices.size() >= count) return devices;

  std::filesystem::create_directories(devices_dir(stack));
  auto ca = pki::CertificateAuthority::load(stack.fleet_ca_certificate, stack.fleet_ca_key);
  const std::string ca_id = ca.certificate().id();
  auto registry = registry::Registry::open(stack.registry);
  std::vector<PreIssuedDevice> added;
  {
    auto tx = registry.begin();
    for (size_t i = devices.size(); i < count; ++i) {
      PreIssuedDevice device = device_named(stack, thing_name(i + 1));
      auto key = pki::PrivateKey::generate_ec("P-256");
      pki::IssueOptions options;
      options.subject = {{"CN", device.thing_name}};
      auto certificate = ca.issue(key.get(), options);
      device.key = key;
      device.certificate_pem = certificate.to_pem();
      write_file(device.key_file, key.to_pem(), 0600);
      write_file(device.certificate_file, device.certificate_pem, 0644);

      registry::ThingRecord thing;
      thing.name = device.thing_name;
      thing.attributes = {{"serialNumber", device.thing_name}};
      registry.insert_thing(thing);
      registry::CertificateRecord record;
      record.id = certificate.id();
      record.pem = certificate.to_pem();
      record.status = registry::kActive;
      record.thing_name = device.thing_name;
      record.ca_id = ca_id;
      record.serial = certificate.serial_hex();
      record.not_before = certificate.not_before();
      record.not_after = certificate.not_after();
      registry.insert_certificate(record);
      registry.attach_policy(record.id, kDevicePolicy);
      added.push_back(std::move(device));
    }
    tx.commit();
  }
  // The index names only devices whose registration committed.
  std::ofstream out(index_file(stack), std::ios::app);
  for (const auto& device : added) out << device.thing_name << "\n";
  if (!out) throw Error("cannot write " + index_file(stack).string());
  devices.insert(devices.end(), added.begin(), added.end());
  return devices;
}

}  // namespace provision::bench
