// The packed weight layout (packed.h): conversions to and from the GGUF layout, the registry of
// packed buffers that matmul and get_rows consult, kernels::prepare_weights, and the kernel lookup.
#include "kernels/cpu/packed.h"

#include <cstdlib>
#include <cstring>
#include <string_view>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>

#include "kernels/kernels.h"
#include "tensor/quant_blocks.h"

namespace latent::kernels::cpu {
namespace {

// Bytes of one block's quants (Q4_0: 16 nibble bytes, Q8_0: 32) and of its fp16 scale.
int64_t qs_bytes(DType type) {
  return type == DType::Q4_0 ? kQK / 2 : kQK;
}
uint8_t qs_xor(DType type) {
  return type == DType::Q8_0 ? 0x80 : 0x00;
}
int64_t chunk_bytes(DType type) {
  return kPackRows * (2 + qs_bytes(type));
}

std::shared_mutex g_mutex;
std::unordered_set<const void*>& registry() {
  static std::unordered_set<const void*> r;
  return r;
}

}  // namespace

bool packable(DType type) {
  return type == DType::Q4_0 || type == DType::Q8_0;
}

int64_t packed_bytes(DType type, int64_t n, int64_t k) {
  const int64_t groups = (n + kPackRows - 1) / kPackRows;
  return groups * (k / kQK) * chunk_bytes(type);
}

void pack_weights(DType type, const uint8_t* src, int64_t n, int64_t k, uint8_t* dst) {
  const int64_t nb = k / kQK, qb = qs_bytes(type), bb = 2 + qb, row_bytes = nb * bb;
  const int64_t words = qb / 4, groups = (n + kPackRows - 1) / kPackRows;
  const uint8_t x = qs_xor(type);
  std::memset(dst, 0, static_cast<size_t>(packed_bytes(type, n, k)));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* chunk = dst + (g * nb + b) * chunk_bytes(type);
      for (int64_t r = 0; r < kPackRows; ++r) {
        const int64_t row = g * kPackRows + r;
        if (row >= n) break;  // padding rows stay zero: d = 0 contributes nothing
        const uint8_t* blk = src + row * row_bytes + b * bb;
        std::memcpy(chunk + 2 * r, blk, 2);
        for (int64_t j = 0; j < words; ++j)
          for (int i = 0; i < 4; ++i)
            chunk[2 * kPackRows + (j * kPackRows + r) * 4 + i] =
                static_cast<uint8_t>(blk[2 + 4 * j + i] ^ x);
      }
    }
}

void unpack_row(DType type, const uint8_t* packed, int64_t /*n*/, int64_t k, int64_t row,
                uint8_t* dst) {
  const int64_t nb = k / kQK, qb = qs_bytes(type), bb = 2 + qb, words = qb / 4;
  const int64_t g = row / kPackRows, r = row % kPackRows;
  const uint8_t x = qs_xor(type);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* chunk = packed + (g * nb + b) * chunk_bytes(type);
    uint8_t* blk = dst + b * bb;
    std::memcpy(blk, chunk + 2 * r, 2);
    for (int64_t j = 0; j < words; ++j)
      for (int i = 0; i < 4; ++i)
        blk[2 + 4 * j + i] =
            static_cast<uint8_t>(chunk[2 * kPackRows + (j * kPackRows + r) * 4 + i] ^ x);
  }
}

bool is_packed(const void* data) {
  if (!data) return false;
  std::shared_lock lock(g_mutex);
  return registry().count(data) != 0;
}

const PackedKernel* find_packed_kernel(DType weight, Isa isa) {
  if (isa == Isa::kAvx512) return packed_kernel_avx512(weight);
  return nullptr;
}

}  // namespace latent::kernels::cpu

namespace latent::kernels {

std::shared_ptr<const void> prepare_weights(TensorView& w) {
  using namespace cpu;
  if (w.n_dims != 2 || !w.data || !packable(w.dtype) || w.cols() % kQK != 0) return nullptr;
  if (!find_packed_kernel(w.dtype, active_isa())) return nullptr;
  // LATENT_REPACK=0 keeps the GGUF layout (A/B measurements).
  if (const char* env = std::getenv("LATENT_REPACK"); env && std::string_view(env) == "0")
    return nullptr;
  const int64_t n = w.rows(), k = w.cols();
  const int64_t bytes = packed_bytes(w.dtype, n, k);
  // 64-byte aligned so every chunk's quant words start on a cache line (chunks are 288/576 B).
  auto* buf = static_cast<uint8_t*>(::operator new[](static_cast<size_t>(bytes), std::align_val_t{64}));
  pack_weights(w.dtype, static_cast<const uint8_t*>(w.data), n, k, buf);
  {
    std::unique_lock lock(g_mutex);
    registry().insert(buf);
  }
  w.data = buf;
  return std::shared_ptr<const void>(buf, [](const void* p) {
    {
      std::unique_lock lock(g_mutex);
      registry().erase(p);
    }
    ::operator delete[](const_cast<void*>(p), std::align_val_t{64});
  });
}

}  // namespace latent::kernels
