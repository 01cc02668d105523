#include "pki/authority.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <climits>
#include <ctime>

#include "pki/openssl_support.h"
#include "util/error.h"
#include "util/random.h"

namespace provision::pki {

using namespace detail;

namespace {

using BignumPtr = Owned<BIGNUM, BN_free>;
using MdCtxPtr = Owned<EVP_MD_CTX, EVP_MD_CTX_free>;
using BasicConstraintsPtr = Owned<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>;
using BitStringPtr = Owned<ASN1_BIT_STRING, ASN1_BIT_STRING_free>;
using ExtendedKeyUsagePtr = Owned<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;
using OctetStringPtr = Owned<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using AuthorityKeyIdPtr = Owned<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;
using GeneralNamesPtr = Owned<GENERAL_NAMES, GENERAL_NAMES_free>;
using GeneralNamePtr = Owned<GENERAL_NAME, GENERAL_NAME_free>;
using Ia5StringPtr = Owned<ASN1_IA5STRING, ASN1_IA5STRING_free>;

// keyUsage bit numbers (RFC 5280 4.2.1.3).
constexpr int kDigitalSignature = 0;
constexpr int kKeyEncipherment = 2;
constexpr int kKeyCertSign = 5;
constexpr int kCrlSign = 6;

void add_extension(X509* cert, int nid, void* value, bool critical, const char* what) {
  if (X509_add1_ext_i2d(cert, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1)
    fail(std::string("cannot add the ") + what + " extension");
}

void set_random_serial(X509* cert) {
  std::string bytes = random_bytes(16);
  bytes[0] = static_cast<char>(static_cast<unsigned char>(bytes[0]) & 0x7f);  // positive
  if (bytes.find_first_not_of('\0') == std::string::npos) bytes[15] = 1;      // non-zero
  BignumPtr number(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                             static_cast<int>(bytes.size()), nullptr));
  if (!number) fail("cannot create the serial number");
  if (BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(cert)) == nullptr)
    fail("cannot set the serial number");
}

void set_validity(X509* cert, int64_t validity_seconds) {
  if (validity_seconds <= 0) throw Error("certificate validity must be positive");
  const int64_t days = validity_seconds / 86400;
  if (days > INT_MAX) throw Error("certificate validity too long");
  time_t now = std::time(nullptr);
  if (X509_time_adj_ex(X509_getm_notBefore(cert), 0, -60, &now) == nullptr)
    fail("cannot set notBefore");
  if (X509_time_adj_ex(X509_getm_notAfter(cert), static_cast<int>(days),
                       static_cast<long>(validity_seconds % 86400), &now) == nullptr)
    fail("cannot set notAfter");
}

OctetStringPtr octet_string(const unsigned char* data, size_t length) {
  OctetStringPtr out(ASN1_OCTET_STRING_new());
  if (!out || ASN1_OCTET_STRING_set(out.get(), data, static_cast<int>(length)) != 1)
    fail("cannot allocate a key identifier");
  return out;
}

// RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
OctetStringPtr key_identifier(const X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_pubkey_digest(cert, EVP_sha1(), digest, &length) != 1)
    fail("cannot compute the key identifier");
  return octet_string(digest, length);
}

void add_basic_constraints(X509* cert, const IssueOptions& options) {
  BasicConstraintsPtr constraints(BASIC_CONSTRAINTS_new());
  if (!constraints) fail("cannot allocate basicConstraints");
  if (options.usage == Usage::Ca) {
    constraints->ca = 0xff;
    if (options.path_length >= 0) {
      constraints->pathlen = ASN1_INTEGER_new();
      if (constraints->pathlen == nullptr ||
          ASN1_INTEGER_set(constraints->pathlen, options.path_length) != 1)
        fail("cannot set pathLenConstraint");
    }
  }
  add_extension(cert, NID_basic_constraints, constraints.get(), true, "basicConstraints");
}

void add_key_usage(X509* cert, const IssueOptions& options, const EVP_PKEY* public_key) {
  BitStringPtr bits(ASN1_BIT_STRING_new());
  if (!bits) fail("cannot allocate keyUsage");
  auto set = [&](int bit) {
    if (ASN1_BIT_STRING_set_bit(bits.get(), bit, 1) != 1) fail("cannot set keyUsage");
  };
  if (options.usage == Usage::Ca) {
    set(kKeyCertSign);
    set(kCrlSign);
  } else {
    set(kDigitalSignature);
    if (EVP_PKEY_get_base_id(public_key) == EVP_PKEY_RSA) set(kKeyEncipherment);
  }
  add_extension(cert, NID_key_usage, bits.get(), true, "keyUsage");
}

void add_extended_key_usage(X509* cert, const IssueOptions& options) {
  if (options.usage == Usage::Ca) return;
  ExtendedKeyUsagePtr usages(EXTENDED_KEY_USAGE_new());
  if (!usages) fail("cannot allocate extendedKeyUsage");
  const int nid = options.usage == Usage::Server ? NID_server_auth : NID_client_auth;
  // OBJ_nid2obj returns a static object; freeing the stack leaves it alone.
  if (sk_ASN1_OBJECT_push(usages.get(), OBJ_nid2obj(nid)) <= 0) fail("cannot set extendedKeyUsage");
  add_extension(cert, NID_ext_key_usage, usages.get(), false, "extendedKeyUsage");
}

void add_key_identifiers(X509* cert, X509* issuer) {
  OctetStringPtr subject_id = key_identifier(cert);
  add_extension(cert, NID_subject_key_identifier, subject_id.get(), false, "subjectKeyIdentifier");

  AuthorityKeyIdPtr authority_id(AUTHORITY_KEYID_new());
  if (!authority_id) fail("cannot allocate authorityKeyIdentifier");
  if (issuer == nullptr) {
    authority_id->keyid = subject_id.release();  // self-signed
  } else if (const ASN1_OCTET_STRING* existing = X509_get0_subject_key_id(issuer)) {
    authority_id->keyid = ASN1_OCTET_STRING_dup(existing);
    if (authority_id->keyid == nullptr) fail("cannot copy the issuer key identifier");
  } else {
    authority_id->keyid = key_identifier(issuer).release();
  }
  add_extension(cert, NID_authority_key_identifier, authority_id.get(), false,
                "authorityKeyIdentifier");
}

void add_subject_alt_names(X509* cert, const IssueOptions& options) {
  if (options.dns_names.empty() && options.ip_addresses.empty()) return;
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) fail("cannot allocate subjectAltName");
  auto push = [&](int type, void* value) {
    GeneralNamePtr name(GENERAL_NAME_new());
    if (!name) fail("cannot allocate a subjectAltName entry");
    GENERAL_NAME_set0_value(name.get(), type, value);
    if (sk_GENERAL_NAME_push(names.get(), name.get()) <= 0)
      fail("cannot add a subjectAltName entry");
    name.release();
  };
  for (const std::string& dns : options.dns_names) {
    if (dns.empty() || dns.size() > 253)
      throw Error("invalid DNS name in subjectAltName: '" + dns + "'");
    Ia5StringPtr value(ASN1_IA5STRING_new());
    if (!value || ASN1_STRING_set(value.get(), dns.data(), static_cast<int>(dns.size())) != 1)
      fail("cannot allocate a subjectAltName DNS entry");
    push(GEN_DNS, value.get());
    value.release();  // owned by the GENERAL_NAME now
  }
  for (const std::string& ip : options.ip_addresses) {
    OctetStringPtr value(a2i_IPADDRESS(ip.c_str()));
    if (!value) {
      ERR_clear_error();
      throw Error("invalid IP address in subjectAltName: '" + ip + "'");
    }
    push(GEN_IPADD, value.get());
    value.release();
  }
  // RFC 5280 4.2.1.6: critical when the subject is empty.
  const bool critical = X509_NAME_entry_count(X509_get_subject_name(cert)) == 0;
  add_extension(cert, NID_subject_alt_name, names.get(), critical, "subjectAltName");
}

// Puts a copy of a CSR's SubjectPublicKeyInfo into `cert` field by field.
// X509_set_pubkey would re-encode the key and decode it again through
// OpenSSL 3's provider decoders, the costliest step of issuing; a copy of the
// bytes is the same certificate.
void copy_public_key_info(X509* cert, const CertificateRequest::PublicKeyInfo& spki) {
  if (spki.algorithm == nullptr || spki.key == nullptr || spki.key_length <= 0)
    throw Error("cannot read the request's public key");
  const ASN1_OBJECT* algorithm = nullptr;
  int parameter_type = V_ASN1_UNDEF;
  const void* parameter = nullptr;
  X509_ALGOR_get0(&algorithm, &parameter_type, &parameter, spki.algorithm);

  // X509_PUBKEY_set0_param takes ownership of copies of all three.
  Owned<ASN1_OBJECT, ASN1_OBJECT_free> algorithm_copy(OBJ_dup(algorithm));
  void* parameter_copy = nullptr;
  Owned<ASN1_OBJECT, ASN1_OBJECT_free> curve_copy;
  Owned<ASN1_STRING, ASN1_STRING_free> sequence_copy;
  switch (parameter_type) {
    case V_ASN1_UNDEF:
    case V_ASN1_NULL: break;  // RSA: NULL parameters
    case V_ASN1_OBJECT:       // EC: the named curve
      curve_copy.reset(OBJ_dup(static_cast<const ASN1_OBJECT*>(parameter)));
      if (!curve_copy) fail("cannot copy the key's curve");
      parameter_copy = curve_copy.get();
      break;
    case V_ASN1_SEQUENCE:  // explicit parameters (RSA-PSS)
      sequence_copy.reset(ASN1_STRING_dup(static_cast<const ASN1_STRING*>(parameter)));
      if (!sequence_copy) fail("cannot copy the key's parameters");
      parameter_copy = sequence_copy.get();
      break;
    default: throw Error("unsupported public key parameters");
  }
  auto* bytes_copy = static_cast<unsigned char*>(OPENSSL_memdup(spki.key, static_cast<size_t>(spki.key_length)));
  if (!algorithm_copy || bytes_copy == nullptr) {
    OPENSSL_free(bytes_copy);
    fail("cannot copy the public key");
  }
  if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), algorithm_copy.get(), parameter_type, parameter_copy,
                             bytes_copy, spki.key_length) != 1) {
    OPENSSL_free(bytes_copy);
    fail("cannot set the public key");
  }
  algorithm_copy.release();
  curve_copy.release();
  sequence_copy.release();
}

// Builds and signs a certificate for `public_key`. `subject` overrides
// options.subject when given; `issuer` nullptr means self-signed. With `spki`
// (the same key, already encoded) its bytes are copied rather than `public_key`
// encoded anew.
Certificate make_certificate(EVP_PKEY* public_key, const CertificateRequest::PublicKeyInfo* spki, const X509_NAME* subject, X509* issuer,
                             EVP_PKEY* signing_key, const IssueOptions& options) {
  if (public_key == nullptr) throw Error("cannot issue a certificate without a public key");
  X509Ptr cert(X509_new());
  if (!cert) fail("cannot allocate a certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) fail("cannot set the certificate version");
  set_random_serial(cert.get());
  set_validity(cert.get(), options.validity_seconds);

  if (subject != nullptr) {
    if (X509_set_subject_name(cert.get(), subject) != 1) fail("cannot set the subject");
  } else {
    static const std::vector<std::pair<std::string, std::string>> kDefaultSubject{{"CN", "device"}};
    NamePtr name = build_name(options.subject.empty() ? kDefaultSubject : options.subject);
    if (X509_set_subject_name(cert.get(), name.get()) != 1) fail("cannot set the subject");
  }
  const X509_NAME* issuer_name = X509_get_subject_name(issuer != nullptr ? issuer : cert.get());
  if (X509_set_issuer_name(cert.get(), issuer_name) != 1) fail("cannot set the issuer");
  if (spki != nullptr)
    copy_public_key_info(cert.get(), *spki);
  else if (X509_set_pubkey(cert.get(), public_key) != 1)
    fail("cannot set the public key");

  add_basic_constraints(cert.get(), options);
  add_key_usage(cert.get(), options, public_key);
  add_extended_key_usage(cert.get(), options);
  add_key_identifiers(cert.get(), issuer);
  add_subject_alt_names(cert.get(), options);

  // A context of its own per call: issue() runs concurrently on one CA.
  MdCtxPtr md_ctx(EVP_MD_CTX_new());
  if (!md_ctx) fail("cannot allocate a signing context");
  if (EVP_DigestSignInit_ex(md_ctx.get(), nullptr, "SHA256", nullptr, nullptr, signing_key,
                            nullptr) != 1)
    fail("cannot initialise SHA-256 signing with the CA key");
  if (X509_sign_ctx(cert.get(), md_ctx.get()) <= 0) fail("cannot sign the certificate");
  return Certificate::adopt(cert.release());
}

}  // namespace

CertificateAuthority::CertificateAuthority(Certificate certificate, PrivateKey key)
    : certificate_(std::move(certificate)), key_(std::move(key)) {
  if (key_.get() == nullptr) throw Error("CA " + certificate_.subject_line() + " has no key");
  if (!certificate_.is_ca())
    throw Error("certificate " + certificate_.subject_line() +
                " is not a CA (basicConstraints CA:TRUE missing)");
  if (X509_check_private_key(certificate_.get(), key_.get()) != 1) {
    ERR_clear_error();
    throw Error("the key does not match CA certificate " + certificate_.subject_line());
  }
  id_ = certificate_.id();
}

CertificateAuthority CertificateAuthority::load(const std::filesystem::path& certificate_pem,
                                                const std::filesystem::path& key_pem) {
  return CertificateAuthority(Certificate::load(certificate_pem), PrivateKey::load(key_pem));
}

CertificateAuthority CertificateAuthority::create_root(const std::string& common_name,
                                                       int64_t validity_seconds) {
  PrivateKey key = PrivateKey::generate_ec("P-256");
  IssueOptions options;
  options.subject = {{"CN", common_name}};
  options.validity_seconds = validity_seconds;
  options.usage = Usage::Ca;
  Certificate cert = make_certificate(key.get(), nullptr, nullptr, nullptr, key.get(), options);
  return CertificateAuthority(std::move(cert), std::move(key));
}

Certificate CertificateAuthority::issue(EVP_PKEY* public_key, const IssueOptions& options) const {
  return make_certificate(public_key, nullptr, nullptr, certificate_.get(), key_.get(), options);
}

Certificate CertificateAuthority::issue_from_csr(const CertificateRequest& csr,
                                                 IssueOptions options) const {
  const X509_NAME* subject = options.subject.empty() ? csr.subject_name() : nullptr;
  const CertificateRequest::PublicKeyInfo spki = csr.public_key_info();
  return make_certificate(csr.public_key(), &spki, subject, certificate_.get(),
                          key_.get(), options);
}

}  // namespace provision::pki
