#include "pki/development_pki.h"

#include <system_error>

#include "pki/authority.h"
#include "util/error.h"
#include "util/files.h"

namespace provision::pki {

namespace {

constexpr int64_t kYear = 365LL * 24 * 3600;
constexpr int64_t kCaValidity = 10 * kYear;
constexpr int64_t kEndEntityValidity = 2 * kYear;

struct Issued {
  Certificate certificate;
  PrivateKey key;
};

Issued issue_with_new_key(const CertificateAuthority& ca, IssueOptions options) {
  PrivateKey key = PrivateKey::generate_ec("P-256");
  Certificate cert = ca.issue(key.get(), options);
  return {std::move(cert), std::move(key)};
}

CertificateAuthority intermediate_ca(const CertificateAuthority& root, const std::string& name) {
  IssueOptions options;
  options.subject = {{"CN", name}};
  options.validity_seconds = kCaValidity;
  options.usage = Usage::Ca;
  options.path_length = 0;
  Issued issued = issue_with_new_key(root, options);
  return CertificateAuthority(std::move(issued.certificate), std::move(issued.key));
}

Issued end_entity(const CertificateAuthority& ca, const std::string& common_name, Usage usage,
                  const std::vector<std::string>& dns_names = {},
                  const std::vector<std::string>& ip_addresses = {}) {
  IssueOptions options;
  options.subject = {{"CN", common_name}};
  options.validity_seconds = kEndEntityValidity;
  options.usage = usage;
  options.dns_names = dns_names;
  options.ip_addresses = ip_addresses;
  return issue_with_new_key(ca, options);
}

void write_pair(const std::filesystem::path& cert_path, const std::filesystem::path& key_path,
                const Certificate& cert, const PrivateKey& key) {
  write_file(key_path, key.to_pem(), 0600);
  write_file(cert_path, cert.to_pem(), 0644);
}

}  // namespace

DevelopmentPki::DevelopmentPki(const std::filesystem::path& directory)
    : dir(directory),
      root_cert(directory / "root-ca.pem"),
      root_key(directory / "root-ca.key"),
      fleet_ca_cert(directory / "fleet-ca.pem"),
      fleet_ca_key(directory / "fleet-ca.key"),
      claim_ca_cert(directory / "claim-ca.pem"),
      claim_ca_key(directory / "claim-ca.key"),
      claim_cert(directory / "claim.pem"),
      claim_key(directory / "claim.key"),
      broker_cert(directory / "broker.pem"),
      broker_key(directory / "broker.key"),
      service_cert(directory / "service.pem"),
      service_key(directory / "service.key"),
      broker_ca_bundle(directory / "ca-bundle.pem") {}

DevelopmentPki create_development_pki(const std::filesystem::path& dir,
                                      const DevelopmentPkiOptions& options) {
  namespace fs = std::filesystem;
  const DevelopmentPki pki(dir);
  std::error_code ec;

  // Refuse to overwrite any part of an existing PKI, before generating anything.
  for (const fs::path& file :
       {pki.root_cert, pki.root_key, pki.fleet_ca_cert, pki.fleet_ca_key, pki.claim_ca_cert,
        pki.claim_ca_key, pki.claim_cert, pki.claim_key, pki.broker_cert, pki.broker_key,
        pki.service_cert, pki.service_key, pki.broker_ca_bundle}) {
    if (fs::exists(fs::symlink_status(file, ec)))
      throw Error("refusing to overwrite the existing development PKI: " + file.string() +
                  " exists");
  }

  if (!fs::exists(dir, ec)) {
    if (!fs::create_directories(dir, ec) && ec)
      throw Error("cannot create " + dir.string() + ": " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) throw Error("cannot set the mode of " + dir.string() + ": " + ec.message());
  } else if (!fs::is_directory(dir, ec)) {
    throw Error("cannot create the development PKI: " + dir.string() + " is not a directory");
  }

  const CertificateAuthority root =
      CertificateAuthority::create_root("Development Root CA", kCaValidity);
  const CertificateAuthority fleet_ca = intermediate_ca(root, "Development Fleet CA");
  const CertificateAuthority claim_ca = intermediate_ca(root, "Development Claim CA");

  const Issued claim = end_entity(claim_ca, options.claim_common_name, Usage::Client);
  const std::string broker_name =
      !options.broker_dns_names.empty()      ? options.broker_dns_names.front()
      : !options.broker_ip_addresses.empty() ? options.broker_ip_addresses.front()
                                             : "localhost";
  const Issued broker = end_entity(root, broker_name, Usage::Server, options.broker_dns_names,
                                   options.broker_ip_addresses);
  const Issued service = end_entity(root, options.service_common_name, Usage::Client);

  write_pair(pki.fleet_ca_cert, pki.fleet_ca_key, fleet_ca.certificate(), fleet_ca.key());
  write_pair(pki.claim_ca_cert, pki.claim_ca_key, claim_ca.certificate(), claim_ca.key());
  write_pair(pki.claim_cert, pki.claim_key, claim.certificate, claim.key);
  write_pair(pki.broker_cert, pki.broker_key, broker.certificate, broker.key);
  write_pair(pki.service_cert, pki.service_key, service.certificate, service.key);
  write_file(pki.broker_ca_bundle,
             root.certificate().to_pem() + fleet_ca.certificate().to_pem() +
                 claim_ca.certificate().to_pem(),
             0644);
  // The root last: its presence marks a complete PKI.
  write_pair(pki.root_cert, pki.root_key, root.certificate(), root.key());
  return pki;
}

}  // namespace provision::pki
