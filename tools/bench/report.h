#pragma once
// Markdown tables from the benchmark's JSON documents (run, prefill, hold),
// and the JSON files themselves. Every part prints through these, so the
// tables on stdout, the --json files and `provision-bench report` agree.
#include <rapidjson/document.h>

#include <filesystem>
#include <string>

namespace provision::bench {

std::string run_markdown(const rapidjson::Value& run);
// The same benchmark on a small and on a pre-filled registry.
std::string scale_markdown(const rapidjson::Value& small_run, const rapidjson::Value& large_run);
std::string prefill_markdown(const rapidjson::Value& prefill);
std::string hold_markdown(const rapidjson::Value& hold);

void write_json_file(const std::filesystem::path& path, const rapidjson::Value& value);
rapidjson::Document read_json_file(const std::filesystem::path& path);

}  // namespace provision::bench
