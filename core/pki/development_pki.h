#pragma once
// The development PKI that `provisiond init` creates: enough to run the whole
// system on one machine. Production deployments bring their own CAs (see
// certs/README.md).
#include <filesystem>
#include <string>
#include <vector>

namespace provision::pki {

struct DevelopmentPkiOptions {
  std::vector<std::string> broker_dns_names{"localhost"};
  std::vector<std::string> broker_ip_addresses{"127.0.0.1"};
  std::string claim_common_name = "claim-batch-1";
  std::string service_common_name = "provisiond";
};

// Where each file of the development PKI lives, below one directory.
struct DevelopmentPki {
  explicit DevelopmentPki(const std::filesystem::path& dir);
  std::filesystem::path dir;
  std::filesystem::path root_cert, root_key;            // root CA (signs the others)
  std::filesystem::path fleet_ca_cert, fleet_ca_key;    // issues device certificates
  std::filesystem::path claim_ca_cert, claim_ca_key;    // issues claim certificates
  std::filesystem::path claim_cert, claim_key;          // one claim certificate
  std::filesystem::path broker_cert, broker_key;        // TLS server cert for the broker
  std::filesystem::path service_cert, service_key;      // the worker's identity
  std::filesystem::path broker_ca_bundle;               // root + fleet CA + claim CA, for a broker with a cafile (init uses the trust directory)
};

// Creates every key and certificate of the development PKI in `dir` (created
// if missing; mode 0700). Private keys are written 0600. Refuses (Error) to
// overwrite an existing PKI.
DevelopmentPki create_development_pki(const std::filesystem::path& dir,
                                      const DevelopmentPkiOptions& options = {});

}  // namespace provision::pki
