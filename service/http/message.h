#pragma once
// An HTTP request and its answer as provisiond's listeners see them
// (http/listener.h reads and writes them; http/gate.h and the routes of
// each listener only look at these), free of any HTTP library, so that a
// route can be called, tested and fuzzed without a socket.
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace provision::service::http {

struct Request {
  std::string method;  // as sent: GET, POST, ...
  std::string path;    // decoded, without the query
  std::vector<std::pair<std::string, std::string>> headers;  // in the order received, names as sent
  std::multimap<std::string, std::string> query;             // decoded
  std::string body;                                          // "" until read (and for requests without one)
  std::string remote_addr;                                   // the peer's address
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();

  // Headers by name, whatever their case.
  std::size_t header_count(std::string_view name) const;
  bool has_header(std::string_view name) const { return header_count(name) > 0; }
  // The i-th header called `name` ("" when there is none).
  std::string header(std::string_view name, std::size_t i = 0) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Not written before this time (a listener's response-time floor): the
  // listener holds the answer, not a thread (http/listener.h).
  std::chrono::steady_clock::time_point not_before{};

  bool has_header(std::string_view name) const;
  void set_header(std::string name, std::string value);
  void set_content(std::string content, std::string type) {
    body = std::move(content);
    content_type = std::move(type);
  }
};

// Whether two header names are the same (ASCII, case-insensitive).
bool same_name(std::string_view a, std::string_view b);

}  // namespace provision::service::http
