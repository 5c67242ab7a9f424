// Held-out accuracy through latent's own engine: the checkpoint is loaded with Model::load like
// any GGUF, each held-out question is answered greedily with latent::generate, and the answer
// extracted from the completion is compared with the true one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace latent::train {

struct EvalResult {
  int n = 0;
  int correct = 0;
  int no_answer = 0;  // completions the extractor found no answer in
  double accuracy() const { return n ? static_cast<double>(correct) / n : 0.0; }
  std::vector<std::string> examples;  // the first few "question → completion" lines
};

// n held-out problems from ArithGenerator(seed, kHeldOut, {max_digits}), greedy, at most
// max_tokens generated each.
EvalResult evaluate_held_out(Model& model, const Tokenizer& tok, int n, uint64_t seed,
                             int32_t max_digits, int32_t max_tokens);

}  // namespace latent::train
