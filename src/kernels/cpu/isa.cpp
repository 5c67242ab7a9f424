// CPU feature detection with GCC's __builtin_cpu_supports, and the LATENT_ISA cap.
#include "kernels/cpu/isa.h"

#include <atomic>
#include <cstdlib>
#include <string>

namespace latent::kernels::cpu {
namespace {

Isa detect() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
      __builtin_cpu_supports("avx512bf16"))
    return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c"))
    return Isa::kAvx2;
#endif
  return Isa::kScalar;
}

Isa cap_from_env() {
  const char* env = std::getenv("LATENT_ISA");
  if (!env) return Isa::kAvx512;
  const std::string v = env;
  if (v == "scalar") return Isa::kScalar;
  if (v == "avx2") return Isa::kAvx2;
  return Isa::kAvx512;
}

std::atomic<int> g_active{-1};

}  // namespace

Isa active_isa() {
  int v = g_active.load(std::memory_order_relaxed);
  if (v < 0) {
    v = std::min(static_cast<int>(detect()), static_cast<int>(cap_from_env()));
    g_active.store(v, std::memory_order_relaxed);
  }
  return static_cast<Isa>(v);
}

void set_isa_cap(Isa cap) {
  g_active.store(std::min(static_cast<int>(detect()), static_cast<int>(cap)));
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "?";
}

}  // namespace latent::kernels::cpu
