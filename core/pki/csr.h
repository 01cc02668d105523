#pragma once
// Certificate signing requests as devices send them.
#include <openssl/x509.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace provision::pki {

class PrivateKey;

class CertificateRequest {
 public:
  // Parses a PEM CSR and checks it: well formed, self-signature valid, key
  // acceptable (EC P-256 or P-384, or RSA of at least 2048 bits). Throws
  // RequestError{400, "InvalidCsr" | "InvalidCsrSignature" | "UnsupportedKey", message}.
  static CertificateRequest from_pem(std::string_view pem);

  // The request's SubjectPublicKeyInfo as sent: issuing copies these bytes
  // instead of encoding the key anew. Owned by the request.
  struct PublicKeyInfo {
    const X509_ALGOR* algorithm;
    const unsigned char* key;
    int key_length;
  };

  std::map<std::string, std::string> subject() const;
  const X509_NAME* subject_name() const;
  PublicKeyInfo public_key_info() const;
  // The requested public key (owned by the request; do not free).
  EVP_PKEY* public_key() const;

  struct Parts;  // the parsed request and its key (csr.cpp)

 private:
  explicit CertificateRequest(std::shared_ptr<const Parts> parts);
  std::shared_ptr<const Parts> parts_;
};

// Device side: a PEM CSR for `key` with the given subject, signed with
// SHA-256. The key never leaves the device; only this request does.
std::string create_csr(const PrivateKey& key, const std::vector<std::pair<std::string, std::string>>& subject);

}  // namespace provision::pki
