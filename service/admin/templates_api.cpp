// /v1/templates: provisioning templates, their versions and dry runs.
#include "admin/api.h"
#include "assignment.h"
#include "hooks/hook.h"
#include "pki/authority.h"
#include "protocol/topics.h"
#include "provisioning/provisioning_service.h"
#include "provisioning/registration.h"
#include "templates/template.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::service::admin {
namespace {

rapidjson::Document template_json(registry::Registry& registry, const registry::TemplateRecord& t, bool full) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("name", json::string_value(t.name, a), a);
  doc.AddMember("description", json::string_value(t.description, a), a);
  doc.AddMember("enabled", t.enabled, a);
  doc.AddMember("defaultVersion", t.default_version, a);
  doc.AddMember("createdAt", t.created_at, a);
  doc.AddMember("updatedAt", t.updated_at, a);
  if (t.hook) {
    rapidjson::Value hook;
    hook.CopyFrom(json::parse(hooks::describe_hook(hooks::parse_hook(*t.hook)), "hook"), a);
    doc.AddMember("preProvisioningHook", hook, a);
  }
  if (t.assignment) {
    rapidjson::Value assignment;
    assignment.CopyFrom(json::parse(*t.assignment, "assignment"), a);
    doc.AddMember("brokerAssignment", assignment, a);
  }
  if (full) {
    rapidjson::Value versions(rapidjson::kArrayType);
    for (const auto& v : registry.template_versions(t.name)) {
      rapidjson::Value item(rapidjson::kObjectType);
      item.AddMember("version", v.version, a);
      item.AddMember("createdAt", v.created_at, a);
      versions.PushBack(item, a);
    }
    doc.AddMember("versions", versions, a);
    if (auto body = registry.default_template_version(t.name)) {
      rapidjson::Value parsed;
      parsed.CopyFrom(json::parse(body->body, "template"), a);
      doc.AddMember("body", parsed, a);
    }
  }
  return doc;
}

// Validates a template document; 400 InvalidTemplate with every problem's JSON path.
std::string checked_template(const rapidjson::Value& body) {
  std::string text = json::stringify(body);
  auto issues = templates::ProvisioningTemplate::validate(text);
  if (!issues.empty()) {
    ApiError error(400, "InvalidTemplate", "body" + issues.front().path.substr(1) + ": " + issues.front().message,
                   "body" + issues.front().path.substr(1));
    for (const auto& issue : issues) error.details.emplace_back(issue.path, issue.message);
    throw error;
  }
  return text;
}

// The hook and assignment documents of a create or update body, checked
// (400 naming the field). A JSON null clears; absent leaves as is.
void apply_hook_and_assignment(registry::Registry& registry, const rapidjson::Value& body, registry::TemplateRecord& t) {
  if (const auto* hook = json::member(body, "preProvisioningHook")) {
    if (hook->IsNull()) {
      t.hook.reset();
    } else {
      try {
        hooks::parse_hook(json::stringify(*hook));
      } catch (const Error& e) {
        std::string what = e.what();
        throw ApiError(400, "InvalidField", "preProvisioningHook: " + what.substr(what.find(": ") + 2), "preProvisioningHook");
      }
      t.hook = json::stringify(*hook);
    }
  }
  if (const auto* assignment = json::member(body, "brokerAssignment")) {
    if (assignment->IsNull()) {
      t.assignment.reset();
    } else {
      AssignmentPolicy policy;
      try {
        policy = parse_assignment(json::stringify(*assignment));
      } catch (const Error& e) {
        std::string what = e.what();
        throw ApiError(400, "InvalidField", "brokerAssignment: " + what.substr(what.find(": ") + 2), "brokerAssignment");
      }
      if (policy.kind == AssignmentPolicy::Kind::Static && !registry.find_broker(policy.broker))
        throw ApiError(400, "InvalidField", "brokerAssignment.broker: no broker " + text::quote(policy.broker), "brokerAssignment.broker");
      t.assignment = json::stringify(*assignment);
    }
  }
}

registry::TemplateRecord existing(registry::Registry& registry, const std::string& name) {
  auto t = registry.find_template(name);
  if (!t) not_found("template " + text::quote(name));
  return *t;
}

Response list(Call& call) {
  auto page = call.page();
  std::optional<bool> enabled;
  if (auto e = call.query_string("enabled")) {
    if (*e != "true" && *e != "false") throw ApiError(400, "InvalidField", "enabled: must be true or false", "enabled");
    enabled = *e == "true";
  }
  return page_of(
      call.registry.list_templates(page, enabled), page, [&](const auto& t) { return template_json(call.registry, t, false); },
      [](const auto& t) { return t.name; });
}

Response create(Call& call) {
  const auto& body = call.body_as("TemplateCreate");
  std::string name = *json::string_member(body, "name");
  std::string text = checked_template(*json::member(body, "body"));
  auto tx = call.registry.begin();
  if (call.registry.find_template(name)) conflict("template " + text::quote(name) + " already exists; add a version instead");
  call.registry.add_template_version(name, text, json::string_member(body, "description").value_or(""));
  auto record = existing(call.registry, name);
  if (json::bool_member(body, "enabled") == false) record.enabled = false;
  apply_hook_and_assignment(call.registry, body, record);
  call.registry.update_template(record);
  call.audit("CreateTemplate", name, R"({"version":1})");
  tx.commit();
  return json_response(201, template_json(call.registry, existing(call.registry, name), true));
}

Response get(Call& call) { return json_response(200, template_json(call.registry, existing(call.registry, call.path["name"]), true)); }

Response update(Call& call) {
  const auto& body = call.body_as("TemplateUpdate");
  auto tx = call.registry.begin();
  auto t = existing(call.registry, call.path["name"]);
  if (auto d = json::string_member(body, "description")) t.description = *d;
  if (auto e = json::bool_member(body, "enabled")) t.enabled = *e;
  if (auto v = json::int_member(body, "defaultVersion")) {
    if (!call.registry.find_template_version(t.name, *v))
      throw ApiError(400, "InvalidField", "defaultVersion: template " + text::quote(t.name) + " has no version " + std::to_string(*v),
                     "defaultVersion");
    t.default_version = *v;
  }
  apply_hook_and_assignment(call.registry, body, t);
  call.registry.update_template(t);
  // Which fields changed, not their values: a hook's secret stays out of the log.
  std::string fields;
  for (const auto& m : body.GetObject()) fields += (fields.empty() ? "" : ",") + std::string(json::view(m.name));
  call.audit("UpdateTemplate", t.name, detail({{"fields", fields}}));
  tx.commit();
  return json_response(200, template_json(call.registry, existing(call.registry, t.name), true));
}

Response remove(Call& call) {
  auto tx = call.registry.begin();
  auto t = existing(call.registry, call.path["name"]);
  if (int64_t users = call.registry.count_template_users(t.name))
    conflict("template " + text::quote(t.name) + " is allowed by " + std::to_string(users) + " claim certificate(s) or CA(s); remove it there first");
  call.registry.delete_template(t.name);
  call.audit("DeleteTemplate", t.name);
  tx.commit();
  return no_content();
}

rapidjson::Document version_json(const registry::TemplateVersionRecord& v) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("template", json::string_value(v.template_name, a), a);
  doc.AddMember("version", v.version, a);
  doc.AddMember("createdAt", v.created_at, a);
  rapidjson::Value body;
  body.CopyFrom(json::parse(v.body, "template"), a);
  doc.AddMember("body", body, a);
  return doc;
}

int64_t version_number(Call& call) {
  const std::string& text = call.path["version"];
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
    throw ApiError(400, "InvalidField", "version: must be a positive integer", "version");
  return std::stoll(text);
}

Response add_version(Call& call) {
  const auto& body = call.body_as("TemplateVersionCreate");
  std::string text = checked_template(*json::member(body, "body"));
  auto tx = call.registry.begin();
  auto t = existing(call.registry, call.path["name"]);
  int64_t previous_default = t.default_version;
  int64_t version = call.registry.add_template_version(t.name, text);
  if (json::bool_member(body, "makeDefault") == false) {
    auto updated = *call.registry.find_template(t.name);
    updated.default_version = previous_default;
    call.registry.update_template(updated);
  }
  call.audit("AddTemplateVersion", t.name, R"({"version":)" + std::to_string(version) + "}");
  tx.commit();
  return json_response(201, version_json(*call.registry.find_template_version(t.name, version)));
}

Response get_version(Call& call) {
  auto v = call.registry.find_template_version(call.path["name"], version_number(call));
  if (!v) not_found("version " + text::quote(call.path["version"]) + " of template " + text::quote(call.path["name"]));
  return json_response(200, version_json(*v));
}

Response remove_version(Call& call) {
  int64_t version = version_number(call);
  auto tx = call.registry.begin();
  auto t = existing(call.registry, call.path["name"]);
  if (!call.registry.find_template_version(t.name, version)) not_found("version " + std::to_string(version) + " of template " + text::quote(t.name));
  if (t.default_version == version)
    conflict("version " + std::to_string(version) + " is the default version of " + text::quote(t.name) + " (in use); make another the default first");
  call.registry.delete_template_version(t.name, version);
  call.audit("DeleteTemplateVersion", t.name, R"({"version":)" + std::to_string(version) + "}");
  tx.commit();
  return no_content();
}

// Evaluates the template as RegisterThing would, and says what would happen,
// inside a transaction that is always rolled back: nothing is written.
Response dry_run(Call& call) {
  const auto& body = call.body_as("DryRunRequest");
  const std::string name = call.path["name"];
  templates::CertificateFacts facts;
  if (auto pem = json::string_member(body, "certificatePem")) {
    pki::Certificate certificate = [&] {
      try {
        return pki::Certificate::from_pem(*pem);
      } catch (const Error& e) {
        throw ApiError(400, "InvalidField", std::string("certificatePem: ") + e.what(), "certificatePem");
      }
    }();
    facts = {certificate.id(), certificate.subject()};
  } else {
    facts = {std::string(64, '0'), {{"CN", "dry-run"}}};
  }
  std::map<std::string, std::string> parameters;
  if (const auto* p = json::member(body, "parameters")) parameters = to_string_map(*p);
  std::optional<int64_t> version;
  if (auto v = json::int_member(body, "version")) version = *v;
  auto evaluation = call.context.provisioning->evaluate_template(call.registry, name, version, parameters, facts);
  const auto& plan = evaluation.plan;

  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("template", json::string_value(name, a), a);
  doc.AddMember("version", evaluation.version, a);
  if (plan.thing) {
    rapidjson::Value thing(rapidjson::kObjectType);
    auto existing_thing = call.registry.find_thing(plan.thing->name);
    thing.AddMember("name", json::string_value(plan.thing->name, a), a);
    thing.AddMember("exists", existing_thing.has_value(), a);
    try {
      auto change = decide_thing(*plan.thing, existing_thing);
      thing.AddMember("action", json::string_value(action_name(change.action), a), a);
      thing.AddMember("attributes", string_map(change.record.attributes, a), a);
      if (change.record.thing_type) thing.AddMember("thingType", json::string_value(*change.record.thing_type, a), a);
    } catch (const RequestError&) {
      thing.AddMember("action", "fail", a);
    }
    thing.AddMember("groups", string_list(plan.thing->groups, a), a);
    doc.AddMember("thing", thing, a);
  }
  doc.AddMember("certificateStatus", json::string_value(plan.certificate_status, a), a);
  rapidjson::Value policies(rapidjson::kArrayType);
  for (const auto& p : plan.policies) {
    rapidjson::Value item(rapidjson::kObjectType);
    bool is_inline = !p.document.empty();
    std::string policy_name = is_inline ? name + "-" + p.name : p.name;
    item.AddMember("name", json::string_value(policy_name, a), a);
    item.AddMember("inline", is_inline, a);
    item.AddMember("exists", call.registry.find_policy(policy_name).has_value(), a);
    policies.PushBack(item, a);
  }
  doc.AddMember("policies", policies, a);
  rapidjson::Value configuration;
  configuration.CopyFrom(plan.device_configuration, a);
  doc.AddMember("deviceConfiguration", configuration, a);
  doc.AddMember("written", false, a);
  return json_response(200, std::move(doc));
}

}  // namespace

std::vector<Route> template_routes() {
  return {
      {"GET", "/v1/templates", kReaders, list},
      {"POST", "/v1/templates", kAdminOnly, create},
      {"GET", "/v1/templates/{name}", kReaders, get},
      {"PATCH", "/v1/templates/{name}", kAdminOnly, update},
      {"DELETE", "/v1/templates/{name}", kAdminOnly, remove},
      {"POST", "/v1/templates/{name}/versions", kAdminOnly, add_version},
      {"GET", "/v1/templates/{name}/versions/{version}", kReaders, get_version},
      {"DELETE", "/v1/templates/{name}/versions/{version}", kAdminOnly, remove_version},
      {"POST", "/v1/templates/{name}/dry-run", {Role::Admin, Role::Factory}, dry_run},
  };
}

}  // namespace provision::service::admin
