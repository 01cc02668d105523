#pragma once
// CBOR (RFC 8949) <-> JSON documents, for the /cbor provisioning topics: the
// CBOR payloads carry the same fields as the JSON ones, as maps with text
// keys. Built on libcbor.
#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace provision::protocol {

// Limits on what from_cbor accepts (a provisioning payload is small). CBOR
// comes only from devices, whose requests nest 3 levels deep; JSON text is
// held to json::kMaxDepth (64) because it also carries the operator's
// templates. Whatever from_cbor returns is within that limit too, so it can
// be handled as any parsed JSON document.
inline constexpr std::size_t kCborMaxDepth = 32;     // nested arrays/maps
inline constexpr std::size_t kCborMaxItems = 16384;  // data items in total (keys, values, string chunks)

// JSON -> CBOR: objects become definite maps with text keys, arrays definite
// arrays, strings text strings, integers (negative) integers in their
// shortest form, doubles float64, true/false/null the simple values.
// Throws Error for a NaN or infinite double, or a string that is not UTF-8.
std::string to_cbor(const rapidjson::Value& value);

// CBOR -> JSON: exactly one data item, definite or indefinite lengths, any
// integer width (within int64/uint64), half/single/double floats, text
// strings (valid UTF-8), arrays, maps with text-string keys, true/false/null;
// undefined becomes null. Throws Error("CBOR: ...") for anything else: byte
// strings, tags, other simple values, non-text map keys, integers below
// INT64_MIN, NaN/infinity, malformed or truncated input, bytes after the
// item, nesting deeper than kCborMaxDepth, more than kCborMaxItems items. The input
// is checked in full before anything is allocated for it.
rapidjson::Document from_cbor(std::string_view bytes);

}  // namespace provision::protocol
