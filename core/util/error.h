#pragma once
// The error types the core throws. Callers at a boundary (plugin callbacks,
// MQTT handlers, CLI mains) catch them and turn them into a log line, a
// rejected reply or an exit status.
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace provision {

// Any failure with a message meant for a human operator.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A failure that a device (or an API client) caused and must be told about:
// it carries the HTTP-like status code and the stable errorCode of the
// rejected reply, e.g. {400, "InvalidCsr", "..."}; for bad input, the field
// it is about ("templates[1]") and, when there are several problems, each
// with its path. Every door answers it in its own format (a rejected MQTT
// reply, an HTTP error body, a one-line message and exit status).
struct RequestError : Error {
  RequestError(int status, std::string error_code, const std::string& message, std::string field_name = {})
      : Error(message), status_code(status), code(std::move(error_code)), field(std::move(field_name)) {}
  int status_code;
  std::string code;
  std::string field;
  std::vector<std::pair<std::string, std::string>> details;  // (path, message)
};

}  // namespace provision
