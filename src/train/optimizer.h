// AdamW with decoupled weight decay (Loshchilov & Hutter; PyTorch's order: decay, then the Adam
// step), linear warm-up then cosine decay of the learning rate, and global-norm gradient clipping.
#pragma once

#include <cstdint>
#include <vector>

#include "train/params.h"

namespace latent::train {

struct OptimConfig {
  float lr = 1e-3f;           // peak learning rate, reached at the end of warm-up
  float min_lr_ratio = 0.1f;  // the cosine ends at lr·min_lr_ratio
  int64_t warmup = 100;       // steps of linear warm-up
  int64_t total_steps = 1000;
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f;
  float weight_decay = 0.1f;  // applied to matrices only (ParamTensor::decay)
  float clip_norm = 1.0f;     // ≤ 0: no clipping
};

// Learning rate of 0-based step s: lr·(s+1)/warmup during warm-up, then
// min + ½(lr − min)(1 + cos(π·(s − warmup)/(total − warmup))), min = lr·min_lr_ratio; past the end,
// min.
float learning_rate(const OptimConfig& c, int64_t step);

// Scales grads so their global L2 norm is at most max_norm (no-op when max_norm ≤ 0). Returns the
// norm before clipping.
double clip_grad_norm(ParamSet& grads, float max_norm);

class AdamW {
 public:
  explicit AdamW(const ParamSet& params);
  // One update with learning rate lr, t = step() + 1:
  //   p ← p − lr·wd·p (decayed tensors only)
  //   m ← β1·m + (1−β1)·g ;  v ← β2·v + (1−β2)·g²
  //   p ← p − lr · (m/(1−β1ᵗ)) / (sqrt(v/(1−β2ᵗ)) + eps)
  void update(ParamSet& params, const ParamSet& grads, const OptimConfig& c, float lr);
  int64_t step() const { return step_; }

  // State, for checkpoints.
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  const std::vector<float>& m() const { return m_; }
  const std::vector<float>& v() const { return v_; }
  void set_step(int64_t s) { step_ = s; }

 private:
  std::vector<float> m_, v_;
  int64_t step_ = 0;
};

}  // namespace latent::train
