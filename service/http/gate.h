#pragma once
// What every HTTP listener of provisiond puts in front of its routes (the
// admin API today; a device bootstrap API and a web console are to come):
// a request is refused, with the listener's JSON error, from its request
// line and headers alone, before any of its body is read, when
//   - its framing is not one this server reads safely (a transfer coding
//     other than chunked, both Content-Length and Transfer-Encoding, a
//     content coding, a body on a method that takes none, a chunked DELETE),
//     or its path or query is not UTF-8 once decoded (400, 411, 415, 501);
//   - the listener's check says no (no route, no valid credential, a role
//     that may not call the route: 404, 401, 403...);
//   - it has a body that is not of the media type the listener reads (415),
//     or whose declared length is past the limit (413).
// A refused request that has a body is answered with "Connection: close"
// and the connection is closed, so the unread body is never taken for the
// next request. A body is then read by the route's handler (with_body),
// whatever its transfer encoding, up to max_body_bytes: past that it is
// answered 413; a client that sends it whole within max_discard_bytes more
// keeps its connection, any other is closed.
//
// cpp-httplib 0.11 (Debian 12) enforces its payload limit for
// Content-Length bodies only: chunked bodies and bodies read to the end of
// the connection are read whole into memory, and it sends "100 Continue"
// before any handler runs. So the gate reads bodies itself, through
// content-reader handlers, and answers Expect: 100-continue with the same
// decision.
#include <httplib.h>

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace provision::service::http {

// A request refused: its status and the {"error": {code, message}} it gets.
struct Refusal {
  int status = 400;
  std::string code;
  std::string message;
  int retry_after_seconds = 0;  // > 0: sent as Retry-After (429, 503)
};

// Whom a listener's check let in, handed to the route's handler.
struct Admitted {
  std::string principal;  // who is asking, as the listener names them ("" for routes open to all)
  std::string role;
};

struct GateSettings {
  std::size_t max_body_bytes = 1 << 20;
  // Past the limit, how much more of a body is read and thrown away so that
  // a client that sent it whole can read its 413 on an open connection.
  std::size_t max_discard_bytes = 4 << 20;
  // The media type a body must have (parameters allowed; a charset must be UTF-8).
  std::string media_type = "application/json";
  // Called with every answer (the gate's refusals included) before it is
  // written: metrics counted here are there by the time the client reads it.
  std::function<void(const httplib::Request&, const httplib::Response&)> on_answer;
  // Headers every answer gets (refusals included), unless its handler set them.
  std::vector<std::pair<std::string, std::string>> headers;
};

class Gate {
 public:
  // Decides from the request line and headers alone; runs before any of
  // the body is read, on the thread that then runs the route's handler.
  using Check = std::function<std::variant<Admitted, Refusal>(const httplib::Request&)>;
  // The listener's error document for a refusal.
  using ErrorBody = std::function<std::string(const Refusal&)>;
  using BodyHandler =
      std::function<void(const httplib::Request&, httplib::Response&, const Admitted&, const std::string& body)>;
  using Handler = std::function<void(const httplib::Request&, httplib::Response&, const Admitted&)>;

  Gate(GateSettings settings, Check check, ErrorBody error_body);

  // Puts the gate in front of every request of `server`: its pre-routing,
  // Expect: 100-continue, error and post-routing handlers (answers the
  // library makes by itself, such as a malformed request line, get the
  // listener's error document too), and the library's own payload limit.
  void install(httplib::Server& server) const;

  // A route's handler, for Post/Put/Patch/Delete: `handler` runs with what
  // the check admitted and the body ("" when the request has none), read
  // within the limits above.
  httplib::Server::HandlerWithContentReader with_body(BodyHandler handler) const;
  // A route's handler for Get (requests with a body never reach it).
  httplib::Server::Handler without_body(Handler handler) const;

  // Answers `refusal`; with `close`, on a connection that is then closed.
  void refuse(httplib::Response& res, const Refusal& refusal, bool close) const;

  const GateSettings& settings() const { return settings_; }

 private:
  // Every reason to refuse `req` before its body, or the admission.
  std::variant<Admitted, Refusal> decide(const httplib::Request& req) const;

  GateSettings settings_;
  Check check_;
  ErrorBody error_body_;
};

}  // namespace provision::service::http
