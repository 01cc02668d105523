// /v1/audit (the audit log, newest first), /v1/tokens (API tokens, stored
// as SHA-256 hashes; a token is shown once, when it is created) and
// /v1/service-identities (the certificates workers and factory servers
// connect to the broker with).
#include "admin/api.h"
#include "fleet/access.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/json.h"
#include "util/random.h"
#include "util/text.h"

namespace provision::service::admin {
namespace {

Response list_audit(Call& call) {
  registry::AuditFilter filter;
  filter.actor = call.query_string("actor");
  filter.action = call.query_string("action");
  filter.subject = call.query_string("subject");
  filter.since = call.query_int("since");
  filter.until = call.query_int("until");
  auto page = call.page();
  filter.limit = page.limit;
  if (!page.after.empty()) {
    try {
      filter.before_id = std::stoll(page.after);
    } catch (const std::exception&) {
      throw ApiError(400, "InvalidField", "after: not a cursor of this list", "after");
    }
  }
  rapidjson::Document items(rapidjson::kArrayType);
  auto& a = items.GetAllocator();
  std::string last;
  for (const auto& e : call.registry.audit_entries(filter)) {
    rapidjson::Value item(rapidjson::kObjectType);
    item.AddMember("id", e.id, a);
    item.AddMember("at", e.at, a);
    item.AddMember("actor", json::string_value(e.actor, a), a);
    item.AddMember("action", json::string_value(e.action, a), a);
    item.AddMember("subject", json::string_value(e.subject, a), a);
    item.AddMember("result", json::string_value(e.result, a), a);
    item.AddMember("source", json::string_value(e.source, a), a);
    rapidjson::Value detail(rapidjson::kObjectType);
    if (auto parsed = json::try_parse(e.detail, nullptr); parsed && parsed->IsObject()) detail.CopyFrom(*parsed, a);
    item.AddMember("detail", detail, a);
    items.PushBack(item, a);
    last = std::to_string(e.id);
  }
  return page_response(std::move(items), page, last);
}

rapidjson::Document token_json(const registry::ApiTokenRecord& t) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("name", json::string_value(t.name, a), a);
  doc.AddMember("role", json::string_value(t.role, a), a);
  doc.AddMember("createdAt", t.created_at, a);
  if (t.last_used_at) doc.AddMember("lastUsedAt", *t.last_used_at, a);
  return doc;
}

Response list_tokens(Call& call) {
  auto page = call.page();
  return page_of(call.registry.list_api_tokens(page), page, token_json, [](const auto& t) { return t.name; });
}

Response create_token(Call& call) {
  const auto& body = call.body_as("TokenCreate");
  auto created = fleet::create_token(call.registry, call.fleet(), *json::string_member(body, "name"), *json::string_member(body, "role"));
  auto doc = token_json(created.record);
  doc.AddMember("token", json::string_value(created.secret, doc.GetAllocator()), doc.GetAllocator());
  return json_response(201, std::move(doc));
}

// Who the caller is: the console shows the screens the role may use.
Response whoami(Call& call) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  std::string name = call.actor.starts_with("api:") ? call.actor.substr(4) : call.actor;
  doc.AddMember("name", json::string_value(name, a), a);
  doc.AddMember("role", json::string_value(std::string(role_name(call.role)), a), a);
  return json_response(200, std::move(doc));
}

Response delete_token(Call& call) {
  fleet::delete_token(call.registry, call.fleet(), call.path["name"]);
  return no_content();
}

// Service identities: the certificates provisioning workers and factory
// servers connect to the broker with. `own` is the one this provisiond links with.
rapidjson::Document identity_json(const registry::ServiceIdentityRecord& s, const std::string& own) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("id", json::string_value(s.certificate_id, a), a);
  doc.AddMember("name", json::string_value(s.name, a), a);
  doc.AddMember("kind", json::string_value(s.kind, a), a);
  doc.AddMember("status", json::string_value(s.status, a), a);
  doc.AddMember("createdAt", s.created_at, a);
  doc.AddMember("thisProvisiond", s.certificate_id == own, a);
  return doc;
}

Response list_identities(Call& call) {
  auto page = call.page();
  const std::string own = fleet::own_service_identity(call.fleet());
  return page_of(
      call.registry.list_service_identities(page), page, [&](const auto& s) { return identity_json(s, own); },
      [](const auto& s) { return s.certificate_id; });
}

Response register_identity(Call& call) {
  const auto& body = call.body_as("ServiceIdentityCreate");
  auto registered = fleet::register_service_identity(call.registry, call.fleet(), *json::string_member(body, "certificatePem"),
                                                     *json::string_member(body, "name"),
                                                     json::string_member(body, "kind").value_or("worker"));
  return json_response(registered.created ? 201 : 200, identity_json(registered.record, fleet::own_service_identity(call.fleet())));
}

Response get_identity(Call& call) {
  auto found = call.registry.find_service_identity(call.path["id"]);
  if (!found) not_found("service identity " + text::quote(call.path["id"]));
  return json_response(200, identity_json(*found, fleet::own_service_identity(call.fleet())));
}

Response update_identity(Call& call) {
  const auto& body = call.body_as("ServiceIdentityUpdate");
  fleet::ServiceIdentityChange change;
  change.name = json::string_member(body, "name");
  change.status = json::string_member(body, "status");
  auto updated = fleet::update_service_identity(call.registry, call.fleet(), call.path["id"], change);
  return json_response(200, identity_json(updated, fleet::own_service_identity(call.fleet())));
}

Response delete_identity(Call& call) {
  fleet::delete_service_identity(call.registry, call.fleet(), call.path["id"]);
  return no_content();
}

}  // namespace

std::vector<Route> audit_and_token_routes() {
  return {
      {"GET", "/v1/audit", {Role::Admin, Role::Operator}, kRead, list_audit},
      {"GET", "/v1/tokens", kAdminOnly, kRead, list_tokens},
      {"GET", "/v1/whoami", {Role::Admin, Role::Factory, Role::Operator, Role::Installer, Role::Activator}, kRead, whoami},
      {"POST", "/v1/tokens", kAdminOnly, fleet::action::kCreateToken, create_token},
      {"DELETE", "/v1/tokens/{name}", kAdminOnly, fleet::action::kDeleteToken, delete_token},
      {"GET", "/v1/service-identities", {Role::Admin, Role::Operator}, kRead, list_identities},
      {"POST", "/v1/service-identities", kAdminOnly, fleet::action::kRegisterServiceIdentity, register_identity},
      {"GET", "/v1/service-identities/{id}", {Role::Admin, Role::Operator}, kRead, get_identity},
      {"PATCH", "/v1/service-identities/{id}", kAdminOnly, fleet::action::kUpdateServiceIdentity, update_identity},
      {"DELETE", "/v1/service-identities/{id}", kAdminOnly, fleet::action::kDeleteServiceIdentity, delete_identity},
  };
}

}  // namespace provision::service::admin
