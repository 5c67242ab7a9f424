// GgufValue: one metadata value of any GGUF type, including arrays of arrays. Plain data shared by the
// reader and the writer; no file I/O here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
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

struct GgufValue {
  GgufType type = GgufType::UINT8;
  // Scalars: integers in i (signed types sign-extended) or u, floats in f, bool in u (0/1).
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0.0;
  std::string str;                // STRING
  GgufType elem_type = GgufType::UINT8;  // ARRAY: element type
  std::vector<GgufValue> arr;     // ARRAY: elements (each has type == elem_type)

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
  static GgufValue make_array(GgufType elem_type, std::vector<GgufValue> elems);

  bool is_integer() const;  // any of the 8 integer types
  bool is_float() const;    // FLOAT32 / FLOAT64
  // Short human form for messages and `latent info`: "42", "\"llama\"", "[array of 32000 string]".
  std::string to_string() const;
};

}  // namespace latent
