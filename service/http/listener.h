#pragma once
// One HTTP/1.1 listener of provisiond (the admin API and console, the
// device bootstrap): connections are served by an event loop, never a
// thread each, so that slow or idle clients hold only a socket and a small
// buffer; the gate's check and the routes run on a pool of worker threads;
// an answer that must not be written before a time (a response-time floor)
// waits on a timer, not on a thread. docs/reliability.md lists the limits.
//
// Per connection: the request line and headers must arrive whole within
// header_timeout (a keep-alive connection may first stay idle for
// idle_timeout), an admitted body within body_timeout, a TLS handshake
// within header_timeout; past any of them the connection is closed. At most
// max_connections at once (more are closed as they are accepted), and at
// most max_pending requests read but not yet answered: past that a request
// is answered 503 at once, before its body is read.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "http/gate.h"
#include "http/message.h"

namespace provision::service::http {

struct ListenerSettings {
  std::string name = "HTTP listener";  // in logs and errors: "admin API", "bootstrap listener"
  std::string address = "127.0.0.1";
  int port = 0;                                    // 0: any free port (see Listener::port)
  std::filesystem::path tls_certificate, tls_key;  // both set: HTTPS
  int threads = 4;                                 // workers for the gate's checks and the routes
  int io_threads = 1;                              // event loops (TLS handshakes run there)
  std::size_t max_connections = 1024;
  std::size_t max_pending = 512;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds idle_timeout{5000};
  std::chrono::milliseconds body_timeout{30000};
};

class Listener {
 public:
  // A route's work, on a worker thread, for a request the gate admitted
  // (its body read). Exceptions become a JSON 500.
  using Serve = std::function<Response(const Request&, const Admitted&)>;

  Listener(ListenerSettings settings, const Gate& gate, Serve serve);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds (throws Error naming the listener when it cannot) and serves in the background.
  void start();
  // Stops accepting and closes every connection; waits for running routes.
  void stop();
  int port() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// What a listener answers `request` (its body read), without a socket: the
// gate's decision, the body limit, then `serve`, as the listener runs them
// (its framing, timeouts and connection limits aside). For tests and fuzzers.
Response answer(const Gate& gate, const Listener::Serve& serve, Request request);

}  // namespace provision::service::http
