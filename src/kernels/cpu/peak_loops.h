// The per-ISA inner loops behind kernels/peak.h, one set per ISA directory (avx2/, avx512/). Each
// peak loop runs `iters` iterations of independent instructions on registers and returns a value
// derived from every accumulator (so nothing is optimised away); *_ops_per_iter gives the
// operations per iteration (a multiply-add counts 2). sum_f32 reads n floats with vector loads.
#pragma once

#include <cstdint>

namespace latent::kernels::cpu {

namespace avx512 {
inline constexpr int64_t kFp32OpsPerIter = 12 * 16 * 2;      // 12 vfmadd231ps zmm
inline constexpr int64_t kInt8OpsPerIter = 12 * 64 * 2;      // 12 vpdpbusd zmm
inline constexpr int64_t kBf16OpsPerIter = 12 * 16 * 2 * 2;  // 12 vdpbf16ps zmm
float peak_fp32(int64_t iters);
int32_t peak_int8(int64_t iters);
float peak_bf16(int64_t iters);
float sum_f32(const float* p, int64_t n);
}  // namespace avx512

namespace avx2 {
inline constexpr int64_t kFp32OpsPerIter = 12 * 8 * 2;  // 12 vfmadd231ps ymm
inline constexpr int64_t kInt8OpsPerIter = 8 * 32 * 2;  // 8 × (vpmaddubsw, vpmaddwd, vpaddd) ymm
float peak_fp32(int64_t iters);
int32_t peak_int8(int64_t iters);
float sum_f32(const float* p, int64_t n);
}  // namespace avx2

}  // namespace latent::kernels::cpu
