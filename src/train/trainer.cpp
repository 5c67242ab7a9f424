// The optimizer step and the supervised training loop.
#include "train/trainer.h"

#include <chrono>

#include "train/sft_data.h"

namespace latent::train {

StepResult train_step(ParamSet& params, AdamW& opt, const OptimConfig& optim, BatchWorkspace& ws,
                      ParamSet& grads, std::span<const Sequence> batch,
                      std::vector<std::vector<float>>* logprobs) {
  StepResult r;
  r.loss = ws.step(params, batch, grads, logprobs);
  r.grad_norm = clip_grad_norm(grads, optim.clip_norm);
  r.lr = learning_rate(optim, opt.step());
  opt.update(params, grads, optim, r.lr);
  for (const Sequence& s : batch) r.tokens += static_cast<int64_t>(s.tokens.size());
  return r;
}

SftResult run_sft(const Tokenizer& tok, ParamSet& params, AdamW& opt, const TrainRecipe& recipe,
                  const SftRunOptions& o) {
  using Clock = std::chrono::steady_clock;
  BatchWorkspace ws(params.dims(), o.threads);
  ParamSet grads(params.dims());
  SftResult res;
  const int64_t first = opt.step();
  const int64_t last =
      o.stop_at >= 0 ? std::min(o.stop_at, recipe.optim.total_steps) : recipe.optim.total_steps;
  const auto t0 = Clock::now();
  double callback_s = 0.0;
  while (opt.step() < last) {
    const std::vector<Sequence> batch = sft_batch(
        tok, recipe.seed, opt.step(), recipe.batch,
        ArithOptions{recipe.max_digits, recipe.mixed_order, recipe.mixed_operands}, o.max_len);
    const StepResult s = train_step(params, opt, recipe.optim, ws, grads, batch);
    res.tokens += s.tokens;
    res.last_loss = s.loss;
    res.seconds = std::chrono::duration<double>(Clock::now() - t0).count() - callback_s;
    if (o.save_every > 0 && opt.step() % o.save_every == 0 && opt.step() < last) {
      save_checkpoint(o.out, params, opt, recipe);
      if (o.on_checkpoint) {
        const auto c0 = Clock::now();
        o.on_checkpoint(opt.step());
        callback_s += std::chrono::duration<double>(Clock::now() - c0).count();
      }
    }
    if (o.on_step) {
      SftProgress p;
      p.step = opt.step();
      p.total_steps = recipe.optim.total_steps;
      p.last = s;
      p.tokens_per_s = res.tokens / std::max(res.seconds, 1e-9);
      const double per_step = res.seconds / static_cast<double>(opt.step() - first);
      p.eta_s = per_step * static_cast<double>(last - opt.step());
      o.on_step(p);
    }
  }
  res.steps_done = opt.step() - first;
  save_checkpoint(o.out, params, opt, recipe);
  return res;
}

}  // namespace latent::train
