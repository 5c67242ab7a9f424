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
// groups one after the other. No intrinsics here (the kernels live in cpu/avx512/ and cpu/avx2/,
// which read the same layout).
#pragma once

#include <cstdint>

#include "kernels/cpu/isa.h"
#include "tensor/dtype.h"
#include "tensor/tensor_view.h"

namespace latent::kernels::cpu {

inline constexpr int kPackRows = 16;

// Q4_K (rows interleaved the same way, per super-block of 256): d[16], dmin[16] (fp16), sc[8][16]
// and m[8][16] (the 6-bit scales and mins unpacked to bytes, group-major), then q[32][16] u32
// words: word j of row r = bytes 4j..4j+3 of its qs (low nibbles: group 2(j/8), high: 2(j/8)+1,
// elements 4(j%8)..+3 of the group). 2368 bytes per 16 rows (GGUF: 2304).
//
// Q6_K (per super-block of 256, the GGUF bytes exactly): d[16] (fp16), sc[16][16] (int8 scales,
// sub-block-major), ql[32][16] and qh[16][16] u32 words: word j of row r = bytes 4j..4j+3 of its ql
// or qh. 3360 bytes per 16 rows, as in the file.
inline constexpr int64_t kQ6KScales = 2 * kPackRows, kQ6KLow = 18 * kPackRows,
                         kQ6KHigh = 18 * kPackRows + 128 * kPackRows;

// Per activation row and block: its Q8_0 scale as f32 and −offset·Σq (the weight offset's share,
// an exact integer), computed once per matmul call and shared by every weight group.
struct ActBlockInfo {
  float d;
  int32_t bias;
};
// Per activation row and Q8_K super-block: d, and the 32-element group sums s_g = Σ q as int16
// pairs: bs[p] = (uint16)s_{2p} | s_{2p+1} << 16 (what VPDPWSSD multiplies by the min pairs).
struct ActSuperInfo {
  float d;
  int32_t bs[4];
};

struct PackedKernel {
  DType act_type = DType::Q8_0;  // Q8_0 (info: ActBlockInfo) or Q8_K (info: ActSuperInfo)
  int offset = 0;                // Q8_0 weights: value = d·(u − offset)
  int max_cols = 8;              // activation rows per tile call, at most
  using Tile = void (*)(int64_t n, const uint8_t* w, const uint8_t* act, int64_t act_stride,
                        const void* info, int64_t info_stride, int n_cols, float* out,
                        int64_t out_stride, int n_rows);
  // out[c·out_stride + r] = Σ_k w_r[k]·a_c[k] for r < n_rows ≤ kPackRows, c < n_cols ≤ max_cols:
  // w the group's chunks (one per block), act rows act_stride bytes apart, info rows (one entry
  // per block) info_stride entries apart.
  Tile tile = nullptr;
};

// The packed kernel for this weight type at this ISA, or nullptr.
const PackedKernel* find_packed_kernel(DType weight, Isa isa);
// One ISA's packed kernels, one per packable type (find_packed_kernel picks by type).
struct PackedKernelSet {
  PackedKernel q4_0, q8_0, q4_k, q6_k;
};
const PackedKernelSet& packed_kernels_avx512();
const PackedKernelSet& packed_kernels_avx2();

// Whether `type` has a packed layout; the packed size of an [n, k] tensor; and the conversions
// (byte shuffles, exact both ways).
bool packable(DType type);
int64_t packed_bytes(DType type, int64_t n, int64_t k);
void pack_weights(DType type, const uint8_t* src, int64_t n, int64_t k, uint8_t* dst);
// Row `row` of a packed [n, k] tensor back in the original GGUF layout (row_bytes bytes).
void unpack_row(DType type, const uint8_t* packed, int64_t n, int64_t k, int64_t row, uint8_t* dst);

// If data is the buffer of a prepared (packed) tensor: its original dtype is returned through
// *type and true. Thread-safe against prepare/release.
bool is_packed(const void* data);

}  // namespace latent::kernels::cpu
