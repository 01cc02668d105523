#pragma once
// Text that came from outside (device payloads, HTTP requests, certificates,
// operators' files): whether it is UTF-8, and the one way any of it is quoted
// into a message (an error message, a rejected reply, a log line).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace provision::text {

// The offset of the first byte that does not start (or continue) a
// well-formed UTF-8 sequence, or nullopt when all of `bytes` is UTF-8.
// Well-formed is RFC 3629's: no overlong forms, no surrogates (U+D800 to
// U+DFFF, CESU-8 included), nothing above U+10FFFF, no sequence cut short.
// U+0000 is a character like any other.
std::optional<std::size_t> utf8_error(std::string_view bytes);
inline bool is_utf8(std::string_view bytes) { return !utf8_error(bytes).has_value(); }

// How much of a quoted input a message shows.
inline constexpr std::size_t kQuotedMaxBytes = 64;

// `input` made fit for a message: at most `max_bytes` of it ("..." marks a
// cut, which never splits a character), with `"`, `\` and every control or
// invisible formatting character escaped as JSON would (\n, \t, \", \\,
// \u001b, \u0085, \u2028, \u202e...), and each byte that is not UTF-8 shown
// as \xHH. The result is valid UTF-8 and holds no control character, so it
// can go into a JSON or CBOR reply and a log line as it is.
std::string escape(std::string_view input, std::size_t max_bytes = kQuotedMaxBytes);
// The same between double quotes: quote("a\nb") is "a\nb" with the quotes
// and a backslash, quote("\xff\xfe") is "\xff\xfe" spelled out.
std::string quote(std::string_view input, std::size_t max_bytes = kQuotedMaxBytes);

}  // namespace provision::text
