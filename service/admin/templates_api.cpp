// /v1/templates: provisioning templates, their versions and dry runs.
#include "admin/api.h"
#include "fleet/templates.h"
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
  doc.AddMember("reprovisioning", json::string_value(t.reprovisioning, a), a);
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

// The settings a create or update body carries (a JSON null clears a hook or assignment).
fleet::TemplateSettings settings_of(const rapidjson::Value& body) {
  fleet::TemplateSettings s;
  s.description = json::string_member(body, "description");
  s.enabled = json::bool_member(body, "enabled");
  s.reprovisioning = json::string_member(body, "reprovisioning");
  s.default_version = json::int_member(body, "defaultVersion");
  auto document = [&](const char* name, std::optional<std::optional<std::string>>& out) {
    if (const auto* v = json::member(body, name)) out = v->IsNull() ? std::optional<std::string>() : json::stringify(*v);
  };
  document("preProvisioningHook", s.hook);
  document("brokerAssignment", s.assignment);
  return s;
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
  auto record = fleet::create_template(call.registry, call.fleet(), *json::string_member(body, "name"),
                                       json::stringify(*json::member(body, "body")), settings_of(body));
  return json_response(201, template_json(call.registry, record, true));
}

// An activator reads only the templates enrollments name.
void check_activator_may_read(Call& call) {
  if (call.role != Role::Activator) return;
  if (call.registry.count_template_enrollments(call.path["name"]) == 0)
    throw ApiError(403, "Forbidden", "a token with role activator may read only a template an enrollment names, not " +
                                         text::quote(call.path["name"]));
}

Response get(Call& call) {
  check_activator_may_read(call);
  return json_response(200, template_json(call.registry, existing(call.registry, call.path["name"]), true));
}

Response update(Call& call) {
  const auto& body = call.body_as("TemplateUpdate");
  auto record = fleet::update_template(call.registry, call.fleet(), call.path["name"], settings_of(body));
  return json_response(200, template_json(call.registry, record, true));
}

Response remove(Call& call) {
  fleet::delete_template(call.registry, call.fleet(), call.path["name"]);
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
  auto version = fleet::add_template_version(call.registry, call.fleet(), call.path["name"],
                                             json::stringify(*json::member(body, "body")),
                                             json::bool_member(body, "makeDefault").value_or(true));
  return json_response(201, version_json(version));
}

Response get_version(Call& call) {
  check_activator_may_read(call);
  auto v = call.registry.find_template_version(call.path["name"], version_number(call));
  if (!v) not_found("version " + call.path["version"] + " of template " + text::quote(call.path["name"]));
  return json_response(200, version_json(*v));
}

Response remove_version(Call& call) {
  fleet::delete_template_version(call.registry, call.fleet(), call.path["name"], version_number(call));
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
    auto registered = registered_certificates(call.registry, plan.thing->name);
    thing.AddMember("registeredCertificates", static_cast<int64_t>(registered.size()), a);
    try {
      auto record = existing(call.registry, name);
      // (a pre-provisioning hook may still approve it for one device)
      if (!registered.empty() && record.reprovisioning != registry::kReprovisionReplace)
        throw reprovisioning_refused(plan.thing->name, name);
      auto change = decide_thing(*plan.thing, existing_thing);
      thing.AddMember("action", json::string_value(action_name(change.action), a), a);
      thing.AddMember("attributes", string_map(change.record.attributes, a), a);
      if (change.record.thing_type) thing.AddMember("thingType", json::string_value(*change.record.thing_type, a), a);
    } catch (const RequestError& e) {
      thing.AddMember("action", "fail", a);
      thing.AddMember("failure", json::string_value(e.code + ": " + e.what(), a), a);
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
  namespace action = fleet::action;
  return {
      {"GET", "/v1/templates", kReaders, kRead, list},
      {"POST", "/v1/templates", kAdminOnly, action::kCreateTemplate, create},
      {"GET", "/v1/templates/{name}", kEnrollmentReaders, kRead, get},
      {"PATCH", "/v1/templates/{name}", kAdminOnly, action::kUpdateTemplate, update},
      {"DELETE", "/v1/templates/{name}", kAdminOnly, action::kDeleteTemplate, remove},
      {"POST", "/v1/templates/{name}/versions", kAdminOnly, action::kAddTemplateVersion, add_version},
      {"GET", "/v1/templates/{name}/versions/{version}", kEnrollmentReaders, kRead, get_version},
      {"DELETE", "/v1/templates/{name}/versions/{version}", kAdminOnly, action::kDeleteTemplateVersion, remove_version},
      {"POST", "/v1/templates/{name}/dry-run", {Role::Admin, Role::Factory}, kRead, dry_run},
  };
}

}  // namespace provision::service::admin
