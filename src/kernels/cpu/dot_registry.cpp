// Builds the dot-kernel table once from the family hooks and answers lookups, falling back from the
// active ISA to lower ones.
#include "kernels/cpu/dot_kernels.h"

namespace latent::kernels::cpu {
namespace {

const DotKernelTable& table() {
  static const DotKernelTable t = [] {
    DotKernelTable built{};
    register_float_kernels(built);
    register_legacy_kernels(built);
    register_kquant_kernels(built);
    return built;
  }();
  return t;
}

}  // namespace

const DotKernel* find_dot_kernel(DType weight, Isa isa) {
  const uint32_t id = static_cast<uint32_t>(weight);
  if (id >= 64) return nullptr;
  for (int i = static_cast<int>(isa); i >= 0; --i) {
    const DotKernel& k = table()[i][id];
    if (k.tile) return &k;
  }
  return nullptr;
}

}  // namespace latent::kernels::cpu
