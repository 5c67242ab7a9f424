// Weights repacked at load (kernels::prepare_weights) for the row-interleaved matmul: kPackRows
// weight rows' blocks are interleaved so one 512-bit VPDPBUSD serves all of them, each int32 lane
// holding one weight row. A lane accumulates its row over K with no horizontal sum, so a row's
// result takes the same operations whatever M is or where its activation row sits in the batch.
//
// Layout (Q4_0 and Q8_0; the bytes per group-block equal kPackRows original blocks, so repacking
// costs no memory beyond padding the row count to a multiple of kPackRows): for group g of
// kPackRows rows and block b, a chunk of
//   d[kPackRows]            the rows' fp16 scales
//   q[kWords][kPackRows]    u32 words: word j of row r = bytes 4j..4j+3 of that row's qs
// Q4_0 keeps its nibbles (low nibble of word j's bytes = elements 4j..4j+3, high = 16+4j..);
// Q8_0 stores q xor 0x80 (= q + 128, unsigned for VPDPBUSD). Chunks run b-major within a group,
// groups one after the other. No intrinsics here (the kernels live in cpu/avx512/).
#pragma once

#include <cstdint>

#include "kernels/cpu/isa.h"
#include "tensor/dtype.h"
#include "tensor/tensor_view.h"

namespace latent::kernels::cpu {

inline constexpr int kPackRows = 16;

// Per activation row and block: its Q8_0 scale as f32 and −offset·Σq (the weight offset's share,
// an exact integer), computed once per matmul call and shared by every weight group.
struct ActBlockInfo {
  float d;
  int32_t bias;
};

struct PackedKernel {
  int offset = 0;  // the unsigned weights' offset: value = d·(u − offset)
  // out[c·out_stride + r] = Σ_k w_r[k]·a_c[k] for r < n_rows ≤ kPackRows, c < n_cols ≤ kPackCols:
  // w the group's chunks (n/32 of them), act rows of Q8_0 blocks act_stride bytes apart, info
  // rows (n/32 entries) info_stride entries apart.
  void (*tile)(int64_t n, const uint8_t* w, const uint8_t* act, int64_t act_stride,
               const ActBlockInfo* info, int64_t info_stride, int n_cols, float* out,
               int64_t out_stride, int n_rows) = nullptr;
};
inline constexpr int kPackCols = 8;  // activation rows per tile call, at most

// The packed kernel for this weight type at this ISA, or nullptr.
const PackedKernel* find_packed_kernel(DType weight, Isa isa);
const PackedKernel* packed_kernel_avx512(DType weight);

// Whether `type` has a packed layout; the packed size of an [n, k] tensor; and the conversions
// (byte shuffles, exact both ways).
bool packable(DType type);
int64_t packed_bytes(DType type, int64_t n, int64_t k);
void pack_weights(DType type, const uint8_t* src, int64_t n, int64_t k, uint8_t* dst);
// Row `row` of a packed [n, k] tensor back in the original GGUF layout (row_bytes bytes).
void unpack_row(DType type, const uint8_t* packed, int64_t n, int64_t k, int64_t row,
                uint8_t* dst);

// If data is the buffer of a prepared (packed) tensor: its original dtype is returned through
// *type and true. Thread-safe against prepare/release.
bool is_packed(const void* data);

}  // namespace latent::kernels::cpu
