#include "decision_cache.h"

namespace provision::plugin {

std::optional<bool> DecisionCache::find(int access, std::string_view topic) const {
  for (const auto& e : entries_)
    if (e.access == access && e.topic == topic) return e.allowed;
  return std::nullopt;
}

void DecisionCache::remember(int access, std::string_view topic, bool allowed) {
  if (topic.size() > kMaxTopicLength) return;
  Entry entry{std::string(topic), static_cast<uint8_t>(access), allowed};
  if (entries_.size() < kMaxEntries) {
    entries_.push_back(std::move(entry));
    return;
  }
  entries_[next_] = std::move(entry);  // a client cycling through topics replaces its oldest
  next_ = static_cast<uint8_t>((next_ + 1) % kMaxEntries);
}

void DecisionCache::clear() {
  std::vector<Entry>().swap(entries_);  // give the memory back, not just the entries
  next_ = 0;
}

}  // namespace provision::plugin
