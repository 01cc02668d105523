#pragma once
// `provision-bench prefill`: a large fleet in the registry, fast, without a
// million flows: things, each with an ACTIVE certificate attached and the
// demo device policy, as provisioning would have left them. provisiond must
// not be running (the broker may be: it only reads).
#include <cstddef>
#include <filesystem>
#include <string>

namespace provision::bench {

struct PrefillOptions {
  std::filesystem::path registry;
  // Optional: the stack whose fleet CA issues the one certificate every row
  // shares (its PEM); otherwise a throwaway CA does.
  std::filesystem::path stack;
  size_t things = 1000000;
  size_t batch = 50000;  // rows per transaction
  std::filesystem::path json_file;
};

int prefill_registry(const PrefillOptions& options);

}  // namespace provision::bench
