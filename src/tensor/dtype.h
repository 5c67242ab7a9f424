// DType: tensor element types. Values are the GGUF/ggml type ids, so a DType read from a file needs
// no mapping. Traits (block size, bytes per block) cover every id ggml has defined, so the GGUF
// reader can validate sizes even for types latent cannot compute with; supported() says which ones
// it can.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace latent {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
  Q2_0 = 42,
};

struct DTypeTraits {
  std::string_view name;  // ggml's name, e.g. "q4_K"
  int64_t block_size;     // elements per block
  int64_t type_size;      // bytes per block
  bool dequantize;        // latent can convert it to f32
};

// Traits of a known type id, or nullopt for an id ggml never defined (or has removed).
std::optional<DTypeTraits> dtype_traits(uint32_t id);
const DTypeTraits& traits(DType type);  // for a valid DType value
std::string_view dtype_name(DType type);
std::optional<DType> dtype_from_name(std::string_view name);  // case-insensitive, e.g. "Q4_K"
// Bytes for n elements; n must be a multiple of the block size (LATENT_CHECK).
int64_t dtype_row_bytes(DType type, int64_t n);

}  // namespace latent
