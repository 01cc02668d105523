#include "resources.h"

#include <map>
#include <memory>

#include "inputs.h"
#include "util/json.h"

namespace provisionctl {

std::string Resource::item_path(const std::string& key_value) const { return collection + "/" + url_encoded(key_value); }

std::shared_ptr<std::string> add_key(CLI::App& command, const Resource& resource) {
  auto key = std::make_shared<std::string>();
  command.add_option(resource.key, *key, resource.noun + " " + resource.key)->required();
  return key;
}

CLI::App& add_group(CLI::App& parent, const std::string& name, const std::string& description) {
  CLI::App* group = parent.add_subcommand(name, description);
  group->require_subcommand(1);
  return *group;
}

void make_list_command(CLI::App& command, Context& context, const Resource& resource, const std::vector<ListFilter>& filters) {
  auto values = std::make_shared<std::map<std::string, std::string>>();
  for (const auto& filter : filters) {
    auto* option = command.add_option(filter.flag, (*values)[filter.parameter], filter.description);
    if (filter.integer) option->check(CLI::NonNegativeNumber);
  }
  auto limit = std::make_shared<size_t>(0);
  command.add_option("--limit", *limit, "at most N items (default: every page)")->check(CLI::PositiveNumber);
  command.callback([&context, resource, values, limit] {
    Query query;
    for (const auto& [parameter, value] : *values)
      if (!value.empty()) query[parameter] = value;
    auto list = context.api().list(resource.collection, query, *limit ? std::optional<size_t>(*limit) : std::nullopt);
    context.show(list, [&](std::ostream& out) { print_table(out, list["items"], resource.columns); });
  });
}

namespace {

// "policy" -> "policies", "audit entry" -> "audit entries", "claim" -> "claims".
std::string plural(const std::string& noun) {
  if (noun.size() > 1 && noun.back() == 'y' && std::string("aeiou").find(noun[noun.size() - 2]) == std::string::npos)
    return noun.substr(0, noun.size() - 1) + "ies";
  return noun + "s";
}

}  // namespace

void add_list(CLI::App& parent, Context& context, const Resource& resource, const std::vector<ListFilter>& filters) {
  make_list_command(*parent.add_subcommand("list", "list " + plural(resource.noun)), context, resource, filters);
}

void add_get(CLI::App& parent, Context& context, const Resource& resource) {
  auto* command = parent.add_subcommand("get", "show one " + resource.noun);
  auto key = add_key(*command, resource);
  command->callback([&context, resource, key] {
    context.show_resource(context.api().call("GET", resource.item_path(*key)));
  });
}

void add_delete(CLI::App& parent, Context& context, const Resource& resource) {
  const bool vowel = !resource.noun.empty() && std::string("aeiou").find(resource.noun[0]) != std::string::npos;
  auto* command = parent.add_subcommand("delete", std::string(vowel ? "delete an " : "delete a ") + resource.noun);
  auto key = add_key(*command, resource);
  command->callback([&context, resource, key] {
    auto answer = context.api().call("DELETE", resource.item_path(*key));
    context.show(answer, [&](std::ostream& out) { out << resource.noun << " " << *key << " deleted\n"; });
  });
}

void add_patch(CLI::App& parent, Context& context, const Resource& resource, const std::string& name,
               const std::string& description, const std::string& body, const std::string& outcome) {
  auto* command = parent.add_subcommand(name, description);
  auto key = add_key(*command, resource);
  command->callback([&context, resource, key, body, outcome] {
    auto document = provision::json::parse(body, "request body");
    auto answer = context.api().call("PATCH", resource.item_path(*key), &document);
    context.show(answer, [&](std::ostream& out) { out << resource.noun << " " << *key << " " << outcome << "\n"; });
  });
}

}  // namespace provisionctl
