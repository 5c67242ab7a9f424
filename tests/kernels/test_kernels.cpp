// Kernels against independent double-precision formulas (ref/) and the public threaded kernels
// against ref/ (same per-element arithmetic, so equal bit for bit), over awkward sizes and
// misaligned pointers.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"

namespace latent {
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// f32 accumulation of K products of O(1) values: error ≲ K·2^-24·Σ|a·b|; 1e-5 relative to Σ|a·b| is
// a safe bound for K ≤ 4096.
void expect_close_to_dot(float got, const std::vector<double>& a, const std::vector<double>& b) {
  double exact = 0, mag = 0;
  for (size_t i = 0; i < a.size(); ++i) exact += a[i] * b[i], mag += std::fabs(a[i] * b[i]);
  EXPECT_NEAR(got, exact, 1e-5 * mag + 1e-30);
}

TEST(RefKernels, DotMatchesDoubleOverAwkwardSizes) {
  for (int n : {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 255, 1000}) {
    auto a = randn(n + 1, 1 + n), b = randn(n + 1, 100 + n);
    // +1 offset: misaligned pointers
    const float got = kernels::ref::dot(a.data() + 1, b.data() + 1, n);
    expect_close_to_dot(got, std::vector<double>(a.begin() + 1, a.end()),
                        std::vector<double>(b.begin() + 1, b.end()));
  }
}

// The threaded reference path equals ref/ bit for bit (scalar ISA; the SIMD paths have their own
// bounds in test_dot_float.cpp and test_attention_fast.cpp).
TEST(Kernels, MatmulF32MatchesDoubleAndRef) {
  kernels::cpu::set_isa_cap(kernels::cpu::Isa::kScalar);
  for (auto [m, n, k] : {std::tuple{1, 1, 1}, {3, 17, 33}, {5, 64, 64}, {2, 129, 70}}) {
    auto x = randn(m * k, 7), w = randn(n * k, 8);
    TensorView tw{DType::F32, 2, {n, k, 1, 1}, w.data()};
    std::vector<float> out(m * n), out_ref(m * n);
    kernels::matmul(x.data(), m, tw, out.data());
    kernels::ref::matmul(x.data(), m, tw, out_ref.data());
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        EXPECT_EQ(out[i * n + j], out_ref[i * n + j]);
        std::vector<double> a(x.begin() + i * k, x.begin() + (i + 1) * k),
            b(w.begin() + j * k, w.begin() + (j + 1) * k);
        expect_close_to_dot(out[i * n + j], a, b);
      }
  }
  kernels::cpu::set_isa_cap(kernels::cpu::Isa::kAvx512);  // back to the best this CPU has
}

// The reference path (scalar ISA; the fast paths round activations and have their own tests in
// test_dot_*.cpp).
TEST(Kernels, MatmulQuantizedEqualsDotWithDequantizedRows) {
  kernels::cpu::set_isa_cap(kernels::cpu::Isa::kScalar);
  const int m = 3, n = 37, k = 256;
  auto x = randn(m * k, 11), w = randn(n * k, 12);
  for (DType t : {DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K}) {
    std::vector<uint8_t> q(dtype_row_bytes(t, k) * n);
    for (int j = 0; j < n; ++j)
      quantize_row(t, w.data() + j * k, q.data() + j * dtype_row_bytes(t, k), k);
    TensorView tw{t, 2, {n, k, 1, 1}, q.data()};
    std::vector<float> out(m * n), deq(k);
    kernels::matmul(x.data(), m, tw, out.data());
    for (int j = 0; j < n; ++j) {
      dequantize_row(t, tw.row(j), deq.data(), k);
      for (int i = 0; i < m; ++i)
        EXPECT_EQ(out[i * n + j], kernels::ref::dot(x.data() + i * k, deq.data(), k))
            << dtype_name(t);
    }
  }
  kernels::cpu::set_isa_cap(kernels::cpu::Isa::kAvx512);  // back to the best this CPU has
}

TEST(RefKernels, RmsNormMatchesFormula) {
  const int rows = 3, n = 19;
  auto x = randn(rows * n, 3), w = randn(n, 4);
  std::vector<float> out(rows * n);
  kernels::rms_norm(x.data(), w.data(), rows, n, 1e-5f, out.data());
  for (int r = 0; r < rows; ++r) {
    double ms = 0;
    for (int i = 0; i < n; ++i) ms += double(x[r * n + i]) * x[r * n + i];
    ms /= n;
    for (int i = 0; i < n; ++i)
      EXPECT_NEAR(out[r * n + i], x[r * n + i] / std::sqrt(ms + 1e-5) * w[i], 1e-5);
  }
}

TEST(RefKernels, SwigluMatchesFormula) {
  auto g = randn(33, 5, 3.0f), u = randn(33, 6);
  std::vector<float> out(33);
  kernels::swiglu(g.data(), u.data(), 33, out.data());
  for (int i = 0; i < 33; ++i)
    EXPECT_NEAR(out[i], g[i] / (1.0 + std::exp(-double(g[i]))) * u[i],
                1e-5 * (1 + std::fabs(out[i])));
}

// Rope against the complex-number definition: pair (a,b) ↦ (a + ib)·e^{iθ}.
void check_rope(kernels::RopeMode mode, int head_dim, int n_rot, const float* factors,
                float scale) {
  const int T = 3, H = 2;
  auto x = randn(T * H * head_dim, 9);
  auto y = x;
  const int32_t pos[T] = {0, 5, 1000};
  kernels::RopeParams p{mode, n_rot, 10000.0f, scale, factors};
  kernels::rope(y.data(), T, H, head_dim, pos, p);
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < H; ++h) {
      const float* a = x.data() + (t * H + h) * head_dim;
      const float* b = y.data() + (t * H + h) * head_dim;
      for (int i = 0; i < n_rot / 2; ++i) {
        double theta = pos[t] * scale * std::pow(10000.0, -2.0 * i / n_rot);
        if (factors) theta /= factors[i];
        const int i0 = mode == kernels::RopeMode::kNorm ? 2 * i : i;
        const int i1 = mode == kernels::RopeMode::kNorm ? 2 * i + 1 : i + n_rot / 2;
        EXPECT_NEAR(b[i0], a[i0] * std::cos(theta) - a[i1] * std::sin(theta), 1e-5);
        EXPECT_NEAR(b[i1], a[i0] * std::sin(theta) + a[i1] * std::cos(theta), 1e-5);
      }
      for (int i = n_rot; i < head_dim; ++i) EXPECT_EQ(b[i], a[i]);  // unrotated tail
    }
}

TEST(RefKernels, RopeNormNeoxPartialAndFactors) {
  check_rope(kernels::RopeMode::kNorm, 8, 8, nullptr, 1.0f);
  check_rope(kernels::RopeMode::kNeox, 16, 16, nullptr, 1.0f);
  check_rope(kernels::RopeMode::kNeox, 16, 8, nullptr, 0.25f);
  const float factors[4] = {1.0f, 2.0f, 8.0f, 8.0f};
  check_rope(kernels::RopeMode::kNorm, 8, 8, factors, 1.0f);
}

// The CPU rope keeps each position's cos/sin while the parameters stay the same: it must equal the
// reference bitwise on first and repeated positions, and notice new parameters, including new
// frequency factors written into the same buffer (a model freed and another loaded).
TEST(Kernels, RopeAngleCacheEqualsReference) {
  float factors[4] = {1.0f, 2.0f, 8.0f, 8.0f};
  const int32_t pos[5] = {7, 0, 7, 300, 1};
  auto check = [&](const kernels::RopeParams& p, const char* what) {
    auto want = randn(5 * 3 * 8, 21), got = want;
    kernels::ref::rope(want.data(), 5, 3, 8, pos, p);
    kernels::rope(got.data(), 5, 3, 8, pos, p);
    EXPECT_EQ(got, want) << what;
  };
  kernels::RopeParams a{kernels::RopeMode::kNorm, 8, 10000.0f, 1.0f, factors};
  check(a, "first call");
  check(a, "cached angles");
  kernels::RopeParams b = a;
  b.freq_base = 500000.0f;
  check(b, "another base");
  factors[2] = 4.0f;
  check(b, "new factors at the same address");
  b.freq_factors = nullptr;
  b.ext_factor = 1.0f;
  b.yarn_low = 1.0f;
  b.yarn_high = 3.0f;
  b.freq_scale = 0.25f;
  b.mscale = 1.2f;
  check(b, "YaRN");
  b.n_rot = 4;
  check(b, "fewer rotated dims");
}

// Attention against a double-precision softmax over the causal prefix, with GQA.
TEST(Kernels, AttentionMatchesNaiveCausalSoftmaxWithGqa) {
  kernels::cpu::set_isa_cap(kernels::cpu::Isa::kScalar);  // bit-equal to ref/ (see above)
  const int n_head = 4, n_head_kv = 2, d = 5, n_pos = 9;
  const int stride = n_head_kv * d;
  auto k = randn(n_pos * stride, 21), v = randn(n_pos * stride, 22);
  const int T = 3;
  const int32_t pos[T] = {0, 4, 8};
  auto q = randn(T * n_head * d, 23);
  kernels::AttentionParams p{T, n_head, n_head_kv, d, stride, 0.7f};
  std::vector<float> out(T * n_head * d), out_ref(out.size());
  kernels::attention(q.data(), k.data(), v.data(), pos, out.data(), p);
  kernels::ref::attention(q.data(), k.data(), v.data(), pos, out_ref.data(), p);
  EXPECT_EQ(out, out_ref);
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < n_head; ++h) {
      const int g = h / (n_head / n_head_kv);
      std::vector<double> s(pos[t] + 1);
      double mx = -1e300, sum = 0;
      for (int j = 0; j <= pos[t]; ++j) {
        double dot = 0;
        for (int i = 0; i < d; ++i)
          dot += double(q[(t * n_head + h) * d + i]) * k[j * stride + g * d + i];
        s[j] = 0.7 * dot;
        mx = std::max(mx, s[j]);
      }
      for (auto& e : s) sum += (e = std::exp(e - mx));
      for (int i = 0; i < d; ++i) {
        double o = 0;
        for (int j = 0; j <= pos[t]; ++j) o += s[j] / sum * v[j * stride + g * d + i];
        EXPECT_NEAR(out[(t * n_head + h) * d + i], o, 1e-5);
      }
    }
  kernels::cpu::set_isa_cap(kernels::cpu::Isa::kAvx512);
}

TEST(Kernels, ThreadCountIsRespected) {
  kernels::set_num_threads(1);
  EXPECT_EQ(kernels::num_threads(), 1);
  kernels::set_num_threads(0);
  EXPECT_GE(kernels::num_threads(), 1);
}

}  // namespace
}  // namespace latent
