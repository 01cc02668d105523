#pragma once
// A connection's cached ACL decisions: a device asks about the same few
// topics over and over, so each (access, topic) is decided once. A handful
// of entries in one small vector (a device uses a few topics; linear search
// over 8 short strings costs less than hashing), bounded in entries and in
// topic length so that no client can make the broker hold more than a couple
// of kilobytes for it; lookups do not allocate. Decisions are kept by the
// exact topic, never by a hash of it (a colliding topic must not inherit a
// decision).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace provision::plugin {

class DecisionCache {
 public:
  static constexpr size_t kMaxEntries = 8;        // per connection, all access kinds together
  static constexpr size_t kMaxTopicLength = 128;  // longer topics are decided every time

  std::optional<bool> find(int access, std::string_view topic) const;
  void remember(int access, std::string_view topic, bool allowed);
  void clear();
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string topic;
    uint8_t access = 0;
    bool allowed = false;
  };
  std::vector<Entry> entries_;
  uint8_t next_ = 0;  // the entry replaced next once full (round robin)
};

}  // namespace provision::plugin
