// /v1/policies: device policies (schemas/policy.schema.json).
#include "admin/api.h"
#include "policy/policy.h"
#include "protocol/schema_validator.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service::admin {
namespace {

rapidjson::Document policy_json(registry::Registry& registry, const registry::PolicyRecord& p) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("name", json::string_value(p.name, a), a);
  rapidjson::Value document;
  document.CopyFrom(json::parse(p.document, "policy"), a);
  doc.AddMember("document", document, a);
  doc.AddMember("createdAt", p.created_at, a);
  doc.AddMember("updatedAt", p.updated_at, a);
  doc.AddMember("attachments", registry.count_policy_attachments(p.name), a);
  return doc;
}

// Schema first (names the field), then the policy engine's own checks (variables, filters).
std::string checked_document(const rapidjson::Value& document) {
  if (auto violation = protocol::schema_violation("policy.schema.json", document)) {
    auto colon = violation->find(": ");
    std::string field = "document" + (colon == std::string::npos || violation->substr(0, colon) == "/"
                                          ? std::string()
                                          : "." + protocol::field_name(violation->substr(0, colon)));
    throw ApiError(400, "InvalidPolicy", field + ": " + (colon == std::string::npos ? *violation : violation->substr(colon + 2)),
                   field);
  }
  std::string text = json::stringify(document);
  try {
    policy::PolicyDocument::parse(text);
  } catch (const policy::PolicyError& e) {
    throw ApiError(400, "InvalidPolicy", std::string("document") + e.path.substr(1) + ": " + e.what(), "document" + e.path.substr(1));
  }
  return text;
}

Response list(Call& call) {
  auto page = call.page();
  return page_of(
      call.registry.list_policies(page), page, [&](const auto& p) { return policy_json(call.registry, p); },
      [](const auto& p) { return p.name; });
}

Response create(Call& call) {
  const auto& body = call.body_as("PolicyCreate");
  std::string name = *json::string_member(body, "name");
  std::string text = checked_document(*json::member(body, "document"));
  auto tx = call.registry.begin();
  if (call.registry.find_policy(name)) conflict("policy " + text::quote(name) + " already exists; PUT to replace its document");
  call.registry.put_policy(name, text);
  call.audit("CreatePolicy", name);
  tx.commit();
  return json_response(201, policy_json(call.registry, *call.registry.find_policy(name)));
}

Response get(Call& call) {
  auto p = call.registry.find_policy(call.path["name"]);
  if (!p) not_found("policy " + text::quote(call.path["name"]));
  return json_response(200, policy_json(call.registry, *p));
}

Response replace(Call& call) {
  const auto& body = call.body_as("PolicyUpdate");
  std::string text = checked_document(*json::member(body, "document"));
  auto tx = call.registry.begin();
  if (!call.registry.find_policy(call.path["name"])) not_found("policy " + text::quote(call.path["name"]));
  call.registry.put_policy(call.path["name"], text);
  call.audit("UpdatePolicy", call.path["name"]);
  tx.commit();
  return json_response(200, policy_json(call.registry, *call.registry.find_policy(call.path["name"])));
}

Response remove(Call& call) {
  auto tx = call.registry.begin();
  const std::string& name = call.path["name"];
  if (!call.registry.find_policy(name)) not_found("policy " + text::quote(name));
  if (int64_t n = call.registry.count_policy_attachments(name))
    conflict("policy " + text::quote(name) + " is attached to " + std::to_string(n) + " certificate(s)");
  call.registry.delete_policy(name);
  call.audit("DeletePolicy", name);
  tx.commit();
  return no_content();
}

}  // namespace

std::vector<Route> policy_routes() {
  return {
      {"GET", "/v1/policies", kReaders, list},
      {"POST", "/v1/policies", kAdminOnly, create},
      {"GET", "/v1/policies/{name}", kReaders, get},
      {"PUT", "/v1/policies/{name}", kAdminOnly, replace},
      {"DELETE", "/v1/policies/{name}", kAdminOnly, remove},
  };
}

}  // namespace provision::service::admin
