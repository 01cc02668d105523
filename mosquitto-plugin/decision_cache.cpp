#include "decision_cache.h"

namespace provision::plugin {

std::optional<bool> DecisionCache::find(int access, std::string_view topic) const {
  const Map& map = maps_[static_cast<size_t>(access)];
  if (map.empty()) return std::nullopt;
  auto it = map.find(topic);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

void DecisionCache::remember(int access, std::string_view topic, bool allowed) {
  if (topic.size() > kMaxTopicLength) return;
  if (size_ >= kMaxEntries) clear();  // a client cycling through topics starts over
  if (maps_[static_cast<size_t>(access)].emplace(std::string(topic), allowed).second) ++size_;
}

void DecisionCache::clear() {
  for (auto& map : maps_) Map().swap(map);  // give the memory back, not just the entries
  size_ = 0;
}

}  // namespace provision::plugin
