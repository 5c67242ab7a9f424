// Registers the legacy-family fast paths (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 weights against Q8_0
// activations; implemented in cpu/avx2/legacy_dot_avx2.cpp and cpu/avx512/legacy_dot_avx512.cpp)
// in the dot-kernel table. Types or ISAs left unregistered use the reference path.
#include "kernels/cpu/dot_kernels.h"
#include "kernels/cpu/legacy.h"

namespace latent::kernels::cpu {

void register_legacy_kernels(DotKernelTable& table) {
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1}) {
    table_entry(table, Isa::kAvx2, t) = legacy_dot_avx2(t);
    table_entry(table, Isa::kAvx512, t) = legacy_dot_avx512(t);
  }
}

}  // namespace latent::kernels::cpu
