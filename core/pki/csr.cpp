#include "pki/csr.h"

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
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

// A certification request (RFC 2986) parsed by OpenSSL's ASN.1 engine, but
// without X509_REQ: OpenSSL 3.0 decodes an X509_REQ's key while parsing,
// through a provider decoder chain built anew for each key, which cost as
// much as the rest of checking a CSR. decode_key() builds the usual keys from
// their bytes instead.
struct CsrKeyInfo {
  X509_ALGOR* algorithm;
  ASN1_BIT_STRING* public_key;
};
struct CsrInfo {
  ASN1_ENCODING encoding;  // the bytes as received, which the signature covers
  ASN1_INTEGER* version;
  X509_NAME* subject;
  CsrKeyInfo* key_info;
  STACK_OF(X509_ATTRIBUTE)* attributes;
};
struct Csr {
  CsrInfo* info;
  X509_ALGOR* signature_algorithm;
  ASN1_BIT_STRING* signature;
};

ASN1_SEQUENCE(CsrKeyInfo) = {
    ASN1_SIMPLE(CsrKeyInfo, algorithm, X509_ALGOR),
    ASN1_SIMPLE(CsrKeyInfo, public_key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CsrKeyInfo)

ASN1_SEQUENCE_enc(CsrInfo, encoding, nullptr) = {
    ASN1_SIMPLE(CsrInfo, version, ASN1_INTEGER),
    ASN1_SIMPLE(CsrInfo, subject, X509_NAME),
    ASN1_SIMPLE(CsrInfo, key_info, CsrKeyInfo),
    ASN1_IMP_SET_OF_OPT(CsrInfo, attributes, X509_ATTRIBUTE, 0),
} static_ASN1_SEQUENCE_END_ref(CsrInfo, CsrInfo)

ASN1_SEQUENCE(Csr) = {
    ASN1_SIMPLE(Csr, info, CsrInfo),
    ASN1_SIMPLE(Csr, signature_algorithm, X509_ALGOR),
    ASN1_SIMPLE(Csr, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(Csr)

// A public-only EC key on `curve` whose point is the curve's generator, built
// once per curve and never freed: copying it and setting a new point
// (EVP_PKEY_dup + EVP_PKEY_set1_encoded_public_key) costs about a quarter of
// what EVP_PKEY_fromdata costs, which builds the curve's group anew each time
// (OpenSSL 3.0: about 7 against 28 us). The copy shares nothing mutable with it.
const EVP_PKEY* curve_template(int curve) {
  auto make = [](int nid) -> EVP_PKEY* {
    Owned<EC_GROUP, EC_GROUP_free> group(EC_GROUP_new_by_curve_name(nid));
    if (!group) return nullptr;
    unsigned char* point = nullptr;
    const size_t length = EC_POINT_point2buf(group.get(), EC_GROUP_get0_generator(group.get()),
                                             POINT_CONVERSION_UNCOMPRESSED, &point, nullptr);
    if (length == 0) return nullptr;
    Owned<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    std::string name = OBJ_nid2sn(nid);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, name.data(), 0),
                           OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, length),
                           OSSL_PARAM_construct_end()};
    EVP_PKEY* key = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
      key = nullptr;
    OPENSSL_free(point);
    return key;
  };
  static const EVP_PKEY* const p256 = make(NID_X9_62_prime256v1);
  static const EVP_PKEY* const p384 = make(NID_secp384r1);
  return curve == NID_X9_62_prime256v1 ? p256 : curve == NID_secp384r1 ? p384 : nullptr;
}

// An EC P-256 or P-384 public key from its point; nullptr when the bytes are
// not a point on the curve.
EVP_PKEY* ec_public_key(int curve, const ASN1_BIT_STRING* point) {
  const EVP_PKEY* model = curve_template(curve);
  if (model == nullptr) return nullptr;
  Owned<EVP_PKEY, EVP_PKEY_free> key(EVP_PKEY_dup(const_cast<EVP_PKEY*>(model)));
  if (!key || EVP_PKEY_set1_encoded_public_key(key.get(), ASN1_STRING_get0_data(point),
                                               static_cast<size_t>(ASN1_STRING_length(point))) != 1)
    return nullptr;
  return key.release();
}

// The request's public key; nullptr when it cannot be decoded.
EVP_PKEY* decode_key(const CsrKeyInfo& info) {
  const ASN1_OBJECT* algorithm = nullptr;
  int parameter_type = V_ASN1_UNDEF;
  const void* parameter = nullptr;
  X509_ALGOR_get0(&algorithm, &parameter_type, &parameter, info.algorithm);
  if (OBJ_obj2nid(algorithm) == NID_X9_62_id_ecPublicKey && parameter_type == V_ASN1_OBJECT) {
    const int curve = OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(parameter));
    if (curve == NID_X9_62_prime256v1 || curve == NID_secp384r1) return ec_public_key(curve, info.public_key);
  }
  // RSA, and the keys check_key() refuses with their names: OpenSSL's decoders.
  unsigned char* der = nullptr;
  const int length = ASN1_item_i2d(reinterpret_cast<const ASN1_VALUE*>(&info), &der, ASN1_ITEM_rptr(CsrKeyInfo));
  if (length <= 0) return nullptr;
  const unsigned char* cursor = der;
  EVP_PKEY* key = d2i_PUBKEY(nullptr, &cursor, length);
  OPENSSL_free(der);
  return key;
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

struct CertificateRequest::Parts {
  Parts() = default;
  Parts(const Parts&) = delete;
  Parts& operator=(const Parts&) = delete;
  ~Parts() {
    ASN1_item_free(reinterpret_cast<ASN1_VALUE*>(request), ASN1_ITEM_rptr(Csr));
    EVP_PKEY_free(key);
  }
  Csr* request = nullptr;
  EVP_PKEY* key = nullptr;
};

CertificateRequest::CertificateRequest(std::shared_ptr<const Parts> parts) : parts_(std::move(parts)) {}

CertificateRequest CertificateRequest::from_pem(std::string_view pem) {
  if (pem.empty()) throw RequestError(400, "InvalidCsr", "empty CSR");
  if (pem.size() > static_cast<size_t>(INT_MAX))
    throw RequestError(400, "InvalidCsr", "CSR too large");
  ERR_clear_error();
  BioPtr bio = memory_bio(pem);
  unsigned char* der = nullptr;
  long der_length = 0;
  // Accepts "CERTIFICATE REQUEST" and the older "NEW CERTIFICATE REQUEST".
  if (PEM_bytes_read_bio(&der, &der_length, nullptr, PEM_STRING_X509_REQ, bio.get(), no_passphrase, nullptr) != 1)
    reject("InvalidCsr", "not a PEM certificate signing request", true);
  auto parts = std::make_shared<Parts>();
  const unsigned char* cursor = der;
  parts->request = reinterpret_cast<Csr*>(ASN1_item_d2i(nullptr, &cursor, der_length, ASN1_ITEM_rptr(Csr)));
  OPENSSL_free(der);
  if (parts->request == nullptr) reject("InvalidCsr", "not a PEM certificate signing request", true);

  parts->key = decode_key(*parts->request->info->key_info);
  if (parts->key == nullptr) reject("InvalidCsr", "CSR public key cannot be decoded", true);
  check_key(parts->key);
  // 1 = valid; 0 = wrong signature; -1 = malformed signature or algorithm.
  // The signature covers the request information as received (kept by the
  // ASN.1 engine), not a re-encoding of it.
  if (ASN1_item_verify_ex(ASN1_ITEM_rptr(CsrInfo), parts->request->signature_algorithm, parts->request->signature,
                          parts->request->info, nullptr, parts->key, nullptr, nullptr) != 1)
    reject("InvalidCsrSignature", "CSR signature does not verify with its public key", true);
  ERR_clear_error();
  return CertificateRequest(std::move(parts));
}

std::map<std::string, std::string> CertificateRequest::subject() const { return name_fields(subject_name()); }

const X509_NAME* CertificateRequest::subject_name() const { return parts_->request->info->subject; }

CertificateRequest::PublicKeyInfo CertificateRequest::public_key_info() const {
  const CsrKeyInfo& info = *parts_->request->info->key_info;
  return {info.algorithm, ASN1_STRING_get0_data(info.public_key), ASN1_STRING_length(info.public_key)};
}

EVP_PKEY* CertificateRequest::public_key() const { return parts_->key; }

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
