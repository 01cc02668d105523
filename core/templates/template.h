#pragma once
// Provisioning templates: the AWS IoT fleet provisioning template language
// (Parameters, Mappings, Resources, OverrideSettings, DeviceConfiguration and
// the intrinsic functions), plus our extension Conditions / Fn::If /
// Fn::Equals / Fn::And / Fn::Or / Fn::Not.
//
// A template is parsed and validated once (on save) and evaluated for every
// RegisterThing. Evaluation is pure: it returns a Plan, and the registry
// applies the plan in one transaction.
#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace provision::templates {

namespace language {
struct CompiledPatterns;
}

// Every template error names the JSON path of the offending node, written
// like "$.Resources.thing.Properties.ThingName.Fn::Join[1][0]".
// status_code is 400; code is one of:
//   InvalidTemplate          the template itself is malformed (found on save)
//   MissingParameter         a required parameter was not supplied
//   InvalidParameter         a parameter value does not fit its declared Type
//                            or AllowedValues / AllowedPattern
//   TemplateEvaluationError  a function failed on these inputs (FindInMap key
//                            missing, Select index out of range, an invalid
//                            thing name or attribute produced, ...)
struct TemplateError : RequestError {
  TemplateError(std::string error_code, std::string json_path, const std::string& message)
      : RequestError(400, std::move(error_code), json_path + ": " + message), path(std::move(json_path)) {
    details.emplace_back(path, what());
  }
  std::string path;
};

// What evaluation may know about the certificate being registered.
struct CertificateFacts {
  std::string certificate_id;                  // AWS::IoT::Certificate::Id
  std::map<std::string, std::string> subject;  // OpenSSL short names: CN, O, OU, C, ST, L, serialNumber, dnQualifier
  // Provision::RegistrationId: set only for a registration through an enrollment.
  std::optional<std::string> registration_id = std::nullopt;
};

// What to do with a property of a thing that already exists (re-provisioning).
enum class Override { DoNothing, Replace, Merge, Fail };

struct ThingPlan {
  std::string name;
  std::map<std::string, std::string> attributes;
  bool has_attributes = false;  // AttributePayload present in the template
  std::optional<std::string> thing_type;
  std::vector<std::string> groups;
  bool has_groups = false;
  Override attributes_override = Override::DoNothing;
  Override thing_type_override = Override::DoNothing;
  Override groups_override = Override::DoNothing;
};

struct PolicyPlan {
  std::string name;      // PolicyName: attach an existing policy; or the logical id for an inline one
  std::string document;  // PolicyDocument (a JSON string) for an inline policy; empty for a named one
};

struct Plan {
  std::optional<ThingPlan> thing;
  std::string certificate_status = "ACTIVE";  // "ACTIVE" or "INACTIVE"
  std::vector<PolicyPlan> policies;
  rapidjson::Document device_configuration;  // always an object ({} when absent)
  std::map<std::string, std::string> parameters;  // every parameter's final value, pseudo ones included
};

// One problem found when validating a template on save.
struct ValidationIssue {
  std::string path;
  std::string message;
};

class ProvisioningTemplate {
 public:
  // Parses and validates; throws TemplateError{"InvalidTemplate", path, ...}
  // for the first problem found.
  static ProvisioningTemplate parse(std::string_view body);
  // Every problem found, in document order (empty when the template is valid).
  static std::vector<ValidationIssue> validate(std::string_view body);

  // Evaluates the template for the parameters a device sent. Parameters not
  // declared in the template are ignored. Throws TemplateError.
  Plan evaluate(const std::map<std::string, std::string>& parameters, const CertificateFacts& certificate) const;

  // Declared parameters with no Default (pseudo parameters excluded).
  std::vector<std::string> required_parameters() const;
  const rapidjson::Document& document() const { return *document_; }

 private:
  ProvisioningTemplate(std::shared_ptr<const rapidjson::Document> document,
                       std::shared_ptr<const language::CompiledPatterns> patterns);
  std::shared_ptr<const rapidjson::Document> document_;
  // The parameters' AllowedPattern expressions, compiled once: compiling a
  // std::regex costs more than the rest of an evaluation.
  std::shared_ptr<const language::CompiledPatterns> patterns_;
};

}  // namespace provision::templates
