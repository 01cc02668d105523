#pragma once
// Wall-clock time as the registry stores it: Unix seconds, shown as RFC 3339.
#include <cstdint>
#include <string>

namespace provision {

int64_t unix_now();
// "2026-11-23T04:58:12Z"
std::string rfc3339(int64_t unix_seconds);

}  // namespace provision
