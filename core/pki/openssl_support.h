#pragma once
// Internal to the pki module: RAII ownership of OpenSSL objects, memory BIOs,
// error reporting and distinguished-name helpers shared by its files.
#include <openssl/bio.h>
#include <openssl/x509.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/handle.h"

namespace provision::pki::detail {

using provision::Owned;  // core/util/handle.h

using BioPtr = Owned<BIO, BIO_free>;
using NamePtr = Owned<X509_NAME, X509_NAME_free>;

// The first queued OpenSSL error as text ("" when none); clears the queue.
std::string openssl_error();
// Throws Error("<what>: <first OpenSSL error>") and clears the error queue.
[[noreturn]] void fail(const std::string& what);

// A read-only BIO over `data` (which must outlive it).
BioPtr memory_bio(std::string_view data);
BioPtr output_bio();
std::string bio_contents(BIO* bio);
// PEM password callback that never prompts: encrypted input is refused.
int no_passphrase(char*, int, int, void*);

// Name entries keyed by OpenSSL short name (dotted OID when it has none); first value wins.
std::map<std::string, std::string> name_fields(const X509_NAME* name);
// The value of the first entry with `short_name`, "" when absent.
std::string name_field(const X509_NAME* name, std::string_view short_name);
// RFC 2253 one-liner, UTF-8 kept as is.
std::string name_line(const X509_NAME* name);
// A name from (short name, value) pairs; throws Error for an invalid attribute.
NamePtr build_name(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace provision::pki::detail
