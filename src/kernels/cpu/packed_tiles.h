// The packed kernels' dispatch by activation-row count, shared by the per-ISA kernel files (no
// intrinsics here): a kernel family K (in the ISA's file) names one instantiation per row count,
// K::fn<NC>, and packed_tile<K, kMaxCols> is the PackedKernel::tile that picks it.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

namespace latent::kernels::cpu {

using PackedTileNc = void (*)(int64_t n, const uint8_t* w, const uint8_t* act, int64_t act_stride,
                              const void* info, int64_t info_stride, float* out, int64_t out_stride,
                              int n_rows);

template <class K, int... I>
constexpr std::array<PackedTileNc, sizeof...(I)> packed_tiles_by_cols(
    std::integer_sequence<int, I...>) {
  return {K::template fn<I + 1>...};
}

// PackedKernel::tile: the instantiation for n_cols (1..kMaxCols) activation rows.
template <class K, int kMaxCols>
void packed_tile(int64_t n, const uint8_t* w, const uint8_t* act, int64_t act_stride,
                 const void* info, int64_t info_stride, int n_cols, float* out, int64_t out_stride,
                 int n_rows) {
  static constexpr auto table =
      packed_tiles_by_cols<K>(std::make_integer_sequence<int, kMaxCols>{});
  table[n_cols - 1](n, w, act, act_stride, info, info_stride, out, out_stride, n_rows);
}

}  // namespace latent::kernels::cpu
