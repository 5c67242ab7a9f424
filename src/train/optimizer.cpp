// AdamW, the learning-rate schedule and gradient clipping.
#include "train/optimizer.h"

#include <cmath>

namespace latent::train {

float learning_rate(const OptimConfig& c, int64_t step) {
  if (step < c.warmup) return c.lr * static_cast<float>(step + 1) / static_cast<float>(c.warmup);
  const double min_lr = static_cast<double>(c.lr) * c.min_lr_ratio;
  const int64_t span = c.total_steps - c.warmup;
  if (span <= 0 || step >= c.total_steps) return static_cast<float>(min_lr);
  const double progress = static_cast<double>(step - c.warmup) / static_cast<double>(span);
  return static_cast<float>(min_lr + 0.5 * (c.lr - min_lr) * (1.0 + std::cos(M_PI * progress)));
}

double clip_grad_norm(ParamSet& grads, float max_norm) {
  double ss = 0.0;
  for (float g : grads.span()) ss += static_cast<double>(g) * g;
  const double norm = std::sqrt(ss);
  if (max_norm > 0.0f && norm > max_norm) {
    const float scale = static_cast<float>(max_norm / (norm + 1e-6));
    for (float& g : grads.span()) g *= scale;
  }
  return norm;
}

AdamW::AdamW(const ParamSet& params)
    : m_(static_cast<size_t>(params.n_params()), 0.0f),
      v_(static_cast<size_t>(params.n_params()), 0.0f) {}

void AdamW::update(ParamSet& params, const ParamSet& grads, const OptimConfig& c, float lr) {
  ++step_;
  const double bc1 = 1.0 - std::pow(static_cast<double>(c.beta1), static_cast<double>(step_));
  const double bc2 = 1.0 - std::pow(static_cast<double>(c.beta2), static_cast<double>(step_));
  float* p = params.data();
  const float* g = grads.data();
  for (const ParamTensor& t : params.tensors()) {
    const float decay = t.decay ? 1.0f - lr * c.weight_decay : 1.0f;
    for (int64_t i = t.offset; i < t.offset + t.size; ++i) {
      m_[i] = c.beta1 * m_[i] + (1.0f - c.beta1) * g[i];
      v_[i] = c.beta2 * v_[i] + (1.0f - c.beta2) * g[i] * g[i];
      const double mhat = m_[i] / bc1, vhat = v_[i] / bc2;
      p[i] = p[i] * decay - static_cast<float>(lr * mhat / (std::sqrt(vhat) + c.eps));
    }
  }
}

}  // namespace latent::train
