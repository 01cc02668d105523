#include "http/message.h"

#include <cctype>

namespace provision::service::http {

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::size_t Request::header_count(std::string_view name) const {
  std::size_t n = 0;
  for (const auto& [key, value] : headers)
    if (same_name(key, name)) ++n;
  return n;
}

std::string Request::header(std::string_view name, std::size_t i) const {
  for (const auto& [key, value] : headers)
    if (same_name(key, name) && i-- == 0) return value;
  return "";
}

bool Response::has_header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (same_name(key, name)) return true;
  return false;
}

void Response::set_header(std::string name, std::string value) {
  for (auto& [key, existing] : headers)
    if (same_name(key, name)) {
      existing = std::move(value);
      return;
    }
  headers.emplace_back(std::move(name), std::move(value));
}

}  // namespace provision::service::http
