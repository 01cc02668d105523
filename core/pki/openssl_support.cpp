#include "pki/openssl_support.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <climits>

#include "util/error.h"

namespace provision::pki::detail {
namespace {

std::string entry_value(const X509_NAME_ENTRY* entry) {
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
  if (length < 0) {
    ERR_clear_error();
    return {};
  }
  std::string value(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return value;
}

std::string entry_short_name(const X509_NAME_ENTRY* entry) {
  const ASN1_OBJECT* object = X509_NAME_ENTRY_get_object(entry);
  int nid = OBJ_obj2nid(object);
  if (nid != NID_undef) {
    if (const char* sn = OBJ_nid2sn(nid)) return sn;
  }
  char oid[128];
  int length = OBJ_obj2txt(oid, sizeof oid, object, 1);
  if (length <= 0) return {};
  return oid;
}

}  // namespace

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return {};
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

void fail(const std::string& what) {
  std::string detail = openssl_error();
  throw Error(detail.empty() ? what : what + ": " + detail);
}

BioPtr memory_bio(std::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) throw Error("PEM input too large");
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) fail("cannot allocate a memory BIO");
  return bio;
}

BioPtr output_bio() {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) fail("cannot allocate a memory BIO");
  return bio;
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data);
  if (length <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<size_t>(length));
}

int no_passphrase(char*, int, int, void*) { return -1; }

std::map<std::string, std::string> name_fields(const X509_NAME* name) {
  std::map<std::string, std::string> fields;
  const int count = X509_NAME_entry_count(name);
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    fields.emplace(entry_short_name(entry), entry_value(entry));  // first value wins
  }
  return fields;
}

std::string name_field(const X509_NAME* name, std::string_view short_name) {
  const int count = X509_NAME_entry_count(name);
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    if (entry_short_name(entry) == short_name) return entry_value(entry);
  }
  return {};
}

std::string name_line(const X509_NAME* name) {
  BioPtr bio = output_bio();
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
    fail("cannot print a distinguished name");
  return bio_contents(bio.get());
}

NamePtr build_name(const std::vector<std::pair<std::string, std::string>>& fields) {
  NamePtr name(X509_NAME_new());
  if (!name) fail("cannot allocate a subject name");
  for (const auto& [field, value] : fields) {
    if (value.size() > static_cast<size_t>(INT_MAX)) throw Error("subject " + field + " too long");
    if (X509_NAME_add_entry_by_txt(name.get(), field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1)
      fail("invalid subject attribute " + field + "=" + value);
  }
  return name;
}

}  // namespace provision::pki::detail
