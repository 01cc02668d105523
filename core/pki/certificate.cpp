#include "pki/certificate.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <ctime>

#include "pki/openssl_support.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/files.h"

namespace provision::pki {

using namespace detail;

namespace {

int64_t unix_seconds(const ASN1_TIME* time) {
  struct tm parts {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) fail("malformed certificate validity");
  using namespace std::chrono;
  const sys_days date = year{parts.tm_year + 1900} /
                        month{static_cast<unsigned>(parts.tm_mon + 1)} /
                        day{static_cast<unsigned>(parts.tm_mday)};
  const auto since_epoch = date.time_since_epoch() + hours{parts.tm_hour} + minutes{parts.tm_min} +
                           seconds{parts.tm_sec};
  return duration_cast<seconds>(since_epoch).count();
}

// One DER element at `cursor` (at most `length` bytes): its header is read and
// bounds-checked by OpenSSL; returns the content start and size.
struct DerElement {
  const unsigned char* start = nullptr;    // the header
  const unsigned char* content = nullptr;  // after the header
  long content_length = 0;
  int tag = 0;
  int tag_class = 0;
  const unsigned char* end() const { return content + content_length; }
};

DerElement read_element(const unsigned char* cursor, long length) {
  DerElement element;
  element.start = cursor;
  element.content = cursor;
  const int flags = ASN1_get_object(&element.content, &element.content_length, &element.tag,
                                    &element.tag_class, length);
  if ((flags & 0x80) != 0) fail("malformed certificate DER");
  if ((flags & V_ASN1_CONSTRUCTED) == 0 && element.tag == V_ASN1_SEQUENCE)
    throw Error("malformed certificate DER: primitive SEQUENCE");
  return element;
}

// OpenSSL decodes a certificate's extensions into a cache on first use,
// from whichever thread gets there first. A certificate read from bytes may
// be shared (a CA in a trust store that several threads verify against):
// filling its cache here makes every later use a read. ThreadSanitizer
// caught one thread comparing a CA's key identifier while another was
// writing it. (-1: no purpose checked, only the cache filled; a certificate
// with a malformed extension is marked invalid there and refused where it is
// used. What it finds is not the parser's to report.)
X509* with_extensions_cached(X509* cert) {
  ERR_set_mark();
  X509_check_purpose(cert, -1, 0);
  ERR_pop_to_mark();
  return cert;
}

}  // namespace

Certificate::Certificate(X509* cert) : cert_(cert, X509_free) {}

Certificate Certificate::adopt(X509* cert) {
  if (cert == nullptr) throw Error("no certificate");
  return Certificate(cert);
}

Certificate Certificate::from_pem(std::string_view pem) {
  if (pem.empty()) throw Error("cannot parse certificate: empty input");
  BioPtr bio = memory_bio(pem);
  ERR_clear_error();
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr);
  if (cert == nullptr) fail("cannot parse certificate PEM");
  return Certificate(with_extensions_cached(cert));
}

std::map<std::string, std::string> Certificate::subject_from_pem(std::string_view pem) {
  if (pem.empty()) throw Error("cannot parse certificate: empty input");
  BioPtr bio = memory_bio(pem);
  ERR_clear_error();
  unsigned char* der = nullptr;
  long der_length = 0;
  // Only the base64 armour is decoded here, not the certificate.
  if (PEM_bytes_read_bio(&der, &der_length, nullptr, PEM_STRING_X509, bio.get(), no_passphrase,
                         nullptr) != 1)
    fail("cannot parse certificate PEM");
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> owned(
      der, [](unsigned char* p) { OPENSSL_free(p); });
  // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
  //   serialNumber, signature, issuer, validity, subject, ... }, ... } (RFC 5280 4.1)
  const DerElement certificate = read_element(der, der_length);
  const DerElement tbs = read_element(certificate.content, certificate.content_length);
  const unsigned char* cursor = tbs.content;
  auto next = [&] {
    if (cursor >= tbs.end()) throw Error("malformed certificate DER: truncated tbsCertificate");
    DerElement element = read_element(cursor, tbs.end() - cursor);
    cursor = element.end();
    return element;
  };
  DerElement element = next();
  if (element.tag_class == V_ASN1_CONTEXT_SPECIFIC && element.tag == 0) element = next();  // version
  for (int skipped = 0; skipped < 4; ++skipped) element = next();  // serial .. validity
  if (element.tag != V_ASN1_SEQUENCE || element.tag_class != V_ASN1_UNIVERSAL)
    throw Error("malformed certificate DER: the subject is not a Name");
  const unsigned char* name_cursor = element.start;
  NamePtr subject(d2i_X509_NAME(nullptr, &name_cursor, element.end() - element.start));
  if (!subject) fail("malformed certificate subject");
  return name_fields(subject.get());
}

std::vector<Certificate> Certificate::all_from_pem(std::string_view pem) {
  if (pem.empty()) throw Error("cannot parse certificates: empty input");
  BioPtr bio = memory_bio(pem);
  ERR_clear_error();
  std::vector<Certificate> out;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr))
    out.push_back(Certificate(with_extensions_cached(cert)));
  // The loop ends at the end of the input ("no start line") or at a malformed block.
  unsigned long code = ERR_peek_last_error();
  if (out.empty()) fail("cannot parse certificate PEM bundle");
  if (code != 0 &&
      !(ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE))
    fail("malformed certificate " + std::to_string(out.size() + 1) + " in PEM bundle");
  ERR_clear_error();
  return out;
}

Certificate Certificate::from_der(std::string_view der) {
  if (der.empty()) throw Error("cannot parse certificate: empty input");
  if (der.size() > static_cast<size_t>(LONG_MAX)) throw Error("certificate input too large");
  const auto* begin = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* cursor = begin;
  ERR_clear_error();
  X509* cert = d2i_X509(nullptr, &cursor, static_cast<long>(der.size()));
  if (cert == nullptr) fail("cannot parse certificate DER");
  Certificate result(with_extensions_cached(cert));
  if (static_cast<size_t>(cursor - begin) != der.size())
    throw Error("cannot parse certificate DER: trailing data after the certificate");
  return result;
}

Certificate Certificate::load(const std::filesystem::path& path) {
  const std::string pem = read_file(path);
  try {
    return from_pem(pem);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
}

std::string Certificate::to_pem() const {
  BioPtr bio = output_bio();
  if (PEM_write_bio_X509(bio.get(), cert_.get()) != 1) fail("cannot encode certificate as PEM");
  return bio_contents(bio.get());
}

std::string Certificate::der() const {
  int length = i2d_X509(cert_.get(), nullptr);
  if (length <= 0) fail("cannot encode certificate as DER");
  std::string out(static_cast<size_t>(length), '\0');
  auto* cursor = reinterpret_cast<unsigned char*>(out.data());
  if (i2d_X509(cert_.get(), &cursor) != length) fail("cannot encode certificate as DER");
  return out;
}

std::string Certificate::id() const { return sha256_hex(der()); }

std::string Certificate::serial_hex() const {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert_.get());
  const unsigned char* data = ASN1_STRING_get0_data(serial);
  const int length = ASN1_STRING_length(serial);
  std::string hex = to_hex(std::span<const unsigned char>(data, static_cast<size_t>(length)));
  const size_t first = hex.find_first_not_of('0');
  hex = first == std::string::npos ? "0" : hex.substr(first);
  if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER && hex != "0") hex.insert(0, "-");
  return hex;
}

int64_t Certificate::not_before() const { return unix_seconds(X509_get0_notBefore(cert_.get())); }

int64_t Certificate::not_after() const { return unix_seconds(X509_get0_notAfter(cert_.get())); }

bool Certificate::is_ca() const {
  // Caches the parsed extensions on first use (under OpenSSL's own lock).
  return (X509_get_extension_flags(cert_.get()) & EXFLAG_CA) != 0;
}

std::map<std::string, std::string> Certificate::subject() const {
  return name_fields(X509_get_subject_name(cert_.get()));
}

std::string Certificate::subject_field(std::string_view short_name) const {
  return name_field(X509_get_subject_name(cert_.get()), short_name);
}

std::string Certificate::subject_line() const {
  return name_line(X509_get_subject_name(cert_.get()));
}

std::string Certificate::issuer_line() const {
  return name_line(X509_get_issuer_name(cert_.get()));
}

std::string Certificate::subject_name_hash() const {
  int ok = 0;
  unsigned long hash = X509_NAME_hash_ex(X509_get_subject_name(cert_.get()), nullptr, nullptr, &ok);
  if (!ok) fail("cannot hash the subject name");
  char out[9];
  std::snprintf(out, sizeof out, "%08lx", hash & 0xffffffffUL);
  return out;
}

bool Certificate::issued_by(const Certificate& issuer) const {
  if (X509_NAME_cmp(X509_get_issuer_name(cert_.get()), X509_get_subject_name(issuer.get())) != 0)
    return false;
  EVP_PKEY* key = X509_get0_pubkey(issuer.get());
  const bool ok = key != nullptr && X509_verify(cert_.get(), key) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace provision::pki
