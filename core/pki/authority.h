#pragma once
// A certificate authority: a CA certificate with its key, issuing
// certificates. The fleet CA issues device certificates with it.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/key.h"

namespace provision::pki {

enum class Usage {
  Client,  // end entity, extendedKeyUsage clientAuth (devices, claims, the worker)
  Server,  // end entity, extendedKeyUsage serverAuth (the broker)
  Ca,      // CA:TRUE, keyCertSign + cRLSign
};

struct IssueOptions {
  // Subject as (short name, value) pairs in order, e.g. {{"CN", "device-1"}}.
  // Empty means: take the subject of the CSR (issue_from_csr) or CN="device".
  std::vector<std::pair<std::string, std::string>> subject;
  int64_t validity_seconds = 365LL * 24 * 3600;
  Usage usage = Usage::Client;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries
  int path_length = -1;                   // CA only; -1 = no pathLenConstraint
};

class CertificateAuthority {
 public:
  // Throws Error when `key` does not match `certificate` or it is not a CA.
  CertificateAuthority(Certificate certificate, PrivateKey key);
  static CertificateAuthority load(const std::filesystem::path& certificate_pem,
                                   const std::filesystem::path& key_pem);
  // A self-signed root CA.
  static CertificateAuthority create_root(const std::string& common_name, int64_t validity_seconds);

  // Issues a certificate for `public_key`: version 3, random positive 128-bit
  // serial, notBefore = now - 60 s (clock skew), SKI/AKI, basicConstraints,
  // keyUsage and extendedKeyUsage from `options.usage`, SHA-256 signature.
  // Nothing requested by the subject is copied except the public key.
  Certificate issue(EVP_PKEY* public_key, const IssueOptions& options) const;
  // Issues for a checked CSR: its public key and (unless options.subject is
  // set) its subject; requested extensions are ignored. The key's encoding is
  // copied, not re-encoded: X509_get0_pubkey on the returned object is null
  // until it is parsed again (from_der(der())); its DER, PEM and id are final.
  Certificate issue_from_csr(const CertificateRequest& csr, IssueOptions options) const;

  const Certificate& certificate() const { return certificate_; }
  // The CA certificate's certificateId, computed once (every issuance records it).
  const std::string& id() const { return id_; }
  const PrivateKey& key() const { return key_; }

 private:
  Certificate certificate_;
  PrivateKey key_;
  std::string id_;
};

}  // namespace provision::pki
