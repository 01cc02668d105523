#include "http/gate.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
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

std::variant<Framing, Refusal> framing(const Request& req) {
  Framing framing;
  if (size_t codings = req.header_count("Transfer-Encoding"); codings > 0) {
    std::string coding = req.header("Transfer-Encoding");
    if (codings > 1 || lower(trim(coding)) != "chunked")
      return Refusal{501, "NotImplemented", "transfer coding " + text::quote(coding) + " is not supported (only chunked)"};
    framing.chunked = true;
  }
  if (size_t lengths = req.header_count("Content-Length"); lengths > 0) {
    const std::string value = req.header("Content-Length");
    for (size_t i = 1; i < lengths; ++i)
      if (req.header("Content-Length", i) != value) return Refusal{400, "InvalidRequest", "conflicting Content-Length headers"};
    std::string_view digits = trim(value);
    std::uint64_t length = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size())
      return Refusal{400, "InvalidRequest", "Content-Length " + text::quote(value) + " is not a length"};
    if (framing.chunked) return Refusal{400, "InvalidRequest", "a request may not have both Content-Length and Transfer-Encoding"};
    framing.length = length;
  }
  if (req.has_header("Content-Encoding") && lower(trim(req.header("Content-Encoding"))) != "identity")
    return Refusal{415, "UnsupportedMediaType",
                   "content coding " + text::quote(req.header("Content-Encoding")) + " is not supported"};
  if (framing.has_body()) {
    if (!takes_body(req.method)) return Refusal{400, "InvalidRequest", "a " + text::escape(req.method, 16) + " request takes no body"};
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


}  // namespace

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

Gate::Gate(GateSettings settings, Check check, ErrorBody error_body)
    : settings_(std::move(settings)), check_(std::move(check)), error_body_(std::move(error_body)) {}

std::variant<Admitted, Refusal> Gate::decide(const Request& req) const {
  auto f = framing(req);
  if (auto* refusal = std::get_if<Refusal>(&f)) return *refusal;
  const Framing body = std::get<Framing>(f);
  if (!text::is_utf8(req.path)) return Refusal{400, "InvalidRequest", "the request path is not UTF-8 once decoded"};
  for (const auto& [name, value] : req.query)
    if (!text::is_utf8(name) || !text::is_utf8(value))
      return Refusal{400, "InvalidRequest", "a query parameter is not UTF-8 once decoded"};

  std::variant<Admitted, Refusal> verdict;
  try {
    verdict = check_(req);
  } catch (const std::exception& e) {
    spdlog::error("HTTP {} {}: {}", text::escape(req.method, 16), text::escape(req.path, 200), e.what());
    return Refusal{500, "InternalError", "internal failure"};
  }
  if (std::holds_alternative<Refusal>(verdict) || !body.has_body()) return verdict;

  if (req.header_count("Content-Type") != 1 || !media_type_is(req.header("Content-Type"), settings_.media_type))
    return Refusal{415, "UnsupportedMediaType",
                   "the body must be " + settings_.media_type + ", not " +
                       (req.has_header("Content-Type") ? text::quote(req.header("Content-Type")) : "untyped")};
  if (body.length && *body.length > settings_.max_body_bytes)
    return Refusal{413, "PayloadTooLarge", "request body larger than " + std::to_string(settings_.max_body_bytes) + " bytes"};
  return verdict;
}

Response Gate::refuse(const Refusal& refusal) const {
  Response res;
  res.status = refusal.status;
  if (refusal.retry_after_seconds > 0) res.set_header("Retry-After", std::to_string(refusal.retry_after_seconds));
  std::string body;
  try {
    body = error_body_(refusal);
  } catch (const std::exception& e) {
    // A message that cannot be written (request text that slipped into it
    // unescaped) still gets its status and code, never an exception out of
    // the listener (the http fuzz harness found one).
    spdlog::error("HTTP refusal {} {} could not be written: {}", refusal.status, refusal.code, e.what());
    body = R"({"error":{"code":)" + text::quote(refusal.code, 64) + R"(,"message":"the request was refused"}})";
  }
  res.set_content(body, "application/json");
  return res;
}

void Gate::finish(const Request& req, Response& res) const {
  for (const auto& [name, value] : settings_.headers)
    if (!res.has_header(name)) res.set_header(name, value);
  if (settings_.on_answer) settings_.on_answer(req, res);
}

}  // namespace provision::service::http
