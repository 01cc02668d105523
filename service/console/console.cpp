#include "console/console.h"

#include "console/assets.h"

namespace provision::service::console {
namespace {

std::string content_type(std::string_view path) {
  auto ends = [&](std::string_view suffix) { return path.ends_with(suffix); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

}  // namespace

std::optional<File> find(std::string_view path) {
  std::string wanted(path);
  if (wanted == "/console" || wanted == "/console/") wanted = "/console/index.html";
  for (const auto& asset : assets())
    if (asset.path == wanted) return File{asset.content, content_type(wanted)};
  return std::nullopt;
}

}  // namespace provision::service::console
