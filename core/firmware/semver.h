#pragma once
// Semantic versions (semver.org 2.0.0): MAJOR.MINOR.PATCH, an optional
// pre-release (-rc.1) and build metadata (+sha.5114f85, ignored when
// comparing). A leading "v" is accepted. 1.10.0 > 1.9.0; a pre-release is
// below its release (1.0.0-rc.1 < 1.0.0); pre-release identifiers compare
// numerically when both are numbers, otherwise as text, numbers first.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace provision::firmware {

struct SemVer {
  uint64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string> prerelease;
  std::string build;
  std::string to_string() const;
};

// nullopt when `text` is not a semantic version (at most 64 characters).
std::optional<SemVer> parse_semver(std::string_view text);
// <0, 0, >0 as a is below, equal to (build metadata ignored) or above b.
int compare(const SemVer& a, const SemVer& b);
inline bool operator<(const SemVer& a, const SemVer& b) { return compare(a, b) < 0; }

}  // namespace provision::firmware
