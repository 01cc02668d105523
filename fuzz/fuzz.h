#pragma once
// What every harness shares: the libFuzzer entry point, and a check that
// stops the run (abort: libFuzzer records the input) when a property the
// product promises does not hold.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace provision::fuzz {

inline std::string_view view(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

// Splits `input` at the first `separator`: the part before, and after (empty when there is none).
inline std::pair<std::string_view, std::string_view> split(std::string_view input, std::string_view separator) {
  auto at = input.find(separator);
  if (at == std::string_view::npos) return {input, {}};
  return {input.substr(0, at), input.substr(at + separator.size())};
}

[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "fuzz: property violated: %s\n", what);
  std::abort();
}
#define FUZZ_ASSERT(condition) \
  do {                         \
    if (!(condition)) ::provision::fuzz::violated(#condition); \
  } while (0)

}  // namespace provision::fuzz
