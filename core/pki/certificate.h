#pragma once
// X.509 certificates: parsing, identity (certificateId) and the subject
// fields that templates use as pseudo-parameters.
#include <openssl/x509.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/handle.h"

namespace provision::pki {

using X509Ptr = Owned<X509, X509_free>;

class Certificate {
 public:
  // Takes ownership of `cert` (e.g. what mosquitto_client_certificate returns)
  // as it is. Certificates read from PEM or DER also get OpenSSL's extension
  // cache filled, so that threads may share them; an adopted one made here
  // has it filled where it is first used (CertificateAuthority's constructor,
  // through is_ca(), for a CA), and the broker's verification fills it for a
  // client's.
  static Certificate adopt(X509* cert);
  // The first certificate in `pem`; throws Error when there is none or it is malformed.
  static Certificate from_pem(std::string_view pem);
  // Every certificate in a PEM bundle, in order; throws when there is none.
  static std::vector<Certificate> all_from_pem(std::string_view pem);
  static Certificate from_der(std::string_view der);
  static Certificate load(const std::filesystem::path& path);
  // The subject fields of the first certificate in `pem`, read from the DER
  // without building the certificate: OpenSSL 3 decodes every parsed
  // certificate's public key through its provider decoders, which costs more
  // than everything else a registration does with the certificate.
  // Throws Error when `pem` holds no well-formed certificate header.
  static std::map<std::string, std::string> subject_from_pem(std::string_view pem);

  std::string to_pem() const;
  std::string der() const;
  // certificateId: lowercase hex SHA-256 of the DER encoding (64 chars).
  std::string id() const;
  // Serial number as lowercase hex without leading zeros ("0" for zero).
  std::string serial_hex() const;
  // Validity as Unix seconds.
  int64_t not_before() const;
  int64_t not_after() const;
  bool is_ca() const;

  // Subject fields keyed by their OpenSSL short names ("CN", "O", "OU", "C",
  // "ST", "L", "serialNumber", "dnQualifier", ...). Repeated fields keep the
  // first value.
  std::map<std::string, std::string> subject() const;
  // One subject field by short name, "" when absent.
  std::string subject_field(std::string_view short_name) const;
  // Subject as a one-line RFC 2253 string, for logs.
  std::string subject_line() const;
  std::string issuer_line() const;
  // OpenSSL's hash of the subject name (X509_NAME_hash_ex): the name a CA
  // file takes in a hashed directory (`openssl rehash`, a broker's capath),
  // as 8 lowercase hex digits.
  std::string subject_name_hash() const;

  // True when `issuer`'s subject is this certificate's issuer name and
  // `issuer`'s public key verifies this certificate's signature.
  bool issued_by(const Certificate& issuer) const;

  X509* get() const { return cert_.get(); }

 private:
  explicit Certificate(X509* cert);
  std::shared_ptr<X509> cert_;
};

}  // namespace provision::pki
