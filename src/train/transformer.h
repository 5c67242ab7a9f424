// Forward and backward pass of the llama architecture in F32 for training, one sequence at a time
// (positions 0..T-1, causal attention within the sequence), in the style of llama2.c: one loop per
// step with its formula beside it. The same maths as model/arch/llama.cpp (RMSNorm, rope NORM mode
// rotating adjacent pairs, grouped-query attention, SwiGLU), so a checkpoint written from ParamSet
// gives the same logits through Model::forward.
//
// The loss of a sequence is Σ_t weights[t] · (−log p(tokens[t+1] | tokens[..t])): per-token weights
// make the same step serve SFT (weight 1/N on completion tokens, 0 on the prompt) and policy
// gradients (weight = +advantage/N: the loss is Σ w·(−log p), so descending it raises the
// log-probability of tokens with positive advantage and lowers it for negative ones).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "train/params.h"

namespace latent::train {

// A training sequence: weights[t] applies to predicting tokens[t+1]; weights.size() ==
// tokens.size() − 1.
struct Sequence {
  std::vector<int32_t> tokens;
  std::vector<float> weights;
};

// Activations of one sequence kept for the backward pass, and its scratch buffers. Reused across
// calls (grown on demand).
struct Activations {
  struct Layer {
    std::vector<float> xn1, rstd1, q, k, v, p, att, xmid, xn2, rstd2, g, u, a;
  };
  int64_t T = 0;
  ModelDims dims;                     // the shapes the buffers are sized for
  int64_t capacity = 0;               // tokens the buffers hold
  std::vector<std::vector<float>> x;  // residual stream entering layer l; x[n_layer] = final
  std::vector<Layer> layers;
  std::vector<float> xnf, rstdf, logits;
  std::vector<float> rope_cos, rope_sin;  // [T, head_dim/2]
  // backward scratch
  std::vector<float> dx, dxn, dq, dk, dv, datt, dg, du, da, tmp;
  void resize(const ModelDims& d, int64_t T);
};

// logits [T, n_vocab] of tokens (T ≤ n_ctx) into acts.logits. Throws latent::Error for a token
// outside the vocabulary or a sequence longer than n_ctx.
void forward(const ParamSet& params, std::span<const int32_t> tokens, Activations& acts);

// Forward, loss and backward of one sequence: gradients are added to grads (same layout as
// params). Returns the weighted loss Σ_t weights[t]·nll_t. When logprobs is not null it receives
// log p(tokens[t+1]) for every t (what a policy-gradient ratio needs).
double forward_backward(const ParamSet& params, const Sequence& seq, ParamSet& grads,
                        Activations& acts, std::vector<float>* logprobs = nullptr);

// Per-thread state for batched steps.
class BatchWorkspace {
 public:
  BatchWorkspace(const ModelDims& dims, int threads);
  int threads() const { return static_cast<int>(acts_.size()); }

  // Zeroes grads, then accumulates Σ over seqs of forward_backward, the sequences split statically
  // over the threads (each with its own gradient buffer, summed in thread order), so the result is
  // deterministic for a given thread count. Returns the summed weighted loss.
  // When logprobs is not null, (*logprobs)[i] receives forward_backward's log-probabilities of
  // seqs[i].
  double step(const ParamSet& params, std::span<const Sequence> seqs, ParamSet& grads,
              std::vector<std::vector<float>>* logprobs = nullptr);

 private:
  std::vector<Activations> acts_;
  std::vector<ParamSet> thread_grads_;  // threads − 1 extra buffers; thread 0 writes grads
};

}  // namespace latent::train
