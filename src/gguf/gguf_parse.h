// Private to gguf/: a bounds-checked little-endian cursor over the mapped file and the metadata
// value decoder. Owns byte-level reading and the "truncated / count too large" errors; it does not
// know about tensor infos or the GgufFile layout (gguf_reader.cpp).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "base/error.h"
#include "gguf/gguf_value.h"

namespace latent::gguf_detail {

static_assert(std::endian::native == std::endian::little,
              "GGUF reader assumes a little-endian host");

// Deepest nesting of arrays inside arrays the reader accepts (a top-level array is depth 1).
inline constexpr int kMaxArrayDepth = 8;
// Most arrays nested inside arrays (at any depth, over the whole file) the reader accepts. Each
// costs a GgufValue (~150 bytes) for 12 bytes of file, so this caps that memory at ~10 MB; real
// files have none (ggml's reader rejects arrays of arrays altogether).
inline constexpr uint64_t kMaxNestedArrays = uint64_t{1} << 16;
// Most metadata keys the reader accepts. Each key costs ~250 bytes of reader memory (the value, the
// key, its index entry) for as little as 13 bytes of file; this caps that at ~16 MB. Real files
// have tens to hundreds of keys (big tables are array values, not keys).
inline constexpr uint64_t kMaxKv = uint64_t{1} << 16;
// Smallest encodings, used to bound counts by the bytes left before anything is allocated.
inline constexpr uint64_t kMinKvBytes = 8 + 4 + 1;  // key length, type, 1-byte value
inline constexpr uint64_t kMinTensorInfoBytes =
    8 + 4 + 8 + 4 + 8;  // name len, n_dims, ne[0], type, offset

// Bytes one encoded element of `type` needs at least (0 for an unknown type id).
uint64_t min_encoded_size(GgufType type);
bool is_known_type(uint32_t id);

class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* data, uint64_t size)
      : path_(path), data_(data), size_(size) {}

  const std::string& path() const { return path_; }
  uint64_t pos() const { return pos_; }
  uint64_t size() const { return size_; }
  uint64_t remaining() const { return size_ - pos_; }

  // Throws a truncation Error naming field() unless n more bytes exist.
  template <class FieldFn>
  void need(uint64_t n, const FieldFn& field) const {
    if (n > remaining()) truncated(field(), n);
  }

  template <class T, class FieldFn>
  T read(const FieldFn& field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  // A GGUF string: uint64 length, then that many bytes (no terminator). The length is checked
  // against the remaining bytes before the string is allocated.
  template <class FieldFn>
  std::string read_string(const FieldFn& field) {
    uint64_t len = read<uint64_t>([&] { return field() + " length"; });
    if (len > remaining()) {
      throw Error::field(path_, field() + " length",
                         "at most " + std::to_string(remaining()) + " (bytes left at offset " +
                             std::to_string(pos_) + ")",
                         std::to_string(len));
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

  // The next n bytes (checked to exist), advancing past them.
  template <class FieldFn>
  const uint8_t* take(uint64_t n, const FieldFn& field) {
    need(n, field);
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  // Counts `count` more nested arrays against kMaxNestedArrays; throws once the file exceeds it.
  template <class FieldFn>
  void take_nested_arrays(uint64_t count, const FieldFn& field) {
    if (count > nested_arrays_left_) {
      throw Error::field(path_, field(),
                         "at most " + std::to_string(kMaxNestedArrays) +
                             " arrays nested in arrays per file (" +
                             std::to_string(nested_arrays_left_) + " left)",
                         std::to_string(count));
    }
    nested_arrays_left_ -= count;
  }

  // Throws unless `count` elements of at least `min_each` bytes could fit in the remaining bytes.
  template <class FieldFn>
  void check_count(uint64_t count, uint64_t min_each, const FieldFn& field) const {
    if (min_each != 0 && count > remaining() / min_each) {
      throw Error::field(path_, field(),
                         "at most " + std::to_string(remaining() / min_each) + " (" +
                             std::to_string(remaining()) + " bytes left, " +
                             std::to_string(min_each) + " bytes per entry at least)",
                         std::to_string(count));
    }
  }

 private:
  [[noreturn]] void truncated(const std::string& field, uint64_t n) const;

  const std::string& path_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint64_t nested_arrays_left_ = kMaxNestedArrays;
};

// Names a metadata value for messages, built only when an error is thrown:
// "kv[3] 'tokenizer.ggml.tokens'[17][2]".
struct ValuePath {
  uint64_t kv = 0;
  std::string_view key;
  int depth = 0;
  uint64_t index[kMaxArrayDepth] = {};
  std::string name() const;
};

// Decodes one value of `type` at the cursor; `path` names it in errors and tracks the nesting
// depth.
GgufValue read_value(Cursor& cur, GgufType type, ValuePath& path);

}  // namespace latent::gguf_detail
