#pragma once
// The three ways a provisionctl command fails, each with its exit status:
// bad usage (2), the API refused or failed (1), the server unreachable (1).
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace provisionctl {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// Bad usage found after parsing: an unreadable input file, a malformed value.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The API answered with an error document ({error: {code, message, field?, details?}}).
struct ApiFailure : std::runtime_error {
  ApiFailure(int http_status, std::string error_code, const std::string& message, std::string error_field = {},
             std::vector<std::pair<std::string, std::string>> error_details = {})
      : std::runtime_error(message),
        status(http_status),
        code(std::move(error_code)),
        field(std::move(error_field)),
        details(std::move(error_details)) {}
  int status;
  std::string code;
  std::string field;
  std::vector<std::pair<std::string, std::string>> details;  // (JSON path, problem)
};

// No HTTP answer at all: connection refused, TLS failure, timeout.
struct Unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace provisionctl
