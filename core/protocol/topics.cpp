#include "protocol/topics.h"

#include <array>

namespace provision::protocol {
namespace {

constexpr std::string_view kProvisionRoot = "$provision/";
constexpr std::string_view kAwsCertificates = "$aws/certificates/";
constexpr std::string_view kAwsTemplates = "$aws/provisioning-templates/";

std::optional<Format> parse_format(std::string_view s) {
  if (s == "json") return Format::Json;
  if (s == "cbor") return Format::Cbor;
  return std::nullopt;
}

bool consume(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

// Parses "<op-path>/<fmt>" after the certificates root.
std::optional<RequestTopic> parse_certificates(std::string_view rest, Alias alias) {
  RequestTopic r;
  r.alias = alias;
  if (consume(rest, "create/")) {
    r.operation = Operation::CreateKeysAndCertificate;
  } else if (consume(rest, "create-from-csr/")) {
    r.operation = Operation::CreateCertificateFromCsr;
  } else if (alias == Alias::Provision && consume(rest, "renew/")) {
    r.operation = Operation::RenewCertificate;
  } else {
    return std::nullopt;
  }
  auto format = parse_format(rest);
  if (!format) return std::nullopt;
  r.format = *format;
  return r;
}

// Parses "<template>/provision/<fmt>" after the templates root.
std::optional<RequestTopic> parse_template(std::string_view rest, Alias alias) {
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view name = rest.substr(0, slash);
  rest.remove_prefix(slash + 1);
  if (!valid_template_name(name) || !consume(rest, "provision/")) return std::nullopt;
  auto format = parse_format(rest);
  if (!format) return std::nullopt;
  RequestTopic r;
  r.operation = Operation::RegisterThing;
  r.alias = alias;
  r.format = *format;
  r.template_name = std::string(name);
  return r;
}

}  // namespace

std::optional<RequestTopic> parse_request_topic(std::string_view topic) {
  std::string_view rest = topic;
  if (consume(rest, kProvisionRoot)) {
    if (consume(rest, "certificates/")) return parse_certificates(rest, Alias::Provision);
    if (consume(rest, "templates/")) return parse_template(rest, Alias::Provision);
    if (consume(rest, "factory/enrollments/")) {
      auto format = parse_format(rest);
      if (!format) return std::nullopt;
      return RequestTopic{Operation::PublishEnrollment, *format, Alias::Provision, ""};
    }
    if (consume(rest, "firmware/check/")) {
      auto format = parse_format(rest);
      if (!format) return std::nullopt;
      return RequestTopic{Operation::CheckFirmware, *format, Alias::Provision, ""};
    }
    return std::nullopt;
  }
  if (consume(rest, kAwsCertificates)) return parse_certificates(rest, Alias::Aws);
  if (consume(rest, kAwsTemplates)) return parse_template(rest, Alias::Aws);
  return std::nullopt;
}

std::optional<ReplyTopic> parse_reply_topic(std::string_view topic) {
  auto slash = topic.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view last = topic.substr(slash + 1);
  if (last != "accepted" && last != "rejected") return std::nullopt;
  auto request = parse_request_topic(topic.substr(0, slash));
  if (!request) return std::nullopt;
  return ReplyTopic{*request, last == "accepted"};
}

std::string request_topic(const RequestTopic& r) {
  std::string topic;
  const bool aws = r.alias == Alias::Aws;
  switch (r.operation) {
    case Operation::CreateKeysAndCertificate:
      topic = aws ? std::string(kAwsCertificates) : std::string(kProvisionRoot) + "certificates/";
      topic += "create/";
      break;
    case Operation::CreateCertificateFromCsr:
      topic = aws ? std::string(kAwsCertificates) : std::string(kProvisionRoot) + "certificates/";
      topic += "create-from-csr/";
      break;
    case Operation::RegisterThing:
      topic = aws ? std::string(kAwsTemplates) : std::string(kProvisionRoot) + "templates/";
      topic += r.template_name + "/provision/";
      break;
    case Operation::RenewCertificate:
      topic = std::string(kProvisionRoot) + "certificates/renew/";
      break;
    case Operation::PublishEnrollment:
      topic = std::string(kProvisionRoot) + "factory/enrollments/";
      break;
    case Operation::CheckFirmware:
      topic = std::string(kProvisionRoot) + "firmware/check/";
      break;
  }
  topic += format_name(r.format);
  return topic;
}

std::string reply_topic(const RequestTopic& request, bool accepted) {
  return request_topic(request) + (accepted ? "/accepted" : "/rejected");
}

bool in_provisioning_namespace(std::string_view topic) {
  return topic.starts_with(kProvisionRoot) || topic == "$provision" || topic.starts_with(kAwsCertificates) ||
         topic.starts_with(kAwsTemplates);
}

bool valid_template_name(std::string_view name) {
  if (name.empty() || name.size() > 36) return false;
  for (char c : name) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string_view operation_name(Operation operation) {
  switch (operation) {
    case Operation::CreateKeysAndCertificate: return "CreateKeysAndCertificate";
    case Operation::CreateCertificateFromCsr: return "CreateCertificateFromCsr";
    case Operation::RegisterThing: return "RegisterThing";
    case Operation::RenewCertificate: return "RenewCertificate";
    case Operation::PublishEnrollment: return "PublishEnrollment";
    case Operation::CheckFirmware: return "CheckFirmware";
  }
  return "Unknown";
}

std::string_view format_name(Format format) { return format == Format::Cbor ? "cbor" : "json"; }

InternalTopics::InternalTopics(std::string p)
    : prefix(std::move(p)), requests(prefix + "/requests"), replies(prefix + "/replies"), events(prefix + "/events") {}

std::string InternalTopics::shared_requests(std::string_view group) const {
  return "$share/" + std::string(group) + "/" + requests;
}

std::string InternalTopics::shared_events(std::string_view group) const {
  return "$share/" + std::string(group) + "/" + events;
}

bool InternalTopics::contains(std::string_view topic) const {
  return topic.starts_with(prefix) && (topic.size() == prefix.size() || topic[prefix.size()] == '/');
}

}  // namespace provision::protocol
