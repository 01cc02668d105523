// Provisioning templates through validation (on save) and evaluation (each
// registration), parameters included. The input is a template body, a line
// "\n--\n", then the parameters as a JSON object of strings. Properties: a
// template validation accepts parses; evaluation either gives a plan or
// throws TemplateError (status 400) naming a path.
#include "fuzz.h"
#include "templates/template.h"
#include "util/error.h"
#include "util/json.h"

using namespace provision;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [body, rest] = fuzz::split(fuzz::view(data, size), "\n--\n");
  auto issues = templates::ProvisioningTemplate::validate(body);
  for (const auto& issue : issues) FUZZ_ASSERT(issue.path.starts_with("$"));
  if (!issues.empty()) return 0;
  std::optional<templates::ProvisioningTemplate> t;
  try {
    t = templates::ProvisioningTemplate::parse(body);
  } catch (const Error&) {
    fuzz::violated("a template that validates parses");
  }
  std::map<std::string, std::string> parameters;
  if (auto doc = json::try_parse(rest, nullptr); doc && doc->IsObject()) parameters = json::to_string_map(*doc);
  templates::CertificateFacts facts{std::string(64, 'a'), {{"CN", "fuzz"}, {"O", "fuzz"}}, std::string("reg-1")};
  try {
    auto plan = t->evaluate(parameters, facts);
    FUZZ_ASSERT(plan.device_configuration.IsObject());
  } catch (const templates::TemplateError& e) {
    FUZZ_ASSERT(e.status_code == 400);
    FUZZ_ASSERT(e.path.starts_with("$"));
  }
  return 0;
}
