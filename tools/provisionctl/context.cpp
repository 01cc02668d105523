#include "context.h"

#include <iostream>

#include "output.h"

namespace provisionctl {

ApiClient& Context::api() {
  if (!api_) api_ = std::make_unique<ApiClient>(resolve_endpoint(connection, process_environment()));
  return *api_;
}

void Context::show(const rapidjson::Value& document, const std::function<void(std::ostream&)>& human) const {
  if (json) print_json(std::cout, document);
  else human(std::cout);
}

void Context::show_resource(const rapidjson::Value& document) const {
  show(document, [&document](std::ostream& out) { print_resource(out, document); });
}

}  // namespace provisionctl
