// Provisioning templates: parsed and validated once (validator.cpp), then
// evaluated for each registration (evaluator.cpp).
#include "templates/template.h"

#include "templates/language.h"
#include "templates/validator.h"
#include "util/json.h"

namespace provision::templates {

using namespace language;

ProvisioningTemplate::ProvisioningTemplate(std::shared_ptr<const rapidjson::Document> document,
                                           std::shared_ptr<const language::CompiledPatterns> patterns)
    : document_(std::move(document)), patterns_(std::move(patterns)) {}

std::vector<ValidationIssue> ProvisioningTemplate::validate(std::string_view body) {
  std::string error;
  auto doc = json::try_parse(body, &error);
  if (!doc) return {{"$", error}};
  return validate_document(*doc);
}

ProvisioningTemplate ProvisioningTemplate::parse(std::string_view body) {
  std::string error;
  auto doc = json::try_parse(body, &error);
  if (!doc) throw TemplateError("InvalidTemplate", "$", error);
  auto issues = validate_document(*doc);
  if (!issues.empty()) throw TemplateError("InvalidTemplate", issues.front().path, issues.front().message);
  auto patterns = std::make_shared<const CompiledPatterns>(compile_patterns(*doc));
  return ProvisioningTemplate(std::make_shared<const rapidjson::Document>(std::move(*doc)), std::move(patterns));
}

std::vector<std::string> ProvisioningTemplate::required_parameters() const {
  std::vector<std::string> out;
  if (const auto* params = json::member(*document_, "Parameters"); params && params->IsObject())
    for (auto& m : params->GetObject()) {
      std::string name = key_of(m.name);
      if (!name.starts_with("AWS::") && !json::member(m.value, "Default")) out.push_back(name);
    }
  return out;
}

}  // namespace provision::templates
