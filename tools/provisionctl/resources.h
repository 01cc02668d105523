#pragma once
// Commands that are the same for every kind of resource (list, get, delete,
// a PATCH with a fixed body), described once and added where they belong.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "context.h"
#include "output.h"

namespace provisionctl {

struct Resource {
  std::string noun;        // "claim": in messages
  std::string collection;  // "/v1/claims"
  std::string key;         // "ID": the positional naming one
  std::vector<Column> columns;

  std::string item_path(const std::string& key_value) const;  // collection + "/" + encoded key
};

// A query parameter a list can be narrowed by: --thing T -> ?thing=T.
struct ListFilter {
  std::string flag;
  std::string parameter;
  std::string description;
  bool integer = false;
};

// Makes `command` print the resource's list (every page unless --limit N).
void make_list_command(CLI::App& command, Context& context, const Resource& resource,
                       const std::vector<ListFilter>& filters = {});
void add_list(CLI::App& parent, Context& context, const Resource& resource, const std::vector<ListFilter>& filters = {});
void add_get(CLI::App& parent, Context& context, const Resource& resource);
void add_delete(CLI::App& parent, Context& context, const Resource& resource);
// `name KEY`: PATCH the resource with `body` (JSON text); says "<noun> KEY <outcome>".
void add_patch(CLI::App& parent, Context& context, const Resource& resource, const std::string& name,
               const std::string& description, const std::string& body, const std::string& outcome);

// The positional naming one resource, stored where the callback finds it.
std::shared_ptr<std::string> add_key(CLI::App& command, const Resource& resource);

// A command group ("claim") that needs one of its subcommands.
CLI::App& add_group(CLI::App& parent, const std::string& name, const std::string& description);

}  // namespace provisionctl
