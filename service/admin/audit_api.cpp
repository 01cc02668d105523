// /v1/audit (the audit log, newest first) and /v1/tokens (API tokens,
// stored as SHA-256 hashes; a token is shown once, when it is created).
#include "admin/api.h"
#include "fleet/access.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/json.h"
#include "util/random.h"

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

}  // namespace

std::vector<Route> audit_and_token_routes() {
  return {
      {"GET", "/v1/audit", {Role::Admin, Role::Operator}, kRead, list_audit},
      {"GET", "/v1/tokens", kAdminOnly, kRead, list_tokens},
      {"GET", "/v1/whoami", {Role::Admin, Role::Factory, Role::Operator, Role::Installer, Role::Activator}, kRead, whoami},
      {"POST", "/v1/tokens", kAdminOnly, fleet::action::kCreateToken, create_token},
      {"DELETE", "/v1/tokens/{name}", kAdminOnly, fleet::action::kDeleteToken, delete_token},
  };
}

}  // namespace provision::service::admin
