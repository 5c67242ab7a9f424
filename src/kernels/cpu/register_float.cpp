// Registers the float-family fast paths (implemented in cpu/avx2/ and cpu/avx512/) in the
// dot-kernel table: F32, F16 and BF16 weights at AVX2 and AVX-512. Scalar stays on the reference
// path.
#include "kernels/cpu/dot_kernels.h"
#include "kernels/cpu/float_ops.h"

namespace latent::kernels::cpu {

void register_float_kernels(DotKernelTable& table) {
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    table_entry(table, Isa::kAvx2, t) = float_dot_avx2(t);
    table_entry(table, Isa::kAvx512, t) = float_dot_avx512(t);
  }
}

}  // namespace latent::kernels::cpu
