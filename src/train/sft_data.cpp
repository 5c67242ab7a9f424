// Building supervised sequences and batches.
#include "train/sft_data.h"

#include "base/error.h"

namespace latent::train {

std::vector<int32_t> prompt_tokens(const Tokenizer& tok, const ArithProblem& p) {
  return tok.encode(p.question, /*add_special=*/true, /*parse_special=*/true);
}

Sequence sft_sequence(const Tokenizer& tok, const ArithProblem& p, int32_t max_len) {
  Sequence s;
  s.tokens = prompt_tokens(tok, p);
  const size_t n_prompt = s.tokens.size();
  if (n_prompt + 1 > static_cast<size_t>(max_len)) {
    throw Error::field("training data", "prompt length",
                       "fewer than --seq-len " + std::to_string(max_len) + " tokens",
                       std::to_string(n_prompt) + " tokens for '" + p.question + "'");
  }
  const std::vector<int32_t> completion = tok.encode(p.completion(), false, true);
  s.tokens.insert(s.tokens.end(), completion.begin(), completion.end());
  s.tokens.push_back(tok.eos());
  if (s.tokens.size() > static_cast<size_t>(max_len)) s.tokens.resize(static_cast<size_t>(max_len));
  // weights[t] is for predicting tokens[t+1]: the completion starts at index n_prompt.
  s.weights.assign(s.tokens.size() - 1, 0.0f);
  for (size_t t = n_prompt - 1; t < s.weights.size(); ++t) s.weights[t] = 1.0f;
  return s;
}

std::vector<Sequence> sft_batch(const Tokenizer& tok, uint64_t seed, int64_t step, int32_t batch,
                                const ArithOptions& task, int32_t max_len) {
  // One generator per step, seeded from (seed, step): no state carried between steps. The
  // generator scrambles its seed, so neighbouring steps draw unrelated problems.
  ArithGenerator gen((seed << 32) ^ static_cast<uint64_t>(step), Split::kTrain, task);
  std::vector<Sequence> seqs;
  double n_weighted = 0.0;
  for (int32_t i = 0; i < batch; ++i) {
    seqs.push_back(sft_sequence(tok, gen.next(), max_len));
    for (float w : seqs.back().weights) n_weighted += w;
  }
  const float scale = n_weighted > 0 ? static_cast<float>(1.0 / n_weighted) : 0.0f;
  for (Sequence& s : seqs)
    for (float& w : s.weights) w *= scale;
  return seqs;
}

}  // namespace latent::train
