// Declarations of the K-quant fast paths compiled per ISA (cpu/avx512/kquant_*.cpp,
// cpu/avx2/kquant_*.cpp): Q8_K activation conversion and the Q2_K..Q6_K tiles against Q8_K
// activations. No intrinsics here; register_kquant.cpp puts them in the dot-kernel table.
#pragma once

#include <cstdint>

#include "kernels/cpu/dot_kernels.h"

namespace latent::kernels::cpu {

// f32 row → Q8_K blocks, byte-identical to quantize_row(DType::Q8_K).
void q8k_convert_avx512(const float* x, void* out, int64_t n);
void q8k_convert_avx2(const float* x, void* out, int64_t n);

// Tile entry points (the contract of DotKernel::tile) per weight type, nullptr for a type the file
// does not cover. DotKernels are assembled in register_kquant.cpp, outside the ISA-flagged files,
// so no inline function of a shared header is ever emitted with AVX-512 code for the linker to
// pick.
using KquantTile = void (*)(int64_t n, const uint8_t* w, int64_t w_stride, int n_rows,
                            const uint8_t* act, int64_t act_stride, int n_cols, float* out,
                            int64_t out_stride);
KquantTile q4q5_tile_avx512(DType weight);
KquantTile q6q3q2_tile_avx512(DType weight);
KquantTile q4q5_tile_avx2(DType weight);
KquantTile q6q3q2_tile_avx2(DType weight);

}  // namespace latent::kernels::cpu
