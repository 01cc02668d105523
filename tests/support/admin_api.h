#pragma once
// The admin API's test harness: HTTP calls and their replies, raw requests
// for what a library client would not send, the registry read as a test sees
// it, and schemas/openapi.json as the judge of every answer. Shared by the
// tests of every HTTP door on the admin listener. A test using it defines
// PROVISION_SOURCE_DIR (where schemas/openapi.json is) and links cpp-httplib.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "flows.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "pki/key.h"
#include "stack.h"
#include "util/encoding.h"
#include "util/files.h"
#include "util/json.h"

namespace provision::test {

// ---------------------------------------------------------------- HTTP

// One answer of the API: status, body, and the body parsed when it is JSON.
struct Reply {
  std::string method, path;
  int status = 0;  // 0: no answer at all
  std::string content_type, text;
  rapidjson::Document json;  // null unless the body is JSON

  std::string describe() const {
    return method + " " + path + " -> " + std::to_string(status) + " " + text.substr(0, 3000);
  }
  const rapidjson::Value* find(const std::string& pointer) const {
    if (json.IsNull()) return nullptr;
    return rapidjson::Pointer(pointer.c_str()).Get(json);
  }
  bool has(const std::string& pointer) const { return find(pointer) != nullptr; }
  const rapidjson::Value& at(const std::string& pointer) const {
    const auto* v = find(pointer);
    if (!v) throw std::runtime_error("no " + pointer + " in " + describe());
    return *v;
  }
  std::string str(const std::string& pointer) const {
    const auto* v = find(pointer);
    return v && v->IsString() ? std::string(json::view(*v)) : std::string();
  }
  int64_t num(const std::string& pointer) const {
    const auto& v = at(pointer);
    if (!v.IsInt64()) throw std::runtime_error(pointer + " is not an integer in " + describe());
    return v.GetInt64();
  }
  bool flag(const std::string& pointer) const {
    const auto& v = at(pointer);
    if (!v.IsBool()) throw std::runtime_error(pointer + " is not a boolean in " + describe());
    return v.GetBool();
  }
  size_t size(const std::string& pointer) const {
    const auto& v = at(pointer);
    if (!v.IsArray()) throw std::runtime_error(pointer + " is not an array in " + describe());
    return v.Size();
  }
  // The string member `name` of each item of the array at `pointer` (the items themselves when `name` is "").
  std::vector<std::string> strings(const std::string& pointer, const std::string& name) const {
    std::vector<std::string> out;
    const auto& v = at(pointer);
    if (!v.IsArray()) throw std::runtime_error(pointer + " is not an array in " + describe());
    for (const auto& item : v.GetArray()) {
      if (name.empty()) out.emplace_back(item.IsString() ? json::view(item) : "");
      else out.push_back(json::string_member(item, name).value_or(""));
    }
    return out;
  }
};

#define CHECK_STATUS(reply, code)     \
  do {                                \
    const Reply& checked_ = (reply);  \
    INFO(checked_.describe());        \
    CHECK(checked_.status == (code)); \
  } while (0)
#define REQUIRE_STATUS(reply, code)     \
  do {                                  \
    const Reply& checked_ = (reply);    \
    INFO(checked_.describe());          \
    REQUIRE(checked_.status == (code)); \
  } while (0)
// An error answer: the status, and {error: {code, message}} with that code.
#define CHECK_ERROR(reply, http_status, error_code)                   \
  do {                                                                \
    const Reply& checked_ = (reply);                                  \
    INFO(checked_.describe());                                        \
    CHECK(checked_.status == (http_status));                          \
    CHECK(checked_.content_type.starts_with("application/json"));     \
    CHECK(checked_.str("/error/code") == (error_code));               \
    CHECK(!checked_.str("/error/message").empty());                   \
  } while (0)

inline bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

inline std::string json_text(std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

// A client of the admin API with one token ("" sends no Authorization header).
class Api {
 public:
  Api(int port, const std::string& token) : port_(port), authorization_(token.empty() ? "" : "Bearer " + token) {}
  // Sends exactly this Authorization header.
  static Api with_authorization(int port, const std::string& header) {
    Api api(port, "");
    api.authorization_ = header;
    return api;
  }

  Reply call(const std::string& method, const std::string& path, const std::optional<std::string>& body = std::nullopt,
             const std::string& type = "application/json") const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(15, 0);
    client.set_write_timeout(15, 0);
    httplib::Headers headers;
    if (!authorization_.empty()) headers.emplace("Authorization", authorization_);
    const std::string content = body.value_or("");
    httplib::Result result = method == "GET"    ? client.Get(path, headers)
                             : method == "POST"  ? client.Post(path, headers, content, type)
                             : method == "PUT"   ? client.Put(path, headers, content, type)
                             : method == "PATCH" ? client.Patch(path, headers, content, type)
                             : method == "DELETE" ? (body ? client.Delete(path, headers, content, type) : client.Delete(path, headers))
                                                  : throw std::invalid_argument("method " + method);
    Reply reply;
    reply.method = method;
    reply.path = path;
    if (!result) {
      reply.text = "(no answer: " + httplib::to_string(result.error()) + ")";
      return reply;
    }
    reply.status = result->status;
    reply.text = result->body;
    reply.content_type = result->get_header_value("Content-Type");
    if (auto parsed = json::try_parse(reply.text, nullptr)) reply.json = std::move(*parsed);
    return reply;
  }
  Reply get(const std::string& path) const { return call("GET", path); }
  Reply post(const std::string& path, const std::string& body = "") const { return call("POST", path, body); }
  Reply put(const std::string& path, const std::string& body) const { return call("PUT", path, body); }
  Reply patch(const std::string& path, const std::string& body) const { return call("PATCH", path, body); }
  Reply del(const std::string& path) const { return call("DELETE", path); }

 private:
  int port_;
  std::string authorization_;
};

// Every item of a list, following nextCursor (`path` has no query or ends with '?'/'&').
inline std::vector<std::string> all_pages(const Api& api, const std::string& path, const std::string& key, int limit,
                                   int* pages = nullptr) {
  std::vector<std::string> keys;
  std::string after;
  for (int page = 1; page <= 100; ++page) {
    std::string separator = path.find('?') == std::string::npos ? "?" : "&";
    auto reply = api.get(path + separator + "limit=" + std::to_string(limit) + (after.empty() ? "" : "&after=" + after));
    INFO(reply.describe());
    REQUIRE(reply.status == 200);
    REQUIRE(reply.size("/items") <= static_cast<size_t>(limit));
    for (const auto& item : reply.at("/items").GetArray()) {
      const auto& member = item[key.c_str()];
      keys.push_back(member.IsString() ? std::string(json::view(member)) : std::to_string(member.GetInt64()));
    }
    if (pages) *pages = page;
    if (!reply.has("/nextCursor")) return keys;
    // a cursor is only offered on a full page
    CHECK(reply.size("/items") == static_cast<size_t>(limit));
    after = reply.str("/nextCursor");
    REQUIRE(!after.empty());
  }
  FAIL("paging never ends: " + path);
  return keys;
}

// The raw HTTP exchange, for requests the client library would not send.
inline int raw_http_status(int port, const std::string& request, std::string* answer = nullptr) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(inet_pton(AF_INET, "127.0.0.1", &address.sin_addr) == 1);
  timeval timeout{3, 0};  // a served request is answered in milliseconds
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) text.append(buffer, static_cast<size_t>(n));
  close(fd);
  if (answer) *answer = text;
  // "HTTP/1.1 200 OK"
  if (!text.starts_with("HTTP/1.")) return 0;
  return std::stoi(text.substr(9, 3));
}

// An HTTP answer as raw bytes, read into a Reply (status, content type, body, JSON).
inline Reply parse_answer(const std::string& text) {
  Reply reply;
  reply.method = "RAW";
  reply.text = text.substr(0, 300);
  auto end = text.find("\r\n\r\n");
  if (!text.starts_with("HTTP/1.") || end == std::string::npos) return reply;
  reply.status = std::stoi(text.substr(9, 3));
  std::istringstream headers(text.substr(0, end));
  for (std::string line; std::getline(headers, line);) {
    if (line.ends_with('\r')) line.pop_back();
    std::string lower = line;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.starts_with("content-type:")) reply.content_type = line.substr(line.find(':') + 2);
  }
  reply.text = text.substr(end + 4);
  if (auto parsed = json::try_parse(reply.text, nullptr)) reply.json = std::move(*parsed);
  return reply;
}

// The length an answer's headers declare, once they are complete.
inline std::optional<size_t> declared_length(const std::string& answer) {
  auto end = answer.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  std::string headers = answer.substr(0, end);
  for (auto& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto at = headers.find("\r\ncontent-length:");
  if (at == std::string::npos) return std::nullopt;
  return end + 4 + std::stoul(headers.substr(at + 17));
}

struct Streamed {
  std::string answer;            // all the server sent, until it closed or answered in full
  size_t sent_after_head = 0;    // body bytes on the wire (chunk framing included) when the answer began
  bool finished = false;         // the whole body went out before the answer
  std::chrono::milliseconds answered_after{-1};  // from the end of the head to the answer's first byte
};

// Writes `head` (request line and headers, blank line included, and any
// body of its own), then up to `body_bytes` of body ('x's): as 64 KiB chunks
// when `chunked`, with the last, empty chunk after them when `finish`. Stops
// writing once the server answers or closes, and reads the answer until the
// server closes or it is complete, or `timeout`. `sent_after_head` counts
// the bytes written after `head`.
inline Streamed stream_request(int port, const std::string& head, size_t body_bytes, bool chunked, bool finish,
                        std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(inet_pton(AF_INET, "127.0.0.1", &address.sin_addr) == 1);
  REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);

  Streamed out;
  const auto head_sent = std::chrono::steady_clock::now();
  const std::string piece(64 << 10, 'x');
  std::string pending = head;
  size_t body_left = body_bytes, sent = 0;
  bool in_head = true;
  bool writing = true, last_chunk_queued = false;
  while (std::chrono::steady_clock::now() - head_sent < timeout) {
    if (writing && pending.empty()) {
      if (body_left > 0) {
        size_t n = std::min(piece.size(), body_left);
        std::ostringstream size;
        size << std::hex << n;
        pending = chunked ? size.str() + "\r\n" + piece.substr(0, n) + "\r\n" : piece.substr(0, n);
        body_left -= n;
      } else if (chunked && finish && !last_chunk_queued) {
        pending = "0\r\n\r\n";
        last_chunk_queued = true;
      } else {
        out.finished = true;
        writing = false;
      }
    }
    pollfd p{fd, static_cast<short>(POLLIN | (writing ? POLLOUT : 0)), 0};
    if (poll(&p, 1, 50) < 0) break;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[65536];
      ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        if (out.answer.empty()) {
          out.answered_after =
              std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - head_sent);
          out.sent_after_head = sent;
          writing = false;
        }
        out.answer.append(buffer, static_cast<size_t>(n));
        if (auto length = declared_length(out.answer); length && out.answer.size() >= *length) break;
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        if (out.answer.empty()) out.sent_after_head = sent;
        break;
      }
    }
    if (writing && (p.revents & POLLOUT)) {
      ssize_t n = send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
      if (n > 0) {
        if (!in_head) sent += static_cast<size_t>(n);
        pending.erase(0, static_cast<size_t>(n));
        if (pending.empty()) in_head = false;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        writing = false;  // the server closed its side: read what it said
      }
    }
  }
  close(fd);
  return out;
}

// provisiond's resident set size in KiB (VmRSS in /proc/<pid>/status).
inline long resident_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  throw std::runtime_error("no VmRSS for process " + std::to_string(pid));
}

struct Discard {
  using Ch = char;
  void Put(char) {}
};

// An answer a strict JSON reader accepts: UTF-8 throughout (RapidJSON's own
// validator, not the code under test), no NUL, one document.
inline bool strict_json(std::string_view text) {
  rapidjson::MemoryStream in(text.data(), text.size());
  Discard out;
  while (in.Tell() < text.size())
    if (!rapidjson::UTF8<>::Validate(in, out)) return false;
  if (text.find('\0') != std::string_view::npos) return false;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  return !doc.HasParseError();
}

// ---------------------------------------------------------------- registry

struct Rows {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

// A query on the registry file, on a read-only connection of its own.
inline Rows query(const Stack& stack, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2((stack.dir / "registry.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open the registry");
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    std::string error = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error(sql + ": " + error);
  }
  Rows out;
  int columns = sqlite3_column_count(statement);
  for (int i = 0; i < columns; ++i) out.columns.emplace_back(sqlite3_column_name(statement, i));
  while (sqlite3_step(statement) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < columns; ++i) {
      const auto* text = sqlite3_column_text(statement, i);
      row.emplace_back(text ? reinterpret_cast<const char*>(text) : "NULL");
    }
    out.rows.push_back(std::move(row));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return out;
}

inline int64_t count_rows(const Stack& stack, const std::string& table) {
  return std::stoll(query(stack, "SELECT count(*) FROM " + table).rows.at(0).at(0));
}

// Every row of every table but the logs (audit log, change log) and the
// tokens' last use: equal snapshots mean nothing was written.
inline std::string snapshot(const Stack& stack) {
  std::vector<std::string> lines;
  auto tables = query(stack,
                      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
                      "('audit_log', 'registry_changes', 'sqlite_sequence') ORDER BY name");
  for (const auto& table : tables.rows) {
    auto rows = query(stack, "SELECT * FROM \"" + table[0] + "\"");
    for (const auto& row : rows.rows) {
      std::string line = table[0];
      for (size_t i = 0; i < row.size(); ++i)
        if (rows.columns[i] != "last_used_at") line += " | " + rows.columns[i] + "=" + row[i].substr(0, 200);
      lines.push_back(line);
    }
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

struct AuditRow {
  int64_t id = 0;
  std::string actor, action, subject, result, source, detail;
};

// Audit entries after `after_id`, oldest first.
inline std::vector<AuditRow> audit_since(const Stack& stack, int64_t after_id) {
  auto rows = query(stack, "SELECT id, actor, action, subject, result, source, detail FROM audit_log WHERE id > " +
                               std::to_string(after_id) + " ORDER BY id");
  std::vector<AuditRow> out;
  for (const auto& r : rows.rows) out.push_back({std::stoll(r[0]), r[1], r[2], r[3], r[4], r[5], r[6]});
  return out;
}

inline int64_t last_audit_id(const Stack& stack) {
  return std::stoll(query(stack, "SELECT coalesce(max(id), 0) FROM audit_log").rows.at(0).at(0));
}

inline std::string describe(const std::vector<AuditRow>& rows) {
  std::string out;
  for (const auto& r : rows)
    out += std::to_string(r.id) + " " + r.actor + " " + r.action + " " + r.subject + " " + r.result + " " + r.source + " " +
           r.detail + "\n";
  return out;
}

// ---------------------------------------------------------------- OpenAPI

inline const char* const kMethods[] = {"get", "post", "put", "patch", "delete"};

inline std::string upper(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// schemas/openapi.json: its operations, and response validation with
// RapidJSON (draft-04: components.schemas become "definitions").
class OpenApi {
 public:
  struct Operation {
    std::string method, pattern;  // "GET", "/v1/templates/{name}"
    std::vector<std::string> roles;
    const rapidjson::Value* spec = nullptr;
    std::string key() const { return method + " " + pattern; }
    bool has_body() const { return spec->HasMember("requestBody"); }
    bool documents(int status) const { return (*spec)["responses"].HasMember(std::to_string(status).c_str()); }
    bool has_query(const std::string& name) const {
      if (!spec->HasMember("parameters")) return false;
      for (const auto& p : (*spec)["parameters"].GetArray())
        if (json::string_member(p, "name") == name && json::string_member(p, "in") == std::string("query")) return true;
      return false;
    }
    bool needs_token() const { return !(roles.size() == 1 && roles[0].starts_with("none")); }
    // x-audit-action: the actions a change is audited under (one, or one of several)
    std::vector<std::string> audit_actions() const {
      std::vector<std::string> out;
      if (!spec->HasMember("x-audit-action")) return out;
      const auto& a = (*spec)["x-audit-action"];
      if (a.IsString()) out.emplace_back(json::view(a));
      else for (const auto& v : a.GetArray()) out.emplace_back(json::view(v));
      return out;
    }
    int success_status() const {
      for (const auto& m : (*spec)["responses"].GetObject()) {
        int status = std::stoi(std::string(json::view(m.name)));
        if (status >= 200 && status < 300) return status;
      }
      return 0;
    }
  };

  OpenApi() : document_(json::parse(read_file(std::string(PROVISION_SOURCE_DIR) + "/schemas/openapi.json"), "openapi.json")) {
    definitions_ = rewrite(json::stringify(document_["components"]["schemas"]));
    for (const auto& path : document_["paths"].GetObject())
      for (const char* method : kMethods)
        if (path.value.HasMember(method)) {
          Operation op;
          op.method = upper(method);
          op.pattern = std::string(json::view(path.name));
          op.spec = &path.value[method];
          if (op.spec->HasMember("x-roles"))
            for (const auto& role : (*op.spec)["x-roles"].GetArray()) op.roles.emplace_back(json::view(role));
          operations_.push_back(op);
        }
  }

  const std::vector<Operation>& operations() const { return operations_; }
  const Operation* find(const std::string& method, const std::string& pattern) const {
    for (const auto& op : operations_)
      if (op.method == method && op.pattern == pattern) return &op;
    return nullptr;
  }
  bool has_path(const std::string& pattern) const { return document_["paths"].HasMember(pattern.c_str()); }
  // Roles named by any x-roles (not "none (no token)").
  std::set<std::string> roles() const {
    std::set<std::string> out;
    for (const auto& op : operations_)
      for (const auto& role : op.roles)
        if (!role.starts_with("none")) out.insert(role);
    return out;
  }

  // nullopt when the reply is what the document says `op` answers with its
  // status: a documented status, its content type, and a body valid against
  // its schema (an empty body when it documents none).
  std::optional<std::string> violation(const Operation& op, const Reply& reply) const {
    std::string status = std::to_string(reply.status);
    const auto& responses = (*op.spec)["responses"];
    if (!responses.HasMember(status.c_str())) return op.key() + " does not document status " + status;
    const auto& response = responses[status.c_str()];
    if (!response.HasMember("content")) {
      if (!reply.text.empty()) return op.key() + " documents no body for " + status + " but sent one";
      return std::nullopt;
    }
    const auto& content = response["content"];
    if (content.HasMember("application/json")) {
      if (!reply.content_type.starts_with("application/json")) return "content type " + reply.content_type + ", not application/json";
      if (reply.json.IsNull()) return "the body is not JSON";
      return schema_violation(content["application/json"]["schema"], reply.json);
    }
    if (content.HasMember("text/plain")) {
      if (!reply.content_type.starts_with("text/plain")) return "content type " + reply.content_type + ", not text/plain";
      return std::nullopt;
    }
    return op.key() + ": a documented content type this test does not know";
  }

  // The value against a schema of the document (its $refs resolved in components.schemas).
  std::optional<std::string> schema_violation(const rapidjson::Value& schema, const rapidjson::Value& value) const {
    std::string text = R"({"definitions":)" + definitions_ + R"(,"allOf":[)" + rewrite(json::stringify(schema)) + "]}";
    rapidjson::Document schema_document = json::parse(text, "response schema");
    rapidjson::SchemaDocument compiled(schema_document);
    rapidjson::SchemaValidator validator(compiled);
    if (value.Accept(validator)) return std::nullopt;
    rapidjson::StringBuffer where, rule;
    validator.GetInvalidDocumentPointer().StringifyUriFragment(where);
    validator.GetInvalidSchemaPointer().StringifyUriFragment(rule);
    return std::string("at ") + where.GetString() + ": violates '" + validator.GetInvalidSchemaKeyword() + "' of " +
           rule.GetString();
  }
  std::optional<std::string> component_violation(const std::string& component, const rapidjson::Value& value) const {
    rapidjson::Document ref(rapidjson::kObjectType);
    ref.AddMember("$ref", json::string_value("#/components/schemas/" + component, ref.GetAllocator()), ref.GetAllocator());
    return schema_violation(ref, value);
  }

 private:
  static std::string rewrite(std::string text) {
    const std::string from = "#/components/schemas/", to = "#/definitions/";
    for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
      text.replace(pos, from.size(), to);
    return text;
  }
  rapidjson::Document document_;
  std::string definitions_;
  std::vector<Operation> operations_;
};

inline const OpenApi& openapi() {
  static const OpenApi document;
  return document;
}

// CHECKs that `reply` is what openapi.json documents for it.
inline void check_documented(const std::string& method, const std::string& pattern, const Reply& reply) {
  INFO(reply.describe());
  const auto* op = openapi().find(method, pattern);
  INFO(method + " " + pattern + " in openapi.json");
  REQUIRE(op != nullptr);
  auto problem = openapi().violation(*op, reply);
  INFO(problem.value_or(""));
  CHECK_FALSE(problem.has_value());
}

// ---------------------------------------------------------------- fixtures

inline const std::string kTemplateBody =
    R"({"Parameters":{"SerialNumber":{"Type":"String"}},"Resources":{"thing":{"Type":"AWS::IoT::Thing",)"
    R"("Properties":{"ThingName":{"Fn::Join":["",["t-",{"Ref":"SerialNumber"}]]}}}}})";
inline const std::string kTemplateBody2 =
    R"({"Parameters":{"SerialNumber":{"Type":"String"}},"Resources":{"thing":{"Type":"AWS::IoT::Thing",)"
    R"("Properties":{"ThingName":{"Fn::Join":["",["v2-",{"Ref":"SerialNumber"}]]}}}}})";
inline const std::string kPolicyDocument =
    R"({"statements":[{"effect":"allow","actions":["connect"],"clientIds":["${thingName}"]}]})";
inline const std::string kPolicyDocument2 =
    R"({"statements":[{"effect":"allow","actions":["connect"],"clientIds":["${thingName}"]},)"
    R"({"effect":"allow","actions":["publish"],"topics":["devices/${thingName}/telemetry"]}]})";

inline std::string template_create(const std::string& name, const std::string& body = kTemplateBody) {
  return R"({"name":)" + json_text(name) + R"(,"description":"made by a test","body":)" + body + "}";
}

struct Registered {
  std::string thing_name, certificate_id;
};

// A concrete request.
struct Request {
  std::string method, path;
  std::optional<std::string> body;
};

// What requests need, made through the API as the bootstrap admin, and unique names.
struct World {
  Stack& stack;
  Api admin;
  int counter = 0;

  explicit World(Stack& s) : stack(s), admin(s.admin_port, s.admin_token) {}

  std::string unique(const std::string& prefix) { return prefix + "-" + std::to_string(++counter); }
  std::string dev_claim_id() const { return pki::Certificate::load(stack.pki.claim_cert).id(); }
  std::string fleet_ca_id() const { return pki::Certificate::load(stack.pki.fleet_ca_cert).id(); }

  Reply must(Reply reply, int status) {
    INFO("setting up: " + reply.describe());
    REQUIRE(reply.status == status);
    return reply;
  }
  std::string new_template(int versions = 1) {
    std::string name = unique("Tmpl");
    must(admin.post("/v1/templates", template_create(name)), 201);
    for (int v = 2; v <= versions; ++v)
      must(admin.post("/v1/templates/" + name + "/versions", R"({"body":)" + kTemplateBody2 + "}"), 201);
    return name;
  }
  std::string new_policy() {
    std::string name = unique("Policy");
    must(admin.post("/v1/policies", R"({"name":)" + json_text(name) + R"(,"document":)" + kPolicyDocument + "}"), 201);
    return name;
  }
  std::string new_claim() {
    return must(admin.post("/v1/claims", R"({"templates":["DemoFleet"],"description":"test claim"})"), 201).str("/id");
  }
  std::string ca_create_body(const std::string& name) {
    auto root = pki::CertificateAuthority::create_root("Manufacturer " + name, 3600);
    return R"({"name":)" + json_text(name) + R"(,"role":"manufacturer","templates":["DemoFleet"],"registrationIdField":"CN",)"
           R"("certificatePem":)" + json_text(root.certificate().to_pem()) + "}";
  }
  std::string new_ca() { return must(admin.post("/v1/cas", ca_create_body(unique("maker"))), 201).str("/id"); }
  Registered new_thing() {
    auto reply = must(admin.post("/v1/register", R"({"templateName":"DemoFleet","parameters":{"SerialNumber":)" +
                                                     json_text(unique("r")) + "}}"),
                      201);
    return {reply.str("/thingName"), reply.str("/certificateId")};
  }
  // A certificate a programmatic client has taken off its thing and disabled: deletable.
  std::string new_detached_certificate() {
    auto thing = new_thing();
    must(admin.patch("/v1/certificates/" + thing.certificate_id, R"({"status":"INACTIVE"})"), 200);
    must(admin.del("/v1/things/" + thing.thing_name + "/certificates/" + thing.certificate_id), 204);
    return thing.certificate_id;
  }
  std::string new_enrollment() {
    std::string id = unique("SN");
    must(admin.post("/v1/enrollments", R"({"registrationId":)" + json_text(id) + R"(,"templateName":"DemoFleet"})"), 201);
    return id;
  }
  std::string new_broker() {
    std::string name = unique("broker");
    must(admin.post("/v1/brokers", R"({"name":)" + json_text(name) + R"(,"endpoint":"mqtts://b.example.com:8883"})"), 201);
    return name;
  }
  std::string firmware_body(const std::string& version) {
    return R"({"productId":1,"version":)" + json_text(version) +
           R"(,"hardwareVersions":["ESP32-S3"],"downloadUrl":"https://fw.example.com/fw.bin","fileSize":1024,"sha256":")" +
           std::string(64, 'a') + R"("})";
  }
  std::string new_firmware() {
    return std::to_string(must(admin.post("/v1/firmware", firmware_body("1." + std::to_string(++counter) + ".0")), 201).json["id"].GetInt64());
  }
  // A password device's thing with a credential (as the bootstrap listener leaves it).
  std::string new_password_device() {
    std::string thing = unique("pwdev");
    auto reg = stack.registry();
    reg.insert_thing({thing, std::nullopt, {}});
    registry::DeviceCredentialRecord c;
    c.thing_name = thing;
    c.device_uuid = "uuid-" + thing;
    c.secret_hash = std::string(64, '0');
    c.issued_at = 1;
    reg.insert_device_credential(c);
    return thing;
  }
  // A certificate the broker trusts (issued by the development root) and its
  // key, written under the stack directory: a new service identity's.
  CertificateFiles service_certificate(const std::string& name) {
    auto root = pki::CertificateAuthority::load(stack.pki.root_cert, stack.pki.root_key);
    auto key = pki::PrivateKey::generate_ec();
    pki::IssueOptions options;
    options.subject = {{"CN", name}};
    auto certificate = root.issue(key.get(), options);
    CertificateFiles files{(stack.dir / (name + ".pem")).string(), (stack.dir / (name + ".key")).string()};
    write_file(files.certificate, certificate.to_pem(), 0644);
    write_file(files.key, key.to_pem(), 0600);
    return files;
  }
  std::string service_identity_body(const std::string& name, const std::string& kind = "factory") {
    return R"({"name":)" + json_text(name) + R"(,"kind":)" + json_text(kind) + R"(,"certificatePem":)" +
           json_text(read_file(service_certificate(name).certificate)) + "}";
  }
  std::string new_service_identity() {
    return must(admin.post("/v1/service-identities", service_identity_body(unique("line"))), 201).str("/id");
  }
  std::string new_token(const std::string& role, const std::string& name = "") {
    std::string token_name = name.empty() ? unique("token-" + role) : name;
    return must(admin.post("/v1/tokens", R"({"name":)" + json_text(token_name) + R"(,"role":)" + json_text(role) + "}"), 201)
        .str("/token");
  }
};

}  // namespace provision::test
