// The AVX-512 K-quant tile driver, shared by the per-format files in this folder (included only
// there: it uses intrinsics). A format's State unpacks one super-block once: w[j], four 64-weight
// chunks of unsigned levels; sc[j], the int16 group scales aligned with maddubs pairs; d; and the
// float "min" vector mf (lane i pairs with bsums[i]): dot = d·d_a·Σ sc·q·a − Σ_i
// mf[i]·d_a·bsums[i].
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>
#include <cstring>

namespace latent::kernels::cpu::kq512 {

// Q8_K activation block: float d at 0, int8 qs[256] at 4, int16 bsums[16] at 260.
inline constexpr int kActBytes = 292;
inline constexpr int kActQs = 4;
inline constexpr int kActBsums = 260;

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}
inline float load_f32(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// int16 index vector for permutexvar_epi16: element e reads scale first + step · (e / span), span 8
// or 16.
inline __m512i scale_index(int first, int span, int step = 1) {
  const __m512i e = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
                                     15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i q = span == 16 ? _mm512_srli_epi16(e, 4) : _mm512_srli_epi16(e, 3);
  return _mm512_add_epi16(_mm512_mullo_epi16(q, _mm512_set1_epi16(static_cast<int16_t>(step))),
                          _mm512_set1_epi16(static_cast<int16_t>(first)));
}

// Activation chunks in element order (formats whose w[j] hold elements 64j..64j+63).
struct NaturalOrder {
  static __m512i act(const uint8_t* aq, int j) { return _mm512_loadu_si512(aq + 64 * j); }
};

// Integer part of one (weight row, activation row) super-block: Σ_chunks dpwssd(maddubs(w, a), sc).
// maddubs pairs stay within int16 (2·63·128 < 2^15); each int32 lane sums 16 weights.
template <class State>
inline __m512i block_isum(const State& s, const __m512i a[4]) {
  // Two chains of two dpwssd each: half the latency of one chain of four.
  __m512i e = _mm512_madd_epi16(_mm512_maddubs_epi16(s.w[0], a[0]), s.sc[0]);
  __m512i o = _mm512_madd_epi16(_mm512_maddubs_epi16(s.w[1], a[1]), s.sc[1]);
  e = _mm512_dpwssd_epi32(e, _mm512_maddubs_epi16(s.w[2], a[2]), s.sc[2]);
  o = _mm512_dpwssd_epi32(o, _mm512_maddubs_epi16(s.w[3], a[3]), s.sc[3]);
  return _mm512_add_epi32(e, o);
}

// out[c·out_stride + r] for NR weight rows × NC activation rows. Each weight super-block is
// unpacked once and used for all NC activation rows; f32 accumulators stay per (r, c) until the
// end.
template <class K, int NR, int NC>
void tile_impl(int64_t n, const uint8_t* w, int64_t w_stride, const uint8_t* act,
               int64_t act_stride, float* out, int64_t out_stride) {
  __m512 acc[NR][NC];
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_setzero_ps();
  const int64_t nb = n / 256;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* ab[NC];
    float da[NC];
    __m512 fa[NC];      // d_a · bsums, the activation side of the min term
    __m512i av[NC][4];  // activation chunks in the format's weight-chunk order
    for (int c = 0; c < NC; ++c) {
      ab[c] = act + c * act_stride + b * kActBytes;
      for (int j = 0; j < 4; ++j) av[c][j] = K::act(ab[c] + kActQs, j);
      da[c] = load_f32(ab[c]);
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab[c] + kActBsums));
      fa[c] = _mm512_mul_ps(_mm512_set1_ps(da[c]), _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(bs)));
    }
    for (int r = 0; r < NR; ++r) {
      const typename K::State s(w + r * w_stride + b * K::kBytes);
      for (int c = 0; c < NC; ++c) {
        const __m512i isum = block_isum(s, av[c]);
        acc[r][c] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(s.d * da[c]), acc[r][c]);
        acc[r][c] = _mm512_fnmadd_ps(s.mf, fa[c], acc[r][c]);
      }
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c) out[c * out_stride + r] = _mm512_reduce_add_ps(acc[r][c]);
}

template <class K, int NC>
void tile_cols(int64_t n, const uint8_t* w, int64_t w_stride, int n_rows, const uint8_t* act,
               int64_t act_stride, float* out, int64_t out_stride) {
  if (n_rows == 4) {
    tile_impl<K, 4, NC>(n, w, w_stride, act, act_stride, out, out_stride);
    return;
  }
  for (int r = 0; r < n_rows; ++r)
    tile_impl<K, 1, NC>(n, w + r * w_stride, w_stride, act, act_stride, out + r, out_stride);
}

// The DotKernel::tile entry for format K.
template <class K>
void tile(int64_t n, const uint8_t* w, int64_t w_stride, int n_rows, const uint8_t* act,
          int64_t act_stride, int n_cols, float* out, int64_t out_stride) {
  switch (n_cols) {
    case 1:
      return tile_cols<K, 1>(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
    case 2:
      return tile_cols<K, 2>(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
    case 3:
      return tile_cols<K, 3>(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
    default:
      return tile_cols<K, 4>(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
  }
}

}  // namespace latent::kernels::cpu::kq512
