#include "http/gate.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "util/text.h"

namespace provision::service::http {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// How a request's body is delimited (RFC 9112, 6.3): chunked, by
// Content-Length, or not at all (a request with neither has no body).
struct Framing {
  bool chunked = false;
  std::optional<std::uint64_t> length;
  bool has_body() const { return chunked || (length && *length > 0); }
};

bool takes_body(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

std::variant<Framing, Refusal> framing(const httplib::Request& req) {
  Framing framing;
  if (size_t codings = req.get_header_value_count("Transfer-Encoding"); codings > 0) {
    std::string coding = req.get_header_value("Transfer-Encoding");
    if (codings > 1 || lower(trim(coding)) != "chunked")
      return Refusal{501, "NotImplemented", "transfer coding " + text::quote(coding) + " is not supported (only chunked)"};
    framing.chunked = true;
  }
  if (size_t lengths = req.get_header_value_count("Content-Length"); lengths > 0) {
    const std::string value = req.get_header_value("Content-Length");
    for (size_t i = 1; i < lengths; ++i)
      if (req.get_header_value("Content-Length", i) != value) return Refusal{400, "InvalidRequest", "conflicting Content-Length headers"};
    std::string_view digits = trim(value);
    std::uint64_t length = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size())
      return Refusal{400, "InvalidRequest", "Content-Length " + text::quote(value) + " is not a length"};
    if (framing.chunked) return Refusal{400, "InvalidRequest", "a request may not have both Content-Length and Transfer-Encoding"};
    framing.length = length;
  }
  if (req.has_header("Content-Encoding") && lower(trim(req.get_header_value("Content-Encoding"))) != "identity")
    return Refusal{415, "UnsupportedMediaType",
                   "content coding " + text::quote(req.get_header_value("Content-Encoding")) + " is not supported"};
  if (framing.has_body()) {
    if (!takes_body(req.method)) return Refusal{400, "InvalidRequest", "a " + req.method + " request takes no body"};
    // cpp-httplib 0.11 reads the body of a DELETE only by its Content-Length.
    if (framing.chunked && req.method == "DELETE")
      return Refusal{411, "LengthRequired", "a DELETE request's body needs a Content-Length"};
  }
  return framing;
}

// `header` names `wanted`, with any parameters; a charset, if given, is UTF-8.
bool media_type_is(const std::string& header, const std::string& wanted) {
  std::string_view rest = header;
  size_t semicolon = rest.find(';');
  if (lower(trim(rest.substr(0, semicolon))) != wanted) return false;
  while (semicolon != std::string_view::npos) {
    rest.remove_prefix(semicolon + 1);
    semicolon = rest.find(';');
    std::string_view parameter = trim(rest.substr(0, semicolon));
    if (parameter.empty()) continue;
    size_t equals = parameter.find('=');
    if (equals == std::string_view::npos) return false;
    std::string_view value = trim(parameter.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (lower(trim(parameter.substr(0, equals))) == "charset" && lower(value) != "utf-8") return false;
  }
  return true;
}

std::string default_code(int status) {
  switch (status) {
    case 400: return "InvalidRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 411: return "LengthRequired";
    case 413: return "PayloadTooLarge";
    case 414: return "UriTooLong";
    case 415: return "UnsupportedMediaType";
    case 501: return "NotImplemented";
    case 503: return "ServiceUnavailable";
  }
  return status >= 500 ? "InternalError" : "BadRequest";
}

// What the pre-routing handler admitted, for the route's handler that runs
// next on the same thread (cpp-httplib runs both inside one call).
struct Admission {
  const Gate* gate = nullptr;
  Admitted admitted;
};
thread_local Admission current_admission;

std::optional<Admitted> take_admission(const Gate* gate) {
  if (current_admission.gate != gate) return std::nullopt;
  current_admission.gate = nullptr;
  return std::move(current_admission.admitted);
}

// Whether some of the request's body may be left unread on the connection.
bool body_unread(const httplib::Request& req) {
  auto f = framing(req);
  return !std::holds_alternative<Framing>(f) || std::get<Framing>(f).has_body();
}

}  // namespace

Gate::Gate(GateSettings settings, Check check, ErrorBody error_body)
    : settings_(std::move(settings)), check_(std::move(check)), error_body_(std::move(error_body)) {}

std::variant<Admitted, Refusal> Gate::decide(const httplib::Request& req) const {
  auto f = framing(req);
  if (auto* refusal = std::get_if<Refusal>(&f)) return *refusal;
  const Framing body = std::get<Framing>(f);
  if (!text::is_utf8(req.path)) return Refusal{400, "InvalidRequest", "the request path is not UTF-8 once decoded"};
  for (const auto& [name, value] : req.params)
    if (!text::is_utf8(name) || !text::is_utf8(value))
      return Refusal{400, "InvalidRequest", "a query parameter is not UTF-8 once decoded"};

  std::variant<Admitted, Refusal> verdict;
  try {
    verdict = check_(req);
  } catch (const std::exception& e) {
    spdlog::error("HTTP {} {}: {}", req.method, text::escape(req.path, 200), e.what());
    return Refusal{500, "InternalError", "internal failure"};
  }
  if (std::holds_alternative<Refusal>(verdict) || !body.has_body()) return verdict;

  if (req.get_header_value_count("Content-Type") != 1 || !media_type_is(req.get_header_value("Content-Type"), settings_.media_type))
    return Refusal{415, "UnsupportedMediaType",
                   "the body must be " + settings_.media_type + ", not " +
                       (req.has_header("Content-Type") ? text::quote(req.get_header_value("Content-Type")) : "untyped")};
  if (body.length && *body.length > settings_.max_body_bytes + settings_.max_discard_bytes)
    return Refusal{413, "PayloadTooLarge", "request body larger than " + std::to_string(settings_.max_body_bytes) + " bytes"};
  return verdict;
}

void Gate::install(httplib::Server& server) const {
  // A backstop only: every route with a body reads it through with_body.
  server.set_payload_max_length(settings_.max_body_bytes + settings_.max_discard_bytes);
  server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    current_admission = {};
    auto verdict = decide(req);
    if (auto* refusal = std::get_if<Refusal>(&verdict)) {
      refuse(res, *refusal, body_unread(req));
      return httplib::Server::HandlerResponse::Handled;
    }
    current_admission = {this, std::get<Admitted>(std::move(verdict))};
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Without it the library answers "100 Continue" before any handler runs,
  // inviting the body of a request it is about to refuse.
  server.set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
    auto verdict = decide(req);
    if (auto* refusal = std::get_if<Refusal>(&verdict)) {
      refuse(res, *refusal, true);
      return refusal->status;
    }
    return 100;
  });
  // What the library answers by itself (a malformed request line, no
  // route...) gets the listener's error document too.
  server.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (res.has_header("Content-Type")) return httplib::Server::HandlerResponse::Handled;  // answered already
    std::string message = res.status == 404   ? "no such resource: " + req.method + " " + text::quote(req.path, 200)
                          : res.status == 413 ? "request body larger than the limit"
                                              : "request refused";
    res.set_content(error_body_({res.status, default_code(res.status), message}), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  // The library adds Keep-Alive to an answer it does not close itself.
  server.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    for (const auto& [name, value] : settings_.headers)
      if (!res.has_header(name.c_str())) res.set_header(name, value);
    if (settings_.on_answer) settings_.on_answer(req, res);
    if (res.get_header_value("Connection") != "close") return;
    res.headers.erase("Connection");
    res.headers.erase("Keep-Alive");
    res.set_header("Connection", "close");
  });
}

void Gate::refuse(httplib::Response& res, const Refusal& refusal, bool close) const {
  res.status = refusal.status;
  if (refusal.retry_after_seconds > 0) res.set_header("Retry-After", std::to_string(refusal.retry_after_seconds));
  auto body = std::make_shared<const std::string>(error_body_(refusal));
  if (!close) {
    res.set_content(*body, "application/json");
    return;
  }
  // cpp-httplib 0.11 keeps the connection after an answer it wrote in full,
  // and reads what follows as the next request; a content provider that
  // fails once it has written the whole answer makes it close instead.
  res.set_header("Connection", "close");
  res.set_content_provider(body->size(), "application/json",
                           [body](size_t offset, size_t length, httplib::DataSink& sink) {
                             if (offset < body->size()) sink.write(body->data() + offset, std::min(length, body->size() - offset));
                             return false;
                           });
}

httplib::Server::HandlerWithContentReader Gate::with_body(BodyHandler handler) const {
  return [this, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                              const httplib::ContentReader& reader) {
    auto admitted = take_admission(this);
    auto f = framing(req);
    const bool has_body = std::holds_alternative<Framing>(f) && std::get<Framing>(f).has_body();
    if (!admitted) return refuse(res, {500, "InternalError", "the request was not admitted"}, has_body);
    std::string body;
    if (has_body) {
      const auto& declared = std::get<Framing>(f).length;
      if (declared && *declared <= settings_.max_body_bytes) body.reserve(static_cast<size_t>(*declared));
      size_t received = 0;
      bool over = false;
      const bool complete = reader([&](const char* data, size_t size) {
        received += size;
        if (received > settings_.max_body_bytes) {
          if (!over) std::string().swap(body);
          over = true;
          return received <= settings_.max_body_bytes + settings_.max_discard_bytes;  // false: stop reading
        }
        body.append(data, size);
        return true;
      });
      if (over)
        return refuse(res, {413, "PayloadTooLarge", "request body larger than " + std::to_string(settings_.max_body_bytes) + " bytes"},
                      !complete);
      if (!complete)
        return refuse(res, {400, "InvalidRequest", "the request body was cut short or its chunked encoding is malformed"}, true);
    }
    handler(req, res, *admitted, body);
  };
}

httplib::Server::Handler Gate::without_body(Handler handler) const {
  return [this, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    auto admitted = take_admission(this);
    if (!admitted) return refuse(res, {500, "InternalError", "the request was not admitted"}, false);
    handler(req, res, *admitted);
  };
}

}  // namespace provision::service::http
