// `latent run`: generate text from a prompt with one model, streaming only the generated text to
// stdout.
#include <cstdio>
#include <memory>
#include <random>
#include <string>

#include "base/error.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/sampling_options.h"
#include "engine/answer_vote.h"
#include "engine/generate.h"
#include "engine/sequence_loop.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "server/grammar_constraint.h"
#include "tokenizer/tokenizer.h"
#include "train/arith_task.h"
#include "train/grpo.h"

namespace latent::cli {
namespace {

struct RunArgs {
  std::string model;
  std::string prompt;
  int32_t n_predict = 128;
  int32_t n_ctx = 0;
  int threads = 0;
  bool verbose = false;
  int64_t seed = -1;  // -1: a fresh random seed, printed so the run can be repeated
  SamplerParams sampling;
  ConstraintOptions constraint;
  int32_t samples = 1;  // > 1: one request with n = samples (test-time compute)
  std::string vote;     // "majority": extract each sample's answer and vote
};

// --samples N [--vote majority]: N completions of the prompt as one request (they share the
// prompt's KV blocks), each sample's final answer read by the arithmetic task's extractor, and the
// majority answer with its vote counts on stdout. -v also prints every sample.
int run_samples(Model& model, const Tokenizer& tok, CompletionRequest req, int32_t n_ctx,
                const RunArgs& a) {
  req.n = a.samples;
  const uint64_t seed = req.sampling.seed;
  EngineConfig ec;
  ec.n_ctx = n_ctx;
  ec.max_running = std::max(16, a.samples);
  std::vector<std::vector<train::SampledCompletion>> out =
      train::sample_all(model, tok, {std::move(req)}, ec);
  std::vector<std::optional<int64_t>> answers;
  for (size_t i = 0; i < out[0].size(); ++i) {
    const train::SampledCompletion& c = out[0][i];
    answers.push_back(extract_answer(c.text));
    if (a.verbose || a.vote.empty()) {
      std::printf("--- sample %zu (%s) ---\n%s\n", i,
                  std::string(finish_reason_name(c.finish)).c_str(), c.text.c_str());
    }
  }
  if (a.vote.empty()) return 0;
  const VoteResult v = majority_vote(answers);
  if (v.answer) {
    std::printf("%lld\n", static_cast<long long>(*v.answer));
  } else {
    std::printf("(no answer)\n");
  }
  std::fprintf(stderr, "[latent] votes over %d samples:", a.samples);
  for (const auto& [answer, count] : v.counts)
    std::fprintf(stderr, " %lld x%d", static_cast<long long>(answer), count);
  if (v.n_without_answer > 0) std::fprintf(stderr, " | %d without an answer", v.n_without_answer);
  std::fprintf(stderr, " | seed: %llu\n", static_cast<unsigned long long>(seed));
  return 0;
}

int run(const RunArgs& a) {
  if (a.verbose) set_log_level(LogLevel::kInfo);
  kernels::set_num_threads(a.threads);
  auto model = Model::load(model_or_default(a.model));
  auto tokenizer = Tokenizer::from_gguf(model->file());
  std::vector<TokenId> prompt = tokenizer->encode(a.prompt, /*add_special=*/true);
  if (prompt.empty()) {
    throw Error(
        "prompt: the model adds no BOS token, so an empty prompt gives nothing to continue");
  }
  GenerateOptions opt;
  opt.max_tokens = a.n_predict;
  opt.n_ctx = a.n_ctx;
  opt.sampling = a.sampling;
  opt.sampling.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}();
  // The same request generate() builds, plus the grammar when one is asked for.
  CompletionRequest req;
  req.prompt = prompt;
  req.sampling = opt.sampling;
  req.max_tokens = opt.max_tokens;
  const std::string gbnf = constraint_gbnf(a.constraint);
  std::shared_ptr<server::MaskTiming> timing;
  std::unique_ptr<server::GrammarCache> grammars;
  if (!gbnf.empty()) {
    grammars = std::make_unique<server::GrammarCache>(*tokenizer);
    auto constraint = std::make_shared<server::GrammarTokenConstraint>(grammars->get(gbnf));
    timing = std::make_shared<server::MaskTiming>();
    constraint->set_timing(timing);
    req.constraint = std::move(constraint);
  }
  if (a.samples > 1 || !a.vote.empty())
    return run_samples(*model, *tokenizer, std::move(req), resolve_n_ctx(model->config(), opt), a);
  EngineCore core(*model, *tokenizer, single_sequence_engine(model->config(), opt));
  GenerateResult r = run_to_completion(core, std::move(req), [](TokenId, std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  const double pp = r.prompt_seconds > 0 ? r.n_prompt / r.prompt_seconds : 0.0;
  const double tg = r.generate_seconds > 0 ? r.tokens.size() / r.generate_seconds : 0.0;
  std::fprintf(
      stderr,
      "\n[latent] prompt: %d tokens, %.2f tokens/s | generation: %zu tokens, %.2f tokens/s "
      "| stop: %s | seed: %llu | threads: %d\n",
      r.n_prompt, pp, r.tokens.size(), tg, std::string(stop_reason_name(r.stop)).c_str(),
      static_cast<unsigned long long>(opt.sampling.seed), kernels::num_threads());
  if (timing && timing->masks > 0)
    std::fprintf(stderr, "[latent] grammar: %lld masks, %.3f ms per token\n",
                 static_cast<long long>(timing->masks.load()),
                 timing->nanoseconds.load() / 1e6 / static_cast<double>(timing->masks.load()));
  return 0;
}

}  // namespace

Command add_run(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* sub = app.add_subcommand("run", "Generate text from a prompt");
  sub->add_option("-m,--model", a->model, kModelOptionHelp)->check(CLI::ExistingFile);
  sub->add_option("-p,--prompt", a->prompt, "Prompt text (default: empty, i.e. only BOS)");
  sub->add_option("-n,--n-predict", a->n_predict, "Tokens to generate (-1: until EOS)")
      ->capture_default_str();
  sub->add_option("-c,--ctx-size", a->n_ctx, "Context size (0: model's, at most 4096)")
      ->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "CPU threads (0: all)")->capture_default_str();
  add_sampling_options(sub, a->sampling);
  add_constraint_options(sub, a->constraint);
  sub->add_option("-s,--seed", a->seed, "Random seed (-1: random, printed at the end)")
      ->capture_default_str();
  sub->add_flag("-v,--verbose", a->verbose, "Log loading details to stderr (and every sample)");
  sub->add_option("--samples", a->samples, "Completions to sample (1-16; seeds seed..seed+N-1)")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  sub->add_option("--vote", a->vote, "Print the majority final answer of the samples")
      ->check(CLI::IsMember({"majority"}));
  return [a] { return run(*a); };
}

}  // namespace latent::cli
