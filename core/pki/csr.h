#pragma once
// Certificate signing requests as devices send them.
#include <openssl/x509.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace provision::pki {

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

}  // namespace provision::pki
