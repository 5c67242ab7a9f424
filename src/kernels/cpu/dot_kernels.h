// Fast dot-product kernels behind kernels::matmul, one per weight dtype and ISA. A matmul converts
// its activation rows once into the kernel's act_type (f32, f16, bf16, Q8_0 or Q8_K — the formats
// ggml pairs with each weight type), then computes tiles of up to kTileRows weight rows × kTileCols
// activation rows, so each weight byte loaded is reused kTileCols times (the register-blocked core
// of the GEMM). Families register themselves in their own files; a dtype without a kernel uses the
// reference path.
#pragma once

#include <array>
#include <cstdint>

#include "kernels/cpu/isa.h"
#include "tensor/dtype.h"

namespace latent::kernels::cpu {

inline constexpr int kTileRows = 4;  // weight rows per tile call, at most
inline constexpr int kTileCols = 4;  // activation rows per tile call, at most

struct DotKernel {
  DType act_type = DType::F32;
  // Converts n floats (a multiple of act_type's block size) into one act_type row, followed by
  // act_tail bytes of per-row data (F16 activations: the row's power-of-two scale as a float).
  void (*convert_act)(const float* x, void* out, int64_t n) = nullptr;
  // out[c·out_stride + r] = Σ_k w_r[k]·a_c[k] for r < n_rows ≤ kTileRows, c < n_cols ≤ kTileCols,
  // where w_r = w + r·w_stride and a_c = act + c·act_stride are rows of n elements.
  void (*tile)(int64_t n, const uint8_t* w, int64_t w_stride, int n_rows, const uint8_t* act,
               int64_t act_stride, int n_cols, float* out, int64_t out_stride) = nullptr;
  int act_tail = 0;
  // Optional: the kernel for a single activation row (decode), with its own activation format and
  // results equal to this kernel's bit for bit, so a row's output does not depend on the batch.
  const DotKernel* one_row = nullptr;
  int max_cols = kTileCols;  // activation rows per tile call, at most
};

// Bytes of one converted activation row of n elements.
inline int64_t act_row_bytes(const DotKernel& dk, int64_t n) {
  return dtype_row_bytes(dk.act_type, n) + dk.act_tail;
}

// Indexed by [Isa][DType id]; an entry with tile == nullptr means "no fast path".
using DotKernelTable = std::array<std::array<DotKernel, 64>, 3>;

// The kernel for this weight type at this ISA or the best lower one; nullptr → reference path.
const DotKernel* find_dot_kernel(DType weight, Isa isa);

// Family registration hooks (each defined in its family's file, called once by the registry).
void register_float_kernels(DotKernelTable& table);   // F32, F16, BF16
void register_legacy_kernels(DotKernelTable& table);  // Q8_0, Q4_0 (and Q4_1, Q5_0, Q5_1)
void register_kquant_kernels(DotKernelTable& table);  // Q4_K, Q5_K, Q6_K (and Q2_K, Q3_K)

inline DotKernel& table_entry(DotKernelTable& t, Isa isa, DType type) {
  return t[static_cast<int>(isa)][static_cast<uint32_t>(type)];
}

}  // namespace latent::kernels::cpu
