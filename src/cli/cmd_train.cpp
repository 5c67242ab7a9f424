// `latent train`: train a llama-architecture model from scratch on the generated arithmetic task
// (train/), writing GGUF checkpoints that `latent run -m` loads, with a one-line progress bar on
// stderr, then report throughput against the FP32 peak and greedy held-out accuracy measured with
// latent's own engine on the written file.
#include <cmath>
#include <cstdio>
#include <string>

#include "base/error.h"
#include "cli/commands.h"
#include "kernels/kernels.h"
#include "kernels/peak.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "train/arith_vocab.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/trainer.h"

namespace latent::cli {
namespace {

struct TrainArgs {
  std::string out;
  std::string config = "small";
  int32_t n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0;  // 0: the preset's
  int64_t steps = 1000;
  int32_t batch = 16;
  int32_t seq_len = 256;
  float lr = 1e-3f;
  int64_t warmup = 100;
  int64_t seed = 1;
  int32_t max_digits = 3;
  bool fixed_order = false;
  bool mixed_operands = false;
  bool resume = false;
  int threads = 0;
  int64_t save_every = 100;
  int eval = 200;
  int64_t eval_every = 0;
  int eval_tokens = 200;
};

std::string duration(double s) {
  char b[32];
  const long t = std::lround(std::max(0.0, s));
  if (t >= 3600) {
    std::snprintf(b, sizeof b, "%ldh%02ldm", t / 3600, t / 60 % 60);
  } else {
    std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
  }
  return b;
}

void print_progress(const train::SftProgress& p) {
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(kWidth * p.step / std::max<int64_t>(1, p.total_steps));
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r[%s] step %lld/%lld  loss %.4f  lr %.2e  |g| %.2f  %.0f tok/s  ETA %s ",
               bar.c_str(), static_cast<long long>(p.step), static_cast<long long>(p.total_steps),
               p.last.loss, p.last.lr, p.last.grad_norm, p.tokens_per_s, duration(p.eta_s).c_str());
  std::fflush(stderr);
}

// A new model from the preset (with any overridden dimensions) and the recipe from the flags.
train::Checkpoint fresh_start(const TrainArgs& a, int32_t n_vocab) {
  train::ModelDims d = train::preset_dims(a.config, n_vocab);
  auto over = [](int32_t& field, int32_t v) {
    if (v > 0) field = v;
  };
  over(d.n_embd, a.n_embd), over(d.n_layer, a.n_layer), over(d.n_head, a.n_head);
  over(d.n_head_kv, a.n_head_kv), over(d.n_ff, a.n_ff);
  d.n_ctx = a.seq_len;
  if (a.warmup < 0 || a.steps <= 0 || a.batch <= 0) {
    throw Error::field(
        "latent train", "--steps/--batch/--warmup", "positive (warmup >= 0)",
        std::to_string(a.steps) + "/" + std::to_string(a.batch) + "/" + std::to_string(a.warmup));
  }
  train::ParamSet params(d);
  params.init_random(static_cast<uint64_t>(a.seed));
  train::TrainRecipe recipe;
  recipe.optim.lr = a.lr;
  recipe.optim.warmup = a.warmup;
  recipe.optim.total_steps = a.steps;
  recipe.batch = a.batch;
  recipe.seed = static_cast<uint64_t>(a.seed);
  recipe.max_digits = a.max_digits;
  recipe.mixed_order = !a.fixed_order;
  recipe.mixed_operands = a.mixed_operands;
  train::AdamW opt(params);
  return train::Checkpoint{std::move(params), std::move(opt), recipe};
}

int run(const TrainArgs& a) {
  kernels::set_num_threads(a.threads);
  const int threads = kernels::num_threads();
  const VocabData vocab_data = train::arith_vocab();
  const auto tok = Tokenizer::from_vocab(vocab_data);

  train::Checkpoint st = a.resume ? train::load_checkpoint(a.out) : fresh_start(a, tok->n_vocab());
  if (a.resume) {
    std::fprintf(stderr, "resuming %s at step %lld of %lld (recipe from the checkpoint)\n",
                 a.out.c_str(), static_cast<long long>(st.opt.step()),
                 static_cast<long long>(st.recipe.optim.total_steps));
  }
  train::ParamSet& params = st.params;
  train::AdamW& opt = st.opt;
  const train::TrainRecipe& recipe = st.recipe;
  const train::ModelDims& d = params.dims();
  std::fprintf(stderr,
               "model: %lld parameters (n_embd %d, n_layer %d, n_head %d/%d, n_ff %d, vocab %d, "
               "ctx %d) | batch %d | lr %.1e | warmup %lld | %d threads\n",
               static_cast<long long>(params.n_params()), d.n_embd, d.n_layer, d.n_head,
               d.n_head_kv, d.n_ff, d.n_vocab, d.n_ctx, recipe.batch, recipe.optim.lr,
               static_cast<long long>(recipe.optim.warmup), threads);

  train::SftRunOptions o;
  o.out = a.out;
  o.threads = threads;
  o.max_len = d.n_ctx;
  o.save_every = a.save_every;
  o.on_step = print_progress;
  // Held-out accuracy of a checkpoint, through latent's engine on the file just written.
  auto evaluate = [&](int n) {
    auto model = Model::load(a.out);
    const auto file_tok = Tokenizer::from_gguf(model->file());
    return train::evaluate_held_out(*model, *file_tok, n, recipe.seed, recipe.max_digits,
                                    a.eval_tokens);
  };
  if (a.eval_every > 0) {
    o.save_every = a.eval_every;
    o.on_checkpoint = [&](int64_t step) {
      const train::EvalResult e = evaluate(a.eval);
      std::fprintf(stderr, "\nstep %lld: held-out accuracy %.1f%% (%d/%d, %d without an answer)\n",
                   static_cast<long long>(step), 100.0 * e.accuracy(), e.correct, e.n, e.no_answer);
    };
  }
  const train::SftResult r = train::run_sft(*tok, params, opt, recipe, o);
  std::fprintf(stderr, "\n");

  // Throughput against the machine's FP32 peak: training costs ≈ 6·params FLOPs per token
  // (2 forward, 4 backward), attention not counted.
  const double tps = r.tokens / std::max(r.seconds, 1e-9);
  const double peak = kernels::measure_peak(kernels::PeakKind::kFp32Fma, threads, 0.3);
  const double flops = 6.0 * static_cast<double>(params.n_params()) * tps;
  std::printf(
      "trained %lld steps, %lld tokens in %.1f s: %.0f tokens/s = %.2f GFLOP/s (6·N·t/s) "
      "= %.1f%% of the FP32 peak %.1f GFLOP/s (%s, %d threads); last loss %.4f\n",
      static_cast<long long>(r.steps_done), static_cast<long long>(r.tokens), r.seconds, tps,
      flops / 1e9, peak > 0 ? 100.0 * flops / peak : 0.0, peak / 1e9,
      kernels::peak_instruction(kernels::PeakKind::kFp32Fma), threads, r.last_loss);
  std::printf("wrote %s (+ %s)\n", a.out.c_str(), train::optimizer_path(a.out).c_str());

  if (a.eval > 0) {
    const train::EvalResult e = evaluate(a.eval);
    for (const std::string& ex : e.examples) std::printf("  %s\n", ex.c_str());
    std::printf(
        "held-out accuracy (greedy, %d problems): %.1f%% (%d correct, %d without an "
        "answer)\n",
        e.n, 100.0 * e.accuracy(), e.correct, e.no_answer);
  }
  return 0;
}

}  // namespace

Command add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* sub = app.add_subcommand(
      "train", "Train a small llama model on generated arithmetic with chain-of-thought");
  sub->add_option("-o,--out", a->out, "model GGUF to write (optimizer state: <out>.optim)")
      ->required();
  sub->add_option("--config", a->config, "model size preset: tiny | small")->capture_default_str();
  sub->add_option("--n-embd", a->n_embd, "override the preset's embedding width");
  sub->add_option("--n-layer", a->n_layer, "override the preset's layer count");
  sub->add_option("--n-head", a->n_head, "override the preset's query heads");
  sub->add_option("--n-head-kv", a->n_head_kv, "override the preset's key/value heads");
  sub->add_option("--n-ff", a->n_ff, "override the preset's feed-forward width");
  sub->add_option("--steps", a->steps, "optimizer steps in total")->capture_default_str();
  sub->add_option("--batch", a->batch, "sequences per step")->capture_default_str();
  sub->add_option("--seq-len", a->seq_len, "longest sequence (the model's context length)")
      ->capture_default_str();
  sub->add_option("--lr", a->lr, "peak learning rate (cosine to 10%)")->capture_default_str();
  sub->add_option("--warmup", a->warmup, "linear warm-up steps")->capture_default_str();
  sub->add_option("--seed", a->seed, "initialisation and data seed")->capture_default_str();
  sub->add_flag("--fixed-order", a->fixed_order,
                "write every reasoning step's operands in one order (default: random per step)");
  sub->add_flag("--mixed-operands", a->mixed_operands,
                "write half the + and * reasoning for the operands the other way round");
  sub->add_option("--max-digits", a->max_digits, "operand digits at most (1-9)")
      ->capture_default_str();
  sub->add_flag("--resume", a->resume,
                "continue from --out and <out>.optim with their recipe (only --threads, "
                "--save-every and --eval apply)");
  sub->add_option("-t,--threads", a->threads, "CPU threads (0: all)")->capture_default_str();
  sub->add_option("--save-every", a->save_every, "checkpoint every N steps (0: only at the end)")
      ->capture_default_str();
  sub->add_option("--eval", a->eval, "held-out problems answered greedily at the end (0: none)")
      ->capture_default_str();
  sub->add_option("--eval-every", a->eval_every,
                  "also checkpoint and evaluate every N steps (excluded from tokens/s)");
  sub->add_option("--eval-tokens", a->eval_tokens, "tokens generated per problem at most")
      ->capture_default_str();
  return [a] { return run(*a); };
}

}  // namespace latent::cli
