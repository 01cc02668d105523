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

  std::map<std::string, std::string> subject() const;
  X509_REQ* get() const { return req_.get(); }
  // The requested public key (owned by the request; do not free).
  EVP_PKEY* public_key() const;

 private:
  explicit CertificateRequest(X509_REQ* req);
  std::shared_ptr<X509_REQ> req_;
};

// Device side: a PEM CSR for `key` with the given subject, signed with
// SHA-256. The key never leaves the device; only this request does.
std::string create_csr(const PrivateKey& key, const std::vector<std::pair<std::string, std::string>>& subject);

}  // namespace provision::pki
