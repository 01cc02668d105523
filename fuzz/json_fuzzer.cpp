// JSON as every door reads it (json::parse: exact length, UTF-8, at most
// 64 levels, iterative), and CBOR (from_cbor). Properties: what parses
// stringifies, and what it stringifies to parses to the same document; CBOR
// of a document decodes to the same document.
#include "fuzz.h"
#include "protocol/cbor.h"
#include "util/error.h"
#include "util/json.h"

using namespace provision;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::view(data, size);
  std::string error;
  if (auto doc = json::try_parse(text, &error)) {
    FUZZ_ASSERT(error.empty());
    std::string compact = json::stringify(*doc);
    auto again = json::try_parse(compact, nullptr);
    FUZZ_ASSERT(again.has_value());
    FUZZ_ASSERT(*again == *doc);
    try {
      auto cbor = protocol::to_cbor(*doc);
      auto back = protocol::from_cbor(cbor);
      FUZZ_ASSERT(json::stringify(back) == compact || back == *doc);
    } catch (const Error&) {
      // deeper than CBOR's limit, or a number CBOR does not carry
    }
  } else {
    FUZZ_ASSERT(!error.empty());
  }
  try {
    auto doc = protocol::from_cbor(text);
    json::stringify(doc);
  } catch (const Error&) {
  }
  return 0;
}
