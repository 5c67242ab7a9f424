// The training loop: one optimizer step = gradients of a batch of weighted sequences, clipping,
// the scheduled learning rate and an AdamW update. train_step is the reusable core (GRPO builds
// its sequences and per-token advantages and calls the same function); run_sft drives it over the
// arithmetic task with checkpoints and progress reports.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "train/transformer.h"

namespace latent::train {

struct StepResult {
  double loss = 0.0;       // Σ weights·nll over the batch
  double grad_norm = 0.0;  // before clipping
  float lr = 0.0f;
  int64_t tokens = 0;  // tokens run forward and backward
};

// grads and ws are scratch (sized for params); the learning rate is that of step opt.step().
// logprobs, when not null, receives each sequence's log-probabilities at the parameters before
// the update (BatchWorkspace::step).
StepResult train_step(ParamSet& params, AdamW& opt, const OptimConfig& optim, BatchWorkspace& ws,
                      ParamSet& grads, std::span<const Sequence> batch,
                      std::vector<std::vector<float>>* logprobs = nullptr);

struct SftProgress {
  int64_t step = 0, total_steps = 0;  // step: steps done
  StepResult last;
  double tokens_per_s = 0.0;  // since this run (or resume) started
  double eta_s = 0.0;
};

struct SftRunOptions {
  std::string out;  // model path; "<out>.optim" beside it
  int threads = 1;
  int32_t max_len = 256;   // tokens per sequence at most (≤ n_ctx)
  int64_t save_every = 0;  // checkpoint every N steps (0: only at the end)
  int64_t stop_at = -1;    // stop after this many steps in total, as an interruption would (tests)
  std::function<void(const SftProgress&)> on_step;
  // Called after each periodic checkpoint (not the final one) with the step; its time is left out
  // of the throughput (e.g. a held-out evaluation of the checkpoint).
  std::function<void(int64_t step)> on_checkpoint;
};

struct SftResult {
  int64_t steps_done = 0;
  int64_t tokens = 0;
  double seconds = 0.0;  // training only (checkpoint callbacks excluded)
  double last_loss = 0.0;
};

// Trains from opt.step() to recipe.optim.total_steps (or stop_at), writing a checkpoint every
// save_every steps and at the end.
SftResult run_sft(const Tokenizer& tok, ParamSet& params, AdamW& opt, const TrainRecipe& recipe,
                  const SftRunOptions& options);

}  // namespace latent::train
