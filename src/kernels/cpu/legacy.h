// Declarations of the legacy-quant fast paths (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 weights) compiled per
// ISA in cpu/avx512/legacy_dot_avx512.cpp and cpu/avx2/legacy_dot_avx2.cpp. Every kernel takes Q8_0
// activations (bit-identical to quantize_row(Q8_0)); the Σq per block that Q4_1/Q5_1 need is
// computed inside the tile, where it is shared by all weight rows. No intrinsics here.
#pragma once

#include "kernels/cpu/dot_kernels.h"

namespace latent::kernels::cpu {

// A type without a kernel at that ISA returns a DotKernel with tile == nullptr.
DotKernel legacy_dot_avx512(DType weight);
DotKernel legacy_dot_avx2(DType weight);

}  // namespace latent::kernels::cpu
