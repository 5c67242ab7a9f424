// Supervised sequences from the arithmetic task: <s> question <think>…</think> answer </s>, with
// loss weight on the completion and the closing </s> only (the model is never trained to produce
// questions). Batches are a pure function of (recipe seed, step), so a resumed run sees exactly
// the batches an uninterrupted one would.
#pragma once

#include <cstdint>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "train/arith_task.h"
#include "train/transformer.h"

namespace latent::train {

// Tokens of the prompt as generation sees it: BOS + question (special tokens parsed).
std::vector<int32_t> prompt_tokens(const Tokenizer& tok, const ArithProblem& p);

// One sequence, weights 1 on completion targets and 0 on prompt targets; truncated to max_len
// tokens. Throws latent::Error when the prompt alone does not fit.
Sequence sft_sequence(const Tokenizer& tok, const ArithProblem& p, int32_t max_len);

// `batch` training-split sequences for step `step`, weights scaled by 1/(completion tokens in the
// batch) so the summed loss is the mean per-token loss.
std::vector<Sequence> sft_batch(const Tokenizer& tok, uint64_t seed, int64_t step, int32_t batch,
                                const ArithOptions& task, int32_t max_len);

}  // namespace latent::train
