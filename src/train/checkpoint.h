// Checkpoints. The model is an ordinary llama GGUF (F32 tensors, the task's vocabulary) that
// `latent run -m` and llama.cpp load; it also records the training recipe as latent.train.* keys.
// The optimizer state lives beside it in "<model>.optim", itself a GGUF: the recipe, the step
// count and AdamW's m and v per tensor ("adam_m.<name>", "adam_v.<name>"). Kept out of the model
// file because llama.cpp rejects a model with tensors it does not expect. Both files are written
// to a temporary name and renamed, so an interruption leaves the previous checkpoint intact.
#pragma once

#include <cstdint>
#include <string>

#include "train/optimizer.h"
#include "train/params.h"

namespace latent::train {

// Everything that decides the result of a run besides the thread count.
struct TrainRecipe {
  OptimConfig optim;
  int32_t batch = 16;           // sequences per step
  uint64_t seed = 1;            // initialisation and data
  int32_t max_digits = 3;       // ArithOptions
  bool mixed_order = true;      // ArithOptions; absent from older files, which used the fixed order
  bool mixed_operands = false;  // ArithOptions; absent from older files, which did not swap
};

std::string optimizer_path(const std::string& model_path);

// Writes the model GGUF only; recipe and step (≥ 0) are recorded when given.
void write_model_gguf(const std::string& path, const ParamSet& params,
                      const TrainRecipe* recipe = nullptr, int64_t step = -1);
// Reads a llama GGUF with F32 tensors in ParamSet's layout. Throws latent::Error naming the key or
// tensor that does not fit.
ParamSet read_model_gguf(const std::string& path);

// Model file plus optimizer side file.
void save_checkpoint(const std::string& model_path, const ParamSet& params, const AdamW& opt,
                     const TrainRecipe& recipe);

struct Checkpoint {
  ParamSet params;
  AdamW opt;
  TrainRecipe recipe;
};
Checkpoint load_checkpoint(const std::string& model_path);

}  // namespace latent::train
