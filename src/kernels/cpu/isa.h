// Instruction-set detection for the CPU kernels. Fast paths are compiled per ISA (cpu/avx2/,
// cpu/avx512/, each with its own target flags) and chosen here at run time, so one binary runs on
// any x86-64 and uses what the machine has. LATENT_ISA=scalar|avx2|avx512 caps the choice (tests
// and benchmarks use it).
#pragma once

#include <string_view>

namespace latent::kernels::cpu {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// Best ISA this CPU supports (avx512 = F+BW+VL+VNNI+BF16; avx2 = AVX2+FMA+F16C), capped by
// LATENT_ISA.
Isa active_isa();
// Overrides the choice for the rest of the process (clamped to what the CPU supports); tests only.
void set_isa_cap(Isa cap);
std::string_view isa_name(Isa isa);

}  // namespace latent::kernels::cpu
