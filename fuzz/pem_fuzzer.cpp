// Certificates and certificate requests as devices and operators send them:
// PEM (one or several), DER, CSRs and their proof of possession. Properties:
// a parse either succeeds or throws Error; what parses has an id and
// re-encodes to PEM that parses to the same certificate.
#include "fuzz.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "util/error.h"

using namespace provision;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fuzz::view(data, size);
  try {
    auto certificate = pki::Certificate::from_pem(input);
    FUZZ_ASSERT(certificate.id().size() == 64);
    FUZZ_ASSERT(pki::Certificate::from_pem(certificate.to_pem()).id() == certificate.id());
    certificate.subject();
    certificate.subject_line();
  } catch (const Error&) {
  }
  try {
    for (const auto& c : pki::Certificate::all_from_pem(input)) FUZZ_ASSERT(!c.id().empty());
  } catch (const Error&) {
  }
  try {
    pki::Certificate::from_der(input);
  } catch (const Error&) {
  }
  try {
    pki::Certificate::subject_from_pem(input);
  } catch (const Error&) {
  }
  try {
    auto csr = pki::CertificateRequest::from_pem(input);
    (void)csr;
  } catch (const Error&) {
  }
  return 0;
}
