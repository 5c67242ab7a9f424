// Machine ceilings measured in-process, for rooflines (`latent bench`): read bandwidth of a large
// buffer and the arithmetic peaks of FP32 FMA, INT8 dot products (VPDPBUSD / VPMADDUBSW) and BF16
// dot products (VDPBF16PS), each with a given number of OpenMP threads at the active ISA
// (cpu/isa.h). Owns the timing loops only; what a model needs is computed by its caller.
#pragma once

#include <cstdint>

namespace latent::kernels {

struct ReadBandwidth {
  double best_bytes_per_s = 0.0;  // fastest pass (the ceiling, as STREAM reports it)
  double mean_bytes_per_s = 0.0;  // mean over the passes
  int passes = 0;
};

// Sums a freshly allocated buffer of `bytes` (first touched by the same threads) with SIMD loads,
// pass after pass for at least `seconds`, split statically over `threads` threads. Throws
// latent::Error when the buffer cannot be allocated.
ReadBandwidth measure_read_bandwidth(int64_t bytes, int threads, double seconds);

enum class PeakKind { kFp32Fma, kInt8Dot, kBf16Dot };

// Operations per second (a multiply-add counts 2) of register-only loops of independent
// instructions, best of three runs of about seconds/3 each. 0 when the active ISA has no such
// instruction (BF16 below avx512).
double measure_peak(PeakKind kind, int threads, double seconds);

// "fp32 fma zmm", "int8 vpdpbusd zmm", ... : which instruction the active ISA times.
const char* peak_instruction(PeakKind kind);

}  // namespace latent::kernels
