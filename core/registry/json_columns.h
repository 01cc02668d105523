#pragma once
// Columns that hold small JSON values (lists of names, string maps).
#include <map>
#include <string>
#include <vector>

namespace provision::registry {

std::string to_json(const std::vector<std::string>& list);
std::string to_json(const std::map<std::string, std::string>& map);
// Malformed column content yields an empty result rather than an exception:
// the registry's writers only ever store what to_json produced.
std::vector<std::string> string_list_from_json(const std::string& text);
std::map<std::string, std::string> string_map_from_json(const std::string& text);

}  // namespace provision::registry
