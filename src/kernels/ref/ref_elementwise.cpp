// Reference norms, residual adds, activations and rotary embeddings.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ref/ref_kernels.h"

namespace latent::kernels::ref {

void rms_norm(const float* x, const float* weight, int64_t rows, int64_t n, float eps, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = out + r * n;
    // ms = mean(x²), accumulated in double as ggml does
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(xr[i]) * xr[i];
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum / n) + eps);
    // y = x / sqrt(ms + eps) ⊙ w
    for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale * weight[i];
  }
}

void add_bias(float* x, const float* bias, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) x[r * n + i] += bias[i];
}

void add(const float* a, const float* b, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  // out = silu(g)·u, silu(g) = g·σ(g) = g / (1 + e^{−g})
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void rope_cos_sin(const RopeParams& p, int32_t pos, float* cs) {
  for (int64_t i = 0; i < p.n_rot / 2; ++i) {
    // θ_i = pos · scale · base^(−2i/n_rot) / factor_i ; computed in double, rounded once
    double theta = static_cast<double>(pos) * p.freq_scale *
                   std::pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_rot);
    if (p.freq_factors) theta /= p.freq_factors[i];
    if (p.ext_factor != 0.0f) {
      // YaRN: θ = θ_interp·(1 − r) + θ_extrap·r, r = ext·(1 − clamp((i − low)/(high − low)))
      const double y = (i - p.yarn_low) / std::max(0.001, double(p.yarn_high) - p.yarn_low);
      const double r = p.ext_factor * (1.0 - std::min(1.0, std::max(0.0, y)));
      theta = theta * (1.0 - r) + theta / p.freq_scale * r;
    }
    cs[2 * i] = static_cast<float>(std::cos(theta) * p.mscale);
    cs[2 * i + 1] = static_cast<float>(std::sin(theta) * p.mscale);
  }
}

void rope_apply(float* x, int64_t n_heads, int64_t head_dim, const float* cs, const RopeParams& p) {
  const int64_t half = p.n_rot / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float c = cs[2 * i], s = cs[2 * i + 1];
    // NORM rotates (x[2i], x[2i+1]); NEOX rotates (x[i], x[i + n_rot/2])
    const int64_t i0 = p.mode == RopeMode::kNorm ? 2 * i : i;
    const int64_t i1 = p.mode == RopeMode::kNorm ? 2 * i + 1 : i + half;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim;
      const float a = v[i0], b = v[i1];
      v[i0] = a * c - b * s;
      v[i1] = a * s + b * c;
    }
  }
}

void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, const int32_t* pos,
          const RopeParams& p) {
  std::vector<float> cs(static_cast<size_t>(p.n_rot));
  for (int64_t t = 0; t < n_tokens; ++t) {
    rope_cos_sin(p, pos[t], cs.data());
    rope_apply(x + t * n_heads * head_dim, n_heads, head_dim, cs.data(), p);
  }
}

}  // namespace latent::kernels::ref
