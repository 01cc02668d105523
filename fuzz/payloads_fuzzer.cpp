// Device request payloads, JSON and CBOR, through decoding and schema
// validation, as a worker reads them from the broker. The first byte picks
// the format and the operation. Properties: a decoder either accepts or
// throws RequestError(400, InvalidPayload); a document it accepted encodes
// and decodes again; a rejection quoting the input is valid JSON, and valid
// CBOR.
#include "fuzz.h"
#include "protocol/cbor.h"
#include "protocol/payloads.h"
#include "util/error.h"
#include "util/json.h"

using namespace provision;
using namespace provision::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Format format = (data[0] & 1) ? Format::Cbor : Format::Json;
  const int operation = (data[0] >> 1) % 4;
  const std::string_view payload = fuzz::view(data + 1, size - 1);
  try {
    switch (operation) {
      case 0: decode_create_keys_request(format, payload); break;
      case 1: {
        auto csr = decode_csr_request(format, payload);
        FUZZ_ASSERT(!csr.certificate_signing_request.empty());
        break;
      }
      case 2: {
        auto request = decode_register_thing_request(format, payload);
        FUZZ_ASSERT(!request.ownership_token.empty());
        break;
      }
      case 3: {
        auto doc = decode_request(format, payload, kEnrollmentRequestSchema);
        auto again = decode_request(format, encode(doc, format), kEnrollmentRequestSchema);
        FUZZ_ASSERT(again == doc);
        break;
      }
    }
  } catch (const RequestError& e) {
    FUZZ_ASSERT(e.status_code == 400);
    // what a device is told quotes its input: the reply must stay a valid document
    auto json = encode_rejection({400, e.code, e.what()}, Format::Json);
    FUZZ_ASSERT(json::try_parse(json, nullptr).has_value());
    auto cbor = encode_rejection({400, e.code, e.what()}, Format::Cbor);
    FUZZ_ASSERT(!cbor.empty());
  }
  return 0;
}
