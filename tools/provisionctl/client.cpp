#include "client.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <fstream>

#include "errors.h"
#include "util/json.h"

namespace provisionctl {
namespace {

constexpr size_t kMaxPageSize = 500;  // the API's largest ?limit=

struct SplitUrl {
  std::string origin;     // scheme://host[:port]
  std::string base_path;  // "" or "/prefix"
};

SplitUrl split_url(const std::string& url) {
  auto scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    throw UsageError("admin API URL '" + url + "' must start with http:// or https://");
  auto path_start = url.find('/', scheme_end + 3);
  SplitUrl split{url.substr(0, path_start), path_start == std::string::npos ? "" : url.substr(path_start)};
  if (split.origin.size() == scheme_end + 3) throw UsageError("admin API URL '" + url + "' names no host");
  while (!split.base_path.empty() && split.base_path.back() == '/') split.base_path.pop_back();
  return split;
}

void require_readable(const std::string& file, const char* what) {
  std::ifstream in(file);
  if (!in) throw UsageError(std::string("cannot read ") + what + " " + file);
}

std::string query_string(const Query& query) {
  std::string text;
  for (const auto& [name, value] : query) text += (text.empty() ? "?" : "&") + url_encoded(name) + "=" + url_encoded(value);
  return text;
}

// Why no answer came, in words.
std::string transport_problem(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "connection failed";
    case httplib::Error::ConnectionTimeout: return "connection timed out";
    case httplib::Error::Read: return "no answer (read failed or timed out)";
    case httplib::Error::Write: return "sending the request failed";
    case httplib::Error::SSLConnection: return "TLS handshake failed (is it an https server?)";
    case httplib::Error::SSLLoadingCerts: return "cannot load the CA certificates";
    case httplib::Error::SSLServerVerification: return "server certificate not verified (--ca-file?)";
    default: return httplib::to_string(error);
  }
}

std::string first_line(const std::string& text, size_t max_length = 200) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > max_length ? line.substr(0, max_length) + "..." : line;
}

rapidjson::Document parse_reply(const HttpReply& reply, const std::string& what) {
  if (reply.body.empty()) return rapidjson::Document();  // null: no content
  std::string error;
  auto doc = provision::json::try_parse(reply.body, &error);
  if (!doc) throw ApiFailure(reply.status, "InvalidResponse", what + ": the answer is not JSON (" + error + ")");
  return std::move(*doc);
}

}  // namespace

std::string url_encoded(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

void throw_failure(const HttpReply& reply) {
  auto doc = provision::json::try_parse(reply.body, nullptr);
  const rapidjson::Value* error = doc ? provision::json::member(*doc, "error") : nullptr;
  if (!error || !error->IsObject())
    throw ApiFailure(reply.status, "UnexpectedResponse",
                     reply.body.empty() ? "no error document in the answer" : first_line(reply.body));
  std::vector<std::pair<std::string, std::string>> details;
  if (const auto* list = provision::json::member(*error, "details"); list && list->IsArray())
    for (const auto& item : list->GetArray())
      details.emplace_back(provision::json::string_member(item, "path").value_or(""),
                           provision::json::string_member(item, "message").value_or(""));
  throw ApiFailure(reply.status, provision::json::string_member(*error, "code").value_or("UnknownError"),
                   provision::json::string_member(*error, "message").value_or(""),
                   provision::json::string_member(*error, "field").value_or(""), std::move(details));
}

ApiClient::ApiClient(const Endpoint& endpoint) : url_(endpoint.url) {
  auto split = split_url(endpoint.url);
  base_path_ = split.base_path;
  http_ = std::make_unique<httplib::Client>(split.origin);
  http_->set_keep_alive(true);  // one connection for a whole import or listing
  if (!http_->is_valid()) throw UsageError("cannot use admin API URL '" + endpoint.url + "'");
  http_->set_url_encode(false);  // paths and queries are encoded here
  http_->set_connection_timeout(10);
  http_->set_read_timeout(60);
  http_->set_write_timeout(60);
  if (!endpoint.token.empty()) http_->set_bearer_token_auth(endpoint.token);
  if (!endpoint.ca_file.empty()) {
    require_readable(endpoint.ca_file, "CA file");
    http_->set_ca_cert_path(endpoint.ca_file);
  }
  http_->enable_server_certificate_verification(true);
}

ApiClient::~ApiClient() = default;

HttpReply ApiClient::send(const std::string& method, const std::string& path, const Query& query,
                          const rapidjson::Value* json_body) {
  httplib::Request request;
  request.method = method;
  request.path = base_path_ + path + query_string(query);
  request.headers.emplace("Accept", "application/json");
  if (json_body) {
    request.body = provision::json::stringify(*json_body);
    request.headers.emplace("Content-Type", "application/json");
  }
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  if (!http_->send(request, response, error))
    throw Unreachable("cannot reach " + url_ + ": " + transport_problem(error));
  return {response.status, response.body};
}

rapidjson::Document ApiClient::call(const std::string& method, const std::string& path, const rapidjson::Value* json_body,
                                    const Query& query) {
  HttpReply reply = send(method, path, query, json_body);
  if (reply.status < 200 || reply.status >= 300) throw_failure(reply);
  return parse_reply(reply, method + " " + path);
}

bool ApiClient::exists(const std::string& path) {
  HttpReply reply = send("GET", path);
  if (reply.status == 404) return false;
  if (reply.status != 200) throw_failure(reply);
  return true;
}

rapidjson::Document ApiClient::list(const std::string& path, Query query, std::optional<size_t> limit) {
  rapidjson::Document all(rapidjson::kObjectType);
  auto& allocator = all.GetAllocator();
  rapidjson::Value items(rapidjson::kArrayType);
  std::string cursor;
  do {
    size_t wanted = limit ? std::min(*limit - items.Size(), kMaxPageSize) : kMaxPageSize;
    query["limit"] = std::to_string(wanted);
    if (!cursor.empty()) query["after"] = cursor;
    auto page = call("GET", path, nullptr, query);
    if (const auto* page_items = provision::json::member(page, "items"); page_items && page_items->IsArray())
      for (auto& item : page_items->GetArray()) items.PushBack(rapidjson::Value(item, allocator), allocator);
    std::string next = provision::json::string_member(page, "nextCursor").value_or("");
    cursor = next == cursor ? "" : next;  // a cursor that does not move would loop for ever
  } while (!cursor.empty() && (!limit || items.Size() < *limit));
  all.AddMember("items", items, allocator);
  if (!cursor.empty()) all.AddMember("nextCursor", provision::json::string_value(cursor, allocator), allocator);
  return all;
}

}  // namespace provisionctl
