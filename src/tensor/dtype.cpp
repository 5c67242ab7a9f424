// The DType traits table (ggml's type_traits in ggml.c: name, block size, bytes per block) for
// every type id ggml defines, names and row sizes. Which types latent can compute with is decided
// by quant.cpp (can_dequantize); this file only records what the ids mean. TensorView is
// tensor_view.cpp.
#include <array>
#include <cctype>
#include <string>

#include "base/check.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace latent {
namespace {

struct Entry {
  bool defined;
  DTypeTraits traits;
};

constexpr int kMaxId = 42;  // Q2_0, the newest id in ggml 3f545bec

// Indexed by type id. Sizes are sizeof(block_*) of ggml-common.h; ids 4, 5 (Q4_2, Q4_3), 31..33
// (Q4_0_4_4 ..) and 36..38 (IQ4_NL_4_4 ..) were removed from ggml and are left undefined.
constexpr std::array<Entry, kMaxId + 1> make_table() {
  std::array<Entry, kMaxId + 1> t{};
  auto set = [&t](DType id, std::string_view name, int64_t block, int64_t bytes) {
    t[static_cast<uint32_t>(id)] = Entry{true, DTypeTraits{name, block, bytes, false}};
  };
  set(DType::F32, "f32", 1, 4);
  set(DType::F16, "f16", 1, 2);
  set(DType::Q4_0, "q4_0", 32, 18);    // fp16 d + 16 bytes of nibbles
  set(DType::Q4_1, "q4_1", 32, 20);    // fp16 d, m + 16
  set(DType::Q5_0, "q5_0", 32, 22);    // fp16 d + 4 (high bits) + 16
  set(DType::Q5_1, "q5_1", 32, 24);    // fp16 d, m + 4 + 16
  set(DType::Q8_0, "q8_0", 32, 34);    // fp16 d + 32
  set(DType::Q8_1, "q8_1", 32, 36);    // fp16 d, s + 32
  set(DType::Q2_K, "q2_K", 256, 84);   // 16 scales + 64 quants + 2 fp16
  set(DType::Q3_K, "q3_K", 256, 110);  // 32 hmask + 64 quants + 12 scales + fp16
  set(DType::Q4_K, "q4_K", 256, 144);  // 2 fp16 + 12 scales + 128 quants
  set(DType::Q5_K, "q5_K", 256, 176);  // 2 fp16 + 12 scales + 32 qh + 128 quants
  set(DType::Q6_K, "q6_K", 256, 210);  // 128 ql + 64 qh + 16 scales + fp16
  set(DType::Q8_K, "q8_K", 256, 292);  // fp32 d + 256 quants + 16 int16 sums
  set(DType::IQ2_XXS, "iq2_xxs", 256, 66);
  set(DType::IQ2_XS, "iq2_xs", 256, 74);
  set(DType::IQ3_XXS, "iq3_xxs", 256, 98);
  set(DType::IQ1_S, "iq1_s", 256, 50);
  set(DType::IQ4_NL, "iq4_nl", 32, 18);
  set(DType::IQ3_S, "iq3_s", 256, 110);
  set(DType::IQ2_S, "iq2_s", 256, 82);
  set(DType::IQ4_XS, "iq4_xs", 256, 136);
  set(DType::I8, "i8", 1, 1);
  set(DType::I16, "i16", 1, 2);
  set(DType::I32, "i32", 1, 4);
  set(DType::I64, "i64", 1, 8);
  set(DType::F64, "f64", 1, 8);
  set(DType::IQ1_M, "iq1_m", 256, 56);
  set(DType::BF16, "bf16", 1, 2);
  set(DType::TQ1_0, "tq1_0", 256, 54);  // 48 base-3 bytes + 4 + fp16
  set(DType::TQ2_0, "tq2_0", 256, 66);  // 64 + fp16
  set(DType::MXFP4, "mxfp4", 32, 17);   // e8m0 exponent + 16 bytes of e2m1 nibbles
  set(DType::NVFP4, "nvfp4", 64, 36);   // 4 ue4m3 sub-block scales + 32 bytes of e2m1 nibbles
  set(DType::Q1_0, "q1_0", 128, 18);    // fp16 + 128 sign bits
  set(DType::Q2_0, "q2_0", 64, 18);     // fp16 + 64 2-bit quants
  return t;
}

constexpr std::array<Entry, kMaxId + 1> kTable = make_table();

// The table with the `dequantize` flag filled from quant.cpp (not constexpr: it asks
// can_dequantize).
const std::array<Entry, kMaxId + 1>& table() {
  static const std::array<Entry, kMaxId + 1> t = [] {
    std::array<Entry, kMaxId + 1> r = kTable;
    for (uint32_t id = 0; id <= kMaxId; ++id) {
      if (r[id].defined) r[id].traits.dequantize = can_dequantize(static_cast<DType>(id));
    }
    return r;
  }();
  return t;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<DTypeTraits> dtype_traits(uint32_t id) {
  if (id > kMaxId || !table()[id].defined) return std::nullopt;
  return table()[id].traits;
}

const DTypeTraits& traits(DType type) {
  const uint32_t id = static_cast<uint32_t>(type);
  LATENT_CHECK_MSG(id <= kMaxId && table()[id].defined, "invalid DType " + std::to_string(id));
  return table()[id].traits;
}

std::string_view dtype_name(DType type) {
  return traits(type).name;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (uint32_t id = 0; id <= kMaxId; ++id) {
    if (table()[id].defined && iequals(table()[id].traits.name, name))
      return static_cast<DType>(id);
  }
  return std::nullopt;
}

int64_t dtype_row_bytes(DType type, int64_t n) {
  const DTypeTraits& t = traits(type);
  LATENT_CHECK_MSG(
      n >= 0 && n % t.block_size == 0,
      std::to_string(n) + " elements is not a whole number of " + std::string(t.name) + " blocks");
  return n / t.block_size * t.type_size;
}

}  // namespace latent
