#pragma once
// The admin API over HTTP(S): one generic request function, JSON in and
// out, error documents turned into ApiFailure, lists followed page by page.
#include <rapidjson/document.h>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace httplib {
class Client;
}

namespace provisionctl {

struct Endpoint {
  std::string url;      // http(s)://host[:port][/prefix]
  std::string token;    // bearer token; empty: none is sent
  std::string ca_file;  // verifies an https server; empty: the system's CAs
};

using Query = std::map<std::string, std::string>;

struct HttpReply {
  int status = 0;
  std::string body;
};

class ApiClient {
 public:
  explicit ApiClient(const Endpoint& endpoint);  // UsageError for a URL or CA file it cannot use
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // One request and its raw answer, whatever its status; Unreachable when there is none.
  HttpReply send(const std::string& method, const std::string& path, const Query& query = {},
                 const rapidjson::Value* json_body = nullptr);
  // One request expected to succeed with a JSON document (null when the
  // answer has no body, e.g. 204); ApiFailure for an error status.
  rapidjson::Document call(const std::string& method, const std::string& path, const rapidjson::Value* json_body = nullptr,
                           const Query& query = {});
  // A whole list ({"items": [...]}), following nextCursor; with `limit`, at
  // most that many items (and the nextCursor to go on when more remain).
  rapidjson::Document list(const std::string& path, Query query, std::optional<size_t> limit);
  // GET `path`: true for 200, false for 404, ApiFailure otherwise.
  bool exists(const std::string& path);

  const std::string& url() const { return url_; }

 private:
  std::string url_;
  std::string base_path_;  // the URL's path, put before every request path
  std::unique_ptr<httplib::Client> http_;
};

// `text` percent-encoded for one path segment or query value.
std::string url_encoded(std::string_view text);

// The error document of a failed reply as an ApiFailure (a made-up code when
// the body is not one).
[[noreturn]] void throw_failure(const HttpReply& reply);

}  // namespace provisionctl
