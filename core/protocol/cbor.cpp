#include "protocol/cbor.h"

#include <cbor.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "util/error.h"
#include "util/json.h"
#include "util/text.h"

namespace provision::protocol {

static_assert(kCborMaxDepth <= json::kMaxDepth, "a CBOR document must be as safe to walk as a parsed JSON one");

namespace {

// ---------------------------------------------------------------- encoding

class Encoder {
 public:
  void value(const rapidjson::Value& v) {
    switch (v.GetType()) {
      case rapidjson::kNullType: put(cbor_encode_null(buffer_, sizeof buffer_)); break;
      case rapidjson::kFalseType: put(cbor_encode_bool(false, buffer_, sizeof buffer_)); break;
      case rapidjson::kTrueType: put(cbor_encode_bool(true, buffer_, sizeof buffer_)); break;
      case rapidjson::kStringType: text(v); break;
      case rapidjson::kNumberType: number(v); break;
      case rapidjson::kArrayType:
        put(cbor_encode_array_start(v.Size(), buffer_, sizeof buffer_));
        for (const auto& element : v.GetArray()) value(element);
        break;
      case rapidjson::kObjectType:
        put(cbor_encode_map_start(v.MemberCount(), buffer_, sizeof buffer_));
        for (const auto& m : v.GetObject()) {
          text(m.name);
          value(m.value);
        }
        break;
    }
  }

  std::string take() { return std::move(out_); }

 private:
  void put(std::size_t written) {
    if (written == 0) throw Error("CBOR: encoding failed");  // a head never exceeds 9 bytes
    out_.append(reinterpret_cast<const char*>(buffer_), written);
  }

  void text(const rapidjson::Value& v) {
    // RFC 8949 3.1: a text string is UTF-8; a reply never carries one that is not.
    if (!text::is_utf8({v.GetString(), v.GetStringLength()})) throw Error("CBOR: text string is not valid UTF-8");
    put(cbor_encode_string_start(v.GetStringLength(), buffer_, sizeof buffer_));
    out_.append(v.GetString(), v.GetStringLength());
  }

  void number(const rapidjson::Value& v) {
    if (v.IsUint64()) {
      put(cbor_encode_uint(v.GetUint64(), buffer_, sizeof buffer_));
    } else if (v.IsInt64()) {  // negative: CBOR stores -1 - n
      put(cbor_encode_negint(static_cast<std::uint64_t>(-(v.GetInt64() + 1)), buffer_, sizeof buffer_));
    } else {
      double d = v.GetDouble();
      if (!std::isfinite(d)) throw Error("CBOR: cannot encode NaN or infinity");
      put(cbor_encode_double(d, buffer_, sizeof buffer_));
    }
  }

  unsigned char buffer_[9] = {};  // the longest head: 1 + 8 bytes
  std::string out_;
};

// ---------------------------------------------------------------- checking

// libcbor's cbor_load allocates a definite array or map for its declared size
// before reading a single element (9 bytes of input can ask for gigabytes) and
// frees trees recursively. So the input is first walked token by token with
// libcbor's streaming decoder, which allocates nothing, and only input that
// is complete, well-formed and within the limits is handed to cbor_load.
enum class Token { Scalar, Text, TextStart, Array, IndefArray, Map, IndefMap, Break, Bytes, Tag };

struct Frame {
  enum Kind { Array, Map, IndefArray, IndefMap, IndefText } kind;
  std::uint64_t remaining = 0;  // definite containers: child items still to come (2 per map entry)
  std::uint64_t seen = 0;       // child items so far; a map expects a key when even
  bool definite() const { return kind == Array || kind == Map; }
  bool map() const { return kind == Map || kind == IndefMap; }
};

class Scanner {
 public:
  // Checks that `bytes` is exactly one acceptable item; throws Error if not.
  void scan(std::string_view bytes) {
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t pos = 0;
    while (!done_) {
      offset_ = pos;
      if (pos == bytes.size()) throw Error(malformed("unexpected end of input"));
      auto result = cbor_stream_decode(data + pos, bytes.size() - pos, &kCallbacks, this);
      if (result.status == CBOR_DECODER_NEDATA) throw Error(malformed("unexpected end of input"));
      if (result.status != CBOR_DECODER_FINISHED || result.read == 0) throw Error(malformed("invalid or unsupported item"));
      if (error_) throw Error(*error_);
      pos += result.read;
    }
    if (pos != bytes.size()) throw Error("CBOR: trailing bytes after the first item (at offset " + std::to_string(pos) + ")");
  }

 private:
  static Scanner& self(void* context) { return *static_cast<Scanner*>(context); }

  std::string malformed(std::string_view why) const {
    return "CBOR: malformed at offset " + std::to_string(offset_) + ": " + std::string(why);
  }

  void fail(std::string message) {
    if (!error_) error_ = std::move(message);
  }

  // Pops every definite container whose last item just ended.
  void complete() {
    while (!stack_.empty() && stack_.back().definite() && stack_.back().remaining == 0) stack_.pop_back();
    if (stack_.empty()) done_ = true;
  }

  void open(Frame frame) {
    stack_.push_back(frame);
    if (stack_.size() > kCborMaxDepth) fail("CBOR: nesting deeper than " + std::to_string(kCborMaxDepth));
  }

  void token(Token t, std::uint64_t size = 0) {
    if (error_) return;
    if (t == Token::Break) {
      if (stack_.empty() || stack_.back().definite()) return fail(malformed("unexpected break"));
      if (stack_.back().kind == Frame::IndefMap && stack_.back().seen % 2 != 0)
        return fail(malformed("map key without a value"));
      stack_.pop_back();
      return complete();
    }
    if (++items_ > kCborMaxItems) return fail(too_many());
    if (!stack_.empty() && stack_.back().kind == Frame::IndefText) {
      if (t != Token::Text) return fail(malformed("an indefinite text string may only hold definite text strings"));
      return;  // a chunk
    }
    if (!stack_.empty()) {
      Frame& parent = stack_.back();
      if (parent.map() && parent.seen % 2 == 0 && t != Token::Text && t != Token::TextStart)
        return fail("CBOR: map keys must be text strings");
      ++parent.seen;
      if (parent.definite()) --parent.remaining;
    }
    const std::uint64_t budget = kCborMaxItems - items_;  // items that may still come
    switch (t) {
      case Token::Bytes: return fail("CBOR: byte strings are not supported");
      case Token::Tag: return fail("CBOR: tags are not supported");
      case Token::TextStart: return open({Frame::IndefText});
      case Token::IndefArray: return open({Frame::IndefArray});
      case Token::IndefMap: return open({Frame::IndefMap});
      case Token::Array:
        if (size > budget) return fail(too_many());
        open({Frame::Array, size});
        return complete();  // an empty array ends at once
      case Token::Map:
        if (size > budget / 2) return fail(too_many());
        open({Frame::Map, 2 * size});
        return complete();
      default: return complete();  // Scalar, Text
    }
  }

  static std::string too_many() { return "CBOR: more than " + std::to_string(kCborMaxItems) + " items"; }

  void floating(double value) {
    token(Token::Scalar);
    if (!std::isfinite(value)) fail("CBOR: NaN and infinite floats are not supported");
  }

  static cbor_callbacks make_callbacks() {
    cbor_callbacks c = cbor_empty_callbacks;
    c.uint8 = [](void* x, std::uint8_t) { self(x).token(Token::Scalar); };
    c.uint16 = [](void* x, std::uint16_t) { self(x).token(Token::Scalar); };
    c.uint32 = [](void* x, std::uint32_t) { self(x).token(Token::Scalar); };
    c.uint64 = [](void* x, std::uint64_t) { self(x).token(Token::Scalar); };
    c.negint8 = [](void* x, std::uint8_t) { self(x).token(Token::Scalar); };
    c.negint16 = [](void* x, std::uint16_t) { self(x).token(Token::Scalar); };
    c.negint32 = [](void* x, std::uint32_t) { self(x).token(Token::Scalar); };
    c.negint64 = [](void* x, std::uint64_t n) {  // the value is -1 - n
      self(x).token(Token::Scalar);
      if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        self(x).fail("CBOR: integer out of range (below -2^63)");
    };
    c.byte_string = [](void* x, cbor_data, std::size_t) { self(x).token(Token::Bytes); };
    c.byte_string_start = [](void* x) { self(x).token(Token::Bytes); };
    c.string = [](void* x, cbor_data data, std::size_t size) {  // a definite string or a chunk
      self(x).token(Token::Text);
      // RFC 8949 5.3.1; a code point cannot span chunks.
      if (!text::is_utf8({reinterpret_cast<const char*>(data), size}))
        self(x).fail("CBOR: text string is not valid UTF-8 (at offset " + std::to_string(self(x).offset_) + ")");
    };
    c.string_start = [](void* x) { self(x).token(Token::TextStart); };
    c.array_start = [](void* x, std::size_t n) { self(x).token(Token::Array, n); };
    c.indef_array_start = [](void* x) { self(x).token(Token::IndefArray); };
    c.map_start = [](void* x, std::size_t n) { self(x).token(Token::Map, n); };
    c.indef_map_start = [](void* x) { self(x).token(Token::IndefMap); };
    c.tag = [](void* x, std::uint64_t) { self(x).token(Token::Tag); };
    c.float2 = [](void* x, float f) { self(x).floating(f); };
    c.float4 = [](void* x, float f) { self(x).floating(f); };
    c.float8 = [](void* x, double d) { self(x).floating(d); };
    c.undefined = [](void* x) { self(x).token(Token::Scalar); };
    c.null = [](void* x) { self(x).token(Token::Scalar); };
    c.boolean = [](void* x, bool) { self(x).token(Token::Scalar); };
    c.indef_break = [](void* x) { self(x).token(Token::Break); };
    return c;
  }
  static const cbor_callbacks kCallbacks;

  std::vector<Frame> stack_;
  std::size_t items_ = 0;
  std::size_t offset_ = 0;  // of the token being decoded
  bool done_ = false;       // the first item has ended
  std::optional<std::string> error_;  // callbacks must not throw through libcbor
};

const cbor_callbacks Scanner::kCallbacks = Scanner::make_callbacks();

// ---------------------------------------------------------------- decoding

struct ItemDeleter {
  void operator()(cbor_item_t* item) const { cbor_decref(&item); }
};
using ItemPtr = std::unique_ptr<cbor_item_t, ItemDeleter>;

using Allocator = rapidjson::Document::AllocatorType;

rapidjson::Value text_value(const cbor_item_t* item, Allocator& a) {
  std::string s;
  auto append = [&s](const cbor_item_t* chunk) {
    if (const auto* data = cbor_string_handle(chunk); data && cbor_string_length(chunk) > 0)
      s.append(reinterpret_cast<const char*>(data), cbor_string_length(chunk));
  };
  if (cbor_string_is_definite(item)) {
    append(item);
  } else {
    cbor_item_t** chunks = cbor_string_chunks_handle(item);
    for (std::size_t i = 0, n = cbor_string_chunk_count(item); i < n; ++i) append(chunks[i]);
  }
  if (s.size() > std::numeric_limits<rapidjson::SizeType>::max()) throw Error("CBOR: text string too long");
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

// The scanner has vouched for the structure (depth <= kCborMaxDepth, so the
// recursion is bounded); the checks here are a second line only.
rapidjson::Value to_json(const cbor_item_t* item, Allocator& a) {
  switch (cbor_typeof(item)) {
    case CBOR_TYPE_UINT: return rapidjson::Value(static_cast<std::uint64_t>(cbor_get_int(item)));
    case CBOR_TYPE_NEGINT: {
      std::uint64_t n = cbor_get_int(item);
      if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw Error("CBOR: integer out of range (below -2^63)");
      return rapidjson::Value(static_cast<std::int64_t>(-1 - static_cast<std::int64_t>(n)));
    }
    case CBOR_TYPE_STRING: return text_value(item, a);
    case CBOR_TYPE_ARRAY: {
      rapidjson::Value array(rapidjson::kArrayType);
      cbor_item_t** elements = cbor_array_handle(item);
      std::size_t n = cbor_array_size(item);
      array.Reserve(static_cast<rapidjson::SizeType>(n), a);
      for (std::size_t i = 0; i < n; ++i) array.PushBack(to_json(elements[i], a), a);
      return array;
    }
    case CBOR_TYPE_MAP: {
      rapidjson::Value object(rapidjson::kObjectType);
      cbor_pair* pairs = cbor_map_handle(item);
      for (std::size_t i = 0, n = cbor_map_size(item); i < n; ++i) {
        if (cbor_typeof(pairs[i].key) != CBOR_TYPE_STRING) throw Error("CBOR: map keys must be text strings");
        rapidjson::Value key = text_value(pairs[i].key, a);
        object.AddMember(key, to_json(pairs[i].value, a), a);
      }
      return object;
    }
    case CBOR_TYPE_FLOAT_CTRL:
      if (cbor_float_ctrl_is_ctrl(item)) {
        switch (cbor_ctrl_value(item)) {
          case CBOR_CTRL_FALSE: return rapidjson::Value(false);
          case CBOR_CTRL_TRUE: return rapidjson::Value(true);
          case CBOR_CTRL_NULL:
          case CBOR_CTRL_UNDEF: return rapidjson::Value(rapidjson::kNullType);
          default: throw Error("CBOR: unsupported simple value");
        }
      } else {
        double d = cbor_float_get_float(item);
        if (!std::isfinite(d)) throw Error("CBOR: NaN and infinite floats are not supported");
        return rapidjson::Value(d);
      }
    case CBOR_TYPE_BYTESTRING: throw Error("CBOR: byte strings are not supported");
    case CBOR_TYPE_TAG: throw Error("CBOR: tags are not supported");
  }
  throw Error("CBOR: unsupported item");
}

}  // namespace

std::string to_cbor(const rapidjson::Value& value) {
  Encoder encoder;
  encoder.value(value);
  return encoder.take();
}

rapidjson::Document from_cbor(std::string_view bytes) {
  Scanner().scan(bytes);

  cbor_load_result result{};
  ItemPtr root(cbor_load(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &result));
  if (!root || result.error.code != CBOR_ERR_NONE) {
    if (result.error.code == CBOR_ERR_MEMERROR) throw Error("CBOR: out of memory");
    throw Error("CBOR: malformed at offset " + std::to_string(result.error.position));
  }
  if (result.read != bytes.size())
    throw Error("CBOR: trailing bytes after the first item (at offset " + std::to_string(result.read) + ")");

  rapidjson::Document doc;
  rapidjson::Value value = to_json(root.get(), doc.GetAllocator());
  static_cast<rapidjson::Value&>(doc).Swap(value);
  return doc;
}

}  // namespace provision::protocol
