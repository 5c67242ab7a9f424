// The SIMD float ops of every ISA this CPU has, through the public kernels: fused online-softmax
// attention against kernels::ref::attention and a double-precision oracle (prefill up to 600
// tokens, GQA groups 1/4/8, head_dim 64/128 and odd sizes, positions not starting at 0, padded KV
// stride); rms_norm, add, add_bias and swiglu against ref/ over awkward sizes and misaligned data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"

namespace latent {
namespace {

using kernels::cpu::Isa;

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// The ISAs to run (each capped in turn); the cap is restored to the best afterwards.
std::vector<Isa> isas() {
  std::vector<Isa> v;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    kernels::cpu::set_isa_cap(isa);
    if (kernels::cpu::active_isa() == isa) v.push_back(isa);
  }
  kernels::cpu::set_isa_cap(Isa::kAvx512);
  return v;
}

struct AttnCase {
  int n_head, n_head_kv, head_dim, first_pos, n_tokens, pad;  // pad: extra floats per KV position
};

// Oracle: out = Σ_j softmax_j(scale·q·k_j)·v_j over j ≤ pos in double. Bound: the output is a
// convex combination of V rows, so with weights a_j off by δa_j it is off by ≤ Σ|δa_j|·max|v|. A
// score carries the f32 dot error ≲ (d/8 + 5)·2^-24·scale·Σ|q·k| (≤ ~1e-6 here), e^x adds ≤ 2 ulp,
// and the f32 running sums over n_pos terms add ≤ n_pos·2^-24 relative (first-order worst case),
// so |err| ≤ (2·n_pos·2^-24 + 8e-6)·max|v| with room to spare.
void check_attention(const AttnCase& c, Isa isa) {
  const int d = c.head_dim, stride = c.n_head_kv * d + c.pad;
  const int n_pos = c.first_pos + c.n_tokens;
  const float scale = 1.0f / std::sqrt(float(d));
  auto k = randn(size_t(n_pos) * stride + 1, 31 + d, 1.0f),
       v = randn(size_t(n_pos) * stride + 1, 32);
  auto q = randn(size_t(c.n_tokens) * c.n_head * d + 1, 33, 1.5f);
  std::vector<int32_t> pos(c.n_tokens);
  for (int t = 0; t < c.n_tokens; ++t) pos[t] = c.first_pos + t;
  kernels::AttentionParams p{c.n_tokens, c.n_head, c.n_head_kv, d, stride, scale};
  // +1: misaligned q, k, v and out
  std::vector<float> out(q.size()), out_ref(q.size());
  kernels::attention(q.data() + 1, k.data() + 1, v.data() + 1, pos.data(), out.data() + 1, p);
  kernels::ref::attention(q.data() + 1, k.data() + 1, v.data() + 1, pos.data(), out_ref.data() + 1,
                          p);
  const int group = c.n_head / c.n_head_kv;
  double vmax = 0;
  for (float x : v) vmax = std::max(vmax, double(std::fabs(x)));
  double worst = 0;
  std::vector<double> s(n_pos);
  for (int t = 0; t < c.n_tokens; ++t)
    for (int h = 0; h < c.n_head; ++h) {
      const float* qh = q.data() + 1 + (size_t(t) * c.n_head + h) * d;
      const int g = h / group;
      double mx = -1e300, sum = 0;
      for (int j = 0; j <= pos[t]; ++j) {
        double dot = 0;
        for (int i = 0; i < d; ++i) dot += double(qh[i]) * k[1 + size_t(j) * stride + g * d + i];
        s[j] = scale * dot;
        mx = std::max(mx, s[j]);
      }
      for (int j = 0; j <= pos[t]; ++j) sum += (s[j] = std::exp(s[j] - mx));
      const double tol = (2.0 * (pos[t] + 1) * 0x1p-24 + 8e-6) * vmax;
      for (int i = 0; i < d; ++i) {
        double o = 0;
        for (int j = 0; j <= pos[t]; ++j) o += s[j] / sum * v[1 + size_t(j) * stride + g * d + i];
        const size_t at = 1 + (size_t(t) * c.n_head + h) * d + i;
        worst = std::max(worst, std::fabs(out[at] - o) / vmax);
        ASSERT_NEAR(out[at], o, tol) << kernels::cpu::isa_name(isa) << " t=" << t << " h=" << h
                                     << " i=" << i << " d=" << d << " group=" << group;
        ASSERT_NEAR(out[at], out_ref[at], 2 * tol);
      }
    }
  std::printf("[ %-6s H=%d/%d d=%d pos %d..%d ] max |err|/max|v| = %.2e\n",
              std::string(kernels::cpu::isa_name(isa)).c_str(), c.n_head, c.n_head_kv, d,
              c.first_pos, n_pos - 1, worst);
}

TEST(AttentionFast, MatchesRefAndDoubleOracle) {
  const AttnCase cases[] = {
      {4, 4, 64, 0, 40, 0},     // MHA (group 1), prefill from 0
      {8, 2, 128, 0, 33, 16},   // group 4, head_dim 128, padded stride
      {8, 1, 64, 0, 600, 0},    // group 8, a 600-token prefill
      {8, 1, 64, 599, 1, 0},    // decode after that prefill
      {16, 2, 64, 300, 17, 3},  // group 8, a chunk continuing at position 300
      {4, 2, 5, 0, 9, 1},       // odd head_dim: masked tails
      {8, 4, 8, 10, 5, 0},      // stories260K's head shape
      {2, 1, 20, 0, 70, 0},     // 20 = 16 + 4
      {2, 2, 136, 7, 3, 0},     // 136 = 8·16 + 8
      {12, 2, 32, 3, 20, 0},    // group 6: query heads in two items of 3
      {10, 2, 48, 0, 18, 5},    // group 5: items of 3 and 2 heads
      {7, 1, 256, 15, 2, 0},    // group 7, the widest head kept in registers
      {16, 1, 576, 0, 37, 0},   // deepseek2's MLA: 576-float latent rows, MQA
      {4, 2, 300, 20, 3, 7},    // a wide head with a masked tail and padded stride
      {16, 1, 576, 40, 1, 0},   // MLA decode: the 16 heads split between the threads
      {20, 1, 272, 9, 2, 0},    // more heads than one wide item takes (20 > 16)
  };
  for (Isa isa : isas()) {
    kernels::cpu::set_isa_cap(isa);
    for (const AttnCase& c : cases) {
      check_attention(c, isa);
      if (HasFatalFailure()) break;
    }
  }
  kernels::cpu::set_isa_cap(Isa::kAvx512);
}

// Large score gaps: the running max must rescale earlier blocks correctly when a late position
// dominates, and tiny weights must not turn into NaN.
TEST(AttentionFast, RunningMaxRescalesWhenALatePositionDominates) {
  const int d = 64, n_pos = 100;
  std::vector<float> k(n_pos * d, 0.0f), v(n_pos * d), q(d, 1.0f), out(d), out_ref(d);
  for (int j = 0; j < n_pos; ++j)
    for (int i = 0; i < d; ++i) v[j * d + i] = float(j);
  for (int i = 0; i < d; ++i) k[70 * d + i] = 2.0f;  // s_70 = 128·scale(=1) ≫ others (0)
  const int32_t pos = n_pos - 1;
  kernels::AttentionParams p{1, 1, 1, d, d, 1.0f};
  for (Isa isa : isas()) {
    kernels::cpu::set_isa_cap(isa);
    kernels::attention(q.data(), k.data(), v.data(), &pos, out.data(), p);
    kernels::ref::attention(q.data(), k.data(), v.data(), &pos, out_ref.data(), p);
    for (int i = 0; i < d; ++i) {
      EXPECT_NEAR(out[i], 70.0f, 1e-4) << kernels::cpu::isa_name(isa);
      EXPECT_NEAR(out[i], out_ref[i], 1e-4);
    }
  }
  kernels::cpu::set_isa_cap(Isa::kAvx512);
}

TEST(ElementwiseFast, MatchRefOverAwkwardSizes) {
  std::vector<int64_t> sizes;
  for (int64_t n = 1; n <= 40; ++n) sizes.push_back(n);
  for (int64_t n : {64, 100, 2048, 5632, 100003}) sizes.push_back(n);
  for (Isa isa : isas()) {
    kernels::cpu::set_isa_cap(isa);
    for (int64_t n : sizes) {
      const int64_t rows = n > 5000 ? 2 : 3;
      auto x = randn(rows * n + 1, 41 + n, 2.0f), w = randn(n + 1, 42), y = randn(rows * n + 1, 43);
      auto g = randn(rows * n + 1, 44, 6.0f);  // gates well into both tails of silu
      std::vector<float> a(rows * n + 1), b(rows * n + 1);
      // rms_norm: same scale (double sum, rounded once), same products → within 2 ulp
      kernels::rms_norm(x.data() + 1, w.data() + 1, rows, n, 1e-5f, a.data() + 1);
      kernels::ref::rms_norm(x.data() + 1, w.data() + 1, rows, n, 1e-5f, b.data() + 1);
      for (int64_t i = 1; i <= rows * n; ++i)
        ASSERT_NEAR(a[i], b[i], 2.5e-7f * std::fabs(b[i]) + 1e-30f) << "rms_norm n=" << n;
      // add and add_bias: one rounding, exact
      kernels::add(x.data() + 1, y.data() + 1, rows * n, a.data() + 1);
      kernels::ref::add(x.data() + 1, y.data() + 1, rows * n, b.data() + 1);
      ASSERT_EQ(a, b) << "add n=" << n;
      a = x, b = x;
      kernels::add_bias(a.data() + 1, w.data() + 1, rows, n);
      kernels::ref::add_bias(b.data() + 1, w.data() + 1, rows, n);
      ASSERT_EQ(a, b) << "add_bias n=" << n;
      // swiglu: e^x within ~2 ulp, then one add, divide and multiply → ≤ ~6 ulp relative
      kernels::swiglu(g.data() + 1, y.data() + 1, rows * n, a.data() + 1);
      kernels::ref::swiglu(g.data() + 1, y.data() + 1, rows * n, b.data() + 1);
      for (int64_t i = 1; i <= rows * n; ++i)
        ASSERT_NEAR(a[i], b[i], 8e-7f * std::fabs(b[i]) + 1e-37f)
            << kernels::cpu::isa_name(isa) << " swiglu n=" << n << " g=" << g[i];
    }
  }
  kernels::cpu::set_isa_cap(Isa::kAvx512);
}

}  // namespace
}  // namespace latent
