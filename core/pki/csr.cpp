#include "pki/csr.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <climits>

#include "pki/key.h"
#include "pki/openssl_support.h"
#include "util/error.h"

namespace provision::pki {

using namespace detail;

namespace {

using X509ReqPtr = Owned<X509_REQ, X509_REQ_free>;

[[noreturn]] void reject(const char* code, const std::string& message, bool with_openssl_error) {
  std::string detail = openssl_error();
  if (!with_openssl_error) detail.clear();
  throw RequestError(400, code, detail.empty() ? message : message + " (" + detail + ")");
}

// EC P-256/P-384 or RSA >= 2048 bits; throws UnsupportedKey naming the key otherwise.
void check_key(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[80] = {};
    size_t length = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) != 1)
      reject("UnsupportedKey", "EC key without a named curve; only P-256 and P-384 are accepted",
             false);
    int nid = OBJ_sn2nid(group);
    if (nid == NID_undef) nid = EC_curve_nist2nid(group);
    if (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1) return;
    reject("UnsupportedKey",
           "EC key on curve " + std::string(group) + "; only P-256 and P-384 are accepted", false);
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits >= 2048) return;
    reject("UnsupportedKey", "RSA key of " + std::to_string(bits) + " bits; at least 2048 required",
           false);
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  reject("UnsupportedKey",
         "unsupported key type " + std::string(type ? type : "(unknown)") +
             "; EC P-256, EC P-384 or RSA of at least 2048 bits required",
         false);
}

}  // namespace

CertificateRequest::CertificateRequest(X509_REQ* req) : req_(req, X509_REQ_free) {}

CertificateRequest CertificateRequest::from_pem(std::string_view pem) {
  if (pem.empty()) throw RequestError(400, "InvalidCsr", "empty CSR");
  if (pem.size() > static_cast<size_t>(INT_MAX))
    throw RequestError(400, "InvalidCsr", "CSR too large");
  ERR_clear_error();
  BioPtr bio = memory_bio(pem);
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, no_passphrase, nullptr));
  if (!req) reject("InvalidCsr", "not a PEM certificate signing request", true);

  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) reject("InvalidCsr", "CSR public key cannot be decoded", true);
  check_key(key);
  // 1 = valid; 0 = wrong signature; -1 = malformed signature or algorithm.
  if (X509_REQ_verify(req.get(), key) != 1)
    reject("InvalidCsrSignature", "CSR signature does not verify with its public key", true);
  ERR_clear_error();
  return CertificateRequest(req.release());
}

std::map<std::string, std::string> CertificateRequest::subject() const {
  return name_fields(X509_REQ_get_subject_name(req_.get()));
}

EVP_PKEY* CertificateRequest::public_key() const { return X509_REQ_get0_pubkey(req_.get()); }

std::string create_csr(const PrivateKey& key, const std::vector<std::pair<std::string, std::string>>& subject) {
  X509ReqPtr req(X509_REQ_new());
  if (!req) fail("cannot allocate a CSR");
  NamePtr name = build_name(subject);
  if (X509_REQ_set_version(req.get(), 0) != 1 || X509_REQ_set_subject_name(req.get(), name.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1)
    fail("cannot fill in the CSR");
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) fail("cannot sign the CSR");
  BioPtr bio = output_bio();
  if (PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) fail("cannot encode the CSR as PEM");
  return bio_contents(bio.get());
}

}  // namespace provision::pki
