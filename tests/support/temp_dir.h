#pragma once
// A temporary directory for one test, created empty and removed with all it
// holds when the test ends.
#include <filesystem>
#include <string>
#include <system_error>

#include "util/random.h"

namespace provision::testing {

struct TempDir {
  explicit TempDir(const std::string& prefix = "provision-test-")
      : path(std::filesystem::temp_directory_path() / (prefix + random_token(8))) {
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path;
};

}  // namespace provision::testing
