// Greedy held-out evaluation with the engine.
#include "train/evaluate.h"

#include "engine/generate.h"
#include "train/arith_task.h"
#include "train/sft_data.h"

namespace latent::train {

EvalResult evaluate_held_out(Model& model, const Tokenizer& tok, int n, uint64_t seed,
                             int32_t max_digits, int32_t max_tokens) {
  EvalResult r;
  ArithGenerator gen(seed, Split::kHeldOut, ArithOptions{max_digits});
  GenerateOptions opt;
  opt.max_tokens = max_tokens;
  opt.n_ctx = model.config().n_ctx_train;
  opt.sampling.temperature = 0.0f;  // greedy
  for (int i = 0; i < n; ++i) {
    const ArithProblem p = gen.next();
    const std::vector<int32_t> prompt = prompt_tokens(tok, p);
    if (static_cast<int32_t>(prompt.size()) + max_tokens > opt.n_ctx)
      opt.max_tokens = std::max(1, opt.n_ctx - static_cast<int32_t>(prompt.size()));
    const GenerateResult g = generate(model, tok, prompt, opt, nullptr);
    opt.max_tokens = max_tokens;
    const std::string text = tok.decode(g.tokens);
    const std::optional<int64_t> answer = extract_answer(text);
    ++r.n;
    if (!answer) ++r.no_answer;
    if (answer && *answer == p.answer) ++r.correct;
    if (r.examples.size() < 3) r.examples.push_back(p.question + " -> " + text);
  }
  return r;
}

}  // namespace latent::train
