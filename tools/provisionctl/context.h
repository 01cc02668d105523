#pragma once
// What every command shares: the connection flags, the output mode, and the
// API client (made on first use, so that --help and usage errors need no
// configuration).
#include <rapidjson/document.h>

#include <functional>
#include <memory>
#include <ostream>

#include "client.h"
#include "settings.h"

namespace provisionctl {

class Context {
 public:
  ConnectionFlags connection;
  bool json = false;  // --json: print the API's JSON instead of tables

  ApiClient& api();
  // Prints an answer: the document with --json, otherwise what `human` writes.
  void show(const rapidjson::Value& document, const std::function<void(std::ostream&)>& human) const;
  // A single resource: the document with --json, otherwise "key: value" lines.
  void show_resource(const rapidjson::Value& document) const;

 private:
  std::unique_ptr<ApiClient> api_;
};

}  // namespace provisionctl
