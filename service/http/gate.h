#pragma once
// What every HTTP listener of provisiond (the admin API and console, the
// device bootstrap) puts in front of its routes: a request is refused,
// with the listener's JSON error, from its request line and headers alone,
// before any of its body is read, when
//   - its framing is not one the listener reads (a transfer coding other
//     than chunked, a content coding, a body on a method that takes none),
//     or its path or query is not UTF-8 once decoded (400, 415, 501);
//   - the listener's check says no (no route, no valid credential, a role
//     that may not call the route: 404, 401, 403, 429...);
//   - it has a body that is not of the media type the listener reads (415),
//     or whose declared length is past the limit (413).
// The listener (http/listener.h) asks the gate on a worker thread (a check
// may look a credential up in the registry), reads an admitted request's
// body within max_body_bytes (413 past it), and answers a refused request
// that has a body on a connection it then closes, so that the unread body
// is never taken for the next request.
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "http/message.h"

namespace provision::service::http {

// A request refused: its status and the {"error": {code, message}} it gets.
struct Refusal {
  int status = 400;
  std::string code;
  std::string message;
  int retry_after_seconds = 0;  // > 0: sent as Retry-After (429, 503)
};

// Whom a listener's check let in, and to which of its routes, handed to
// the route's handler.
struct Admitted {
  std::string principal;  // who is asking, as the listener names them ("" for routes open to all)
  std::string role;
  int route = -1;                       // the listener's route the check matched (-1: its own paths)
  std::vector<std::string> parameters;  // that route's path parameters, in order
};

struct GateSettings {
  std::size_t max_body_bytes = 1 << 20;
  // The media type a body must have (parameters allowed; a charset must be UTF-8).
  std::string media_type = "application/json";
  // Called with every answer (the gate's refusals included) before it is
  // written: metrics counted here are there by the time the client reads it.
  std::function<void(const Request&, const Response&)> on_answer;
  // Headers every answer gets (refusals included), unless its handler set them.
  std::vector<std::pair<std::string, std::string>> headers;
};

class Gate {
 public:
  // Decides from the request line and headers alone (the body is not read yet).
  using Check = std::function<std::variant<Admitted, Refusal>(const Request&)>;
  // The listener's error document for a refusal.
  using ErrorBody = std::function<std::string(const Refusal&)>;

  Gate(GateSettings settings, Check check, ErrorBody error_body);

  // Every reason to refuse `req` before its body, or the admission.
  std::variant<Admitted, Refusal> decide(const Request& req) const;
  // The answer to a refusal: its status, error document and Retry-After.
  Response refuse(const Refusal& refusal) const;
  // What every answer gets before it is written: the listener's headers,
  // and on_answer.
  void finish(const Request& req, Response& res) const;

  const GateSettings& settings() const { return settings_; }

 private:
  GateSettings settings_;
  Check check_;
  ErrorBody error_body_;
};

// The code of an error answered with only its status ("PayloadTooLarge"...).
std::string default_code(int status);

}  // namespace provision::service::http
