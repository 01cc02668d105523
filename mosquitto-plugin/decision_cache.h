#pragma once
// A connection's cached ACL decisions: a device asks about the same few
// topics over and over, so each (access, topic) is decided once. Bounded in
// entries and in topic length, so that no client can make the broker hold
// more than a few kilobytes for it; lookups do not allocate.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace provision::plugin {

class DecisionCache {
 public:
  static constexpr size_t kMaxEntries = 64;      // per connection, all access kinds together
  static constexpr size_t kMaxTopicLength = 128;  // longer topics are decided every time

  std::optional<bool> find(int access, std::string_view topic) const;
  void remember(int access, std::string_view topic, bool allowed);
  void clear();
  size_t size() const { return size_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, bool, Hash, std::equal_to<>>;
  std::array<Map, 4> maps_;
  size_t size_ = 0;
};

}  // namespace provision::plugin
