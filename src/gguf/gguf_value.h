// GgufValue: one metadata value of any GGUF type, including arrays of arrays. Plain data shared by
// the reader and the writer; no file I/O here. Arrays are stored compactly so that the reader's
// memory stays within a small multiple of the file's bytes: numeric and bool elements as their
// packed little-endian bytes, strings as std::string, and only arrays of arrays as nested
// GgufValues.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace latent {

// GGUF metadata value type ids (gguf spec).
enum class GgufType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

std::string_view gguf_type_name(GgufType type);  // "uint32", "array", ...
// Encoded size of one numeric or bool value (1, 2, 4 or 8); 0 for STRING, ARRAY and unknown ids.
// Arrays of these types are "packed": stored as count × this many bytes.
size_t gguf_packed_size(GgufType type);
// Throws latent::Error unless elements of elem_size bytes can be packed as `type`.
void gguf_check_packed_size(GgufType type, size_t elem_size);

class GgufValue {
 public:
  GgufType type = GgufType::UINT8;
  // Scalars: integers in i (signed types sign-extended) or u, floats in f, bool in u (0/1).
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0.0;
  std::string str;                       // STRING
  GgufType elem_type = GgufType::UINT8;  // ARRAY: element type

  static GgufValue make_u8(uint8_t v);
  static GgufValue make_i8(int8_t v);
  static GgufValue make_u16(uint16_t v);
  static GgufValue make_i16(int16_t v);
  static GgufValue make_u32(uint32_t v);
  static GgufValue make_i32(int32_t v);
  static GgufValue make_u64(uint64_t v);
  static GgufValue make_i64(int64_t v);
  static GgufValue make_f32(float v);
  static GgufValue make_f64(double v);
  static GgufValue make_bool(bool v);
  static GgufValue make_str(std::string v);
  // An array from element values, each of which must have type == elem_type (throws latent::Error
  // otherwise). Convenient for tests and small arrays; the forms below avoid per-element values.
  static GgufValue make_array(GgufType elem_type, std::vector<GgufValue> elems);
  static GgufValue make_str_array(std::vector<std::string> elems);
  // Numeric or bool elements as their little-endian bytes, packed: bytes.size() must be a multiple
  // of gguf_packed_size(elem_type) and bools must be 0 or 1 (throws latent::Error otherwise).
  static GgufValue make_packed_array(GgufType elem_type, std::vector<uint8_t> bytes);
  template <class T>
  static GgufValue make_packed_array(GgufType elem_type, std::span<const T> elems) {
    static_assert(std::is_arithmetic_v<T>);
    gguf_check_packed_size(elem_type, sizeof(T));
    std::vector<uint8_t> bytes(elems.size_bytes());
    if (!bytes.empty()) std::memcpy(bytes.data(), elems.data(), bytes.size());
    return make_packed_array(elem_type, std::move(bytes));
  }

  // Array access (all empty / 0 for a non-array).
  size_t array_size() const;
  // Element k (< array_size()) as a standalone value: decodes a packed element, copies a string or
  // a nested array.
  GgufValue array_at(size_t k) const;
  // Packed arrays (gguf_packed_size(elem_type) > 0): array_size() × that many bytes.
  std::span<const uint8_t> array_packed() const { return packed_; }
  const std::vector<std::string>& array_strings() const { return strings_; }  // elem_type STRING
  const std::vector<GgufValue>& array_arrays() const { return arrays_; }      // elem_type ARRAY

  bool is_integer() const;  // any of the 8 integer types
  bool is_float() const;    // FLOAT32 / FLOAT64
  // Short human form for messages and `latent info`: "42", "\"llama\"", "[array of 32000 string]".
  std::string to_string() const;

 private:
  std::vector<uint8_t> packed_;       // ARRAY of a packed type
  std::vector<std::string> strings_;  // ARRAY of STRING
  std::vector<GgufValue> arrays_;     // ARRAY of ARRAY (each has type ARRAY)
};

}  // namespace latent
