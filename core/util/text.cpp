#include "util/text.h"

namespace provision::text {
namespace {

// The length (1 to 4) of the well-formed UTF-8 sequence that starts `bytes`,
// 0 when there is none (RFC 3629, section 4).
std::size_t sequence_length(std::string_view bytes) {
  const auto at = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const auto continues = [&](std::size_t i, unsigned char low = 0x80, unsigned char high = 0xbf) {
    return i < bytes.size() && at(i) >= low && at(i) <= high;
  };
  const unsigned char lead = at(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return continues(1) ? 2 : 0;
  if (lead == 0xe0) return continues(1, 0xa0) && continues(2) ? 3 : 0;               // no overlong form
  if (lead == 0xed) return continues(1, 0x80, 0x9f) && continues(2) ? 3 : 0;         // no surrogate
  if (lead >= 0xe1 && lead <= 0xef) return continues(1) && continues(2) ? 3 : 0;
  if (lead == 0xf0) return continues(1, 0x90) && continues(2) && continues(3) ? 4 : 0;  // no overlong form
  if (lead == 0xf4) return continues(1, 0x80, 0x8f) && continues(2) && continues(3) ? 4 : 0;  // up to U+10FFFF
  if (lead >= 0xf1 && lead <= 0xf3) return continues(1) && continues(2) && continues(3) ? 4 : 0;
  return 0;  // a continuation byte, C0, C1, F5 to FF
}

char32_t code_point(std::string_view sequence) {
  const auto byte = [&](std::size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(sequence[i])); };
  switch (sequence.size()) {
    case 1: return byte(0);
    case 2: return (byte(0) & 0x1f) << 6 | (byte(1) & 0x3f);
    case 3: return (byte(0) & 0x0f) << 12 | (byte(1) & 0x3f) << 6 | (byte(2) & 0x3f);
    default: return (byte(0) & 0x07) << 18 | (byte(1) & 0x3f) << 12 | (byte(2) & 0x3f) << 6 | (byte(3) & 0x3f);
  }
}

// Control characters, and the invisible ones that move or hide text on a
// terminal (line and paragraph separators, zero-width and bidirectional
// formatting characters, the byte order mark).
bool shown_escaped(char32_t c) {
  return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || (c >= 0x200b && c <= 0x200f) ||
         (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x2069) || c == 0xfeff;
}

void append_hex(std::string& out, unsigned value, int digits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += kDigits[(value >> shift) & 0xf];
}

}  // namespace

std::optional<std::size_t> utf8_error(std::string_view bytes) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    if (static_cast<unsigned char>(bytes[at]) < 0x80) {
      ++at;
      continue;
    }
    const std::size_t length = sequence_length(bytes.substr(at));
    if (length == 0) return at;
    at += length;
  }
  return std::nullopt;
}

std::string escape(std::string_view input, std::size_t max_bytes) {
  std::string out;
  std::size_t at = 0;
  while (at < input.size()) {
    const std::size_t length = sequence_length(input.substr(at));
    if (at + (length == 0 ? 1 : length) > max_bytes) {
      out += "...";
      break;
    }
    if (length == 0) {  // not UTF-8: the byte itself, spelled out
      out += "\\x";
      append_hex(out, static_cast<unsigned char>(input[at]), 2);
      ++at;
      continue;
    }
    const std::string_view sequence = input.substr(at, length);
    const char32_t c = code_point(sequence);
    at += length;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (shown_escaped(c)) {
          out += "\\u";
          append_hex(out, static_cast<unsigned>(c), 4);
        } else {
          out += sequence;
        }
    }
  }
  return out;
}

std::string quote(std::string_view input, std::size_t max_bytes) { return "\"" + escape(input, max_bytes) + "\""; }

}  // namespace provision::text
