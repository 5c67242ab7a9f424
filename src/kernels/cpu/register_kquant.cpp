// Registers the kquant-family fast paths (implemented in cpu/avx2/ and cpu/avx512/) in the
// dot-kernel table: Q2_K, Q3_K, Q4_K, Q5_K and Q6_K weights against Q8_K activations at AVX2 and
// AVX-512. Scalar stays on the reference path.
#include "kernels/cpu/dot_kernels.h"
#include "kernels/cpu/kquant_ops.h"

namespace latent::kernels::cpu {

namespace {

DotKernel make(void (*convert)(const float*, void*, int64_t), KquantTile a, KquantTile b) {
  DotKernel k;
  if (a || b) k = DotKernel{DType::Q8_K, convert, a ? a : b};
  return k;
}

}  // namespace

void register_kquant_kernels(DotKernelTable& table) {
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    table_entry(table, Isa::kAvx2, t) =
        make(&q8k_convert_avx2, q4q5_tile_avx2(t), q6q3q2_tile_avx2(t));
    table_entry(table, Isa::kAvx512, t) =
        make(&q8k_convert_avx512, q4q5_tile_avx512(t), q6q3q2_tile_avx512(t));
  }
}

}  // namespace latent::kernels::cpu
