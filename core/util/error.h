#pragma once
// The error types the core throws. Callers at a boundary (plugin callbacks,
// MQTT handlers, CLI mains) catch them and turn them into a log line, a
// rejected reply or an exit status.
#include <stdexcept>
#include <string>

namespace provision {

// Any failure with a message meant for a human operator.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A failure that a device (or an API client) caused and must be told about:
// it carries the HTTP-like status code and the stable errorCode of the
// rejected reply, e.g. {400, "InvalidCsr", "..."}.
struct RequestError : Error {
  RequestError(int status, std::string error_code, const std::string& message)
      : Error(message), status_code(status), code(std::move(error_code)) {}
  int status_code;
  std::string code;
};

}  // namespace provision
