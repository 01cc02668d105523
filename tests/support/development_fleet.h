#pragma once
// A development fleet in a fresh registry file, for code that decides on
// connections without a broker (the plugin's unit tests, acl-bench): the
// development PKI, its claim and fleet CAs, the claim certificate and the
// worker's service identity registered, and devices registered on demand.
// Real files, real OpenSSL, real SQLite; removed with the object.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "pki/authority.h"
#include "pki/certificate.h"
#include "pki/development_pki.h"
#include "registry/registry.h"
#include "temp_dir.h"

namespace provision::testing {

class DevelopmentFleet {
 public:
  DevelopmentFleet();

  // A client certificate for `common_name` from `ca`, with a key of its own.
  static pki::Certificate issue(const pki::CertificateAuthority& ca, const std::string& common_name,
                                int64_t validity_seconds = 24 * 3600);
  // Registers `certificate` from the fleet CA for `thing` (created when
  // missing, with `attributes`) with `status` and `policy` attached. Inside a
  // transaction of the caller's for many at once.
  void register_device(const pki::Certificate& certificate, const std::string& thing, const std::string& status,
                       const std::string& policy, const std::map<std::string, std::string>& attributes = {});

  TempDir dir;
  pki::DevelopmentPki files;
  std::filesystem::path registry_path;
  registry::Registry reg;
  pki::CertificateAuthority fleet_ca;
  pki::CertificateAuthority claim_ca;  // its CA row allows DemoFleet
  pki::Certificate claim;              // registered, "claim-batch-1", DemoFleet
  pki::Certificate service;            // the service identity "provisiond"
  int64_t now;
};

}  // namespace provision::testing
