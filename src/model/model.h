// Model: a loaded GGUF (mapped), its config and validated weights, and the forward pass entry
// point. One instance is shared by every sequence; forward() is not re-entrant (it reuses one
// workspace).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/ids.h"
#include "gguf/gguf_reader.h"
#include "kernels/kernels.h"
#include "model/config.h"
#include "model/forward_batch.h"
#include "model/kv_cache.h"
#include "model/paged_kv_cache.h"
#include "model/weights.h"

namespace latent {

// Activation buffers of one forward call, grown on demand and reused.
struct Workspace {
  std::vector<float> x, h, q, k, v, attn, gate, up, logits_in;
  // deepseek2 only (sized by reserve_deepseek2): MLA latent-space buffers and the MoE batch.
  std::vector<float> q_a, kva, q_abs, attn_lat, head_in, head_out, router, route_w, moe_x, moe_y,
      moe_out;
  std::vector<int32_t> route_ids, expert_rows, expert_count;
  std::vector<kernels::MatmulJob> matmul_jobs;  // per-head / per-expert products of one batch
  // Per batch row: its sequence's block table (what kernels::PagedKvView::tables points at).
  std::vector<const int32_t*> token_tables;
  // When set, each MoE layer appends its chosen expert ids [n_tokens, n_expert_used] (tests).
  std::vector<int32_t>* routing_trace = nullptr;
  void reserve(const ModelConfig& c, int64_t n_tokens);
};

class Model {
 public:
  // Maps, validates and wires up the model; throws latent::Error on any problem with the file.
  static std::unique_ptr<Model> load(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const Weights& weights() const { return weights_; }
  const GgufFile& file() const { return file_; }
  int64_t n_params() const;

  // Runs one continuous batch: every token's keys and values are written at (table[pos / B],
  // pos % B) of its sequence's block table in every layer, and each token attends over positions
  // 0..pos of its own sequence. logits receives [batch.logit_rows.size(), n_vocab]. A row's logits
  // are bitwise the same whatever else shares the batch or how its prompt was chunked: every
  // kernel computes a row from that row alone (tests/model/test_forward_batch.cpp). A batch of
  // more than kMaxUbatchTokens whose sequences' positions ascend runs as consecutive micro-batches
  // of that many (the activation buffers stay that size; the logits are the same).
  // Throws latent::Error for mismatched sizes, a seq_index, block id, token id or logit row out of
  // range, a position its table does not cover, or logit rows not ascending.
  void forward(const ForwardBatch& batch, PagedKvCache& cache, float* logits);
  // 128: TinyLlama Q4_0 `bench -p 512` peak RSS 668 → 633 MiB against 613 MiB of file + KV cache;
  // prefill speed unchanged within the host's noise (Q4_0, BF16; packed weights stream per 64
  // activation rows anyway).
  static constexpr int64_t kMaxUbatchTokens = 128;
  // One sequence: tokens (at positions, which must be < cache.n_ctx()) through the model, their
  // keys and values written into cache. logits receives [n_tokens, n_vocab] when all_logits, else
  // [1, n_vocab] for the last token. Throws latent::Error for a token id outside the vocabulary or
  // a position past the cache.
  void forward(std::span<const TokenId> tokens, std::span<const Pos> positions, KvCache& cache,
               bool all_logits, float* logits);
  // Test hook: record MoE routing choices of later forward calls into *trace (nullptr: stop).
  void set_routing_trace(std::vector<int32_t>* trace) { ws_.routing_trace = trace; }

 private:
  explicit Model(GgufFile file);
  void prepare_for_kernels();
  void forward_ubatch(const ForwardBatch& batch, PagedKvCache& cache, float* logits);
  GgufFile file_;
  ModelConfig config_;
  Weights weights_;
  std::shared_ptr<const void> prepared_;  // the repacked weights' buffer weights_ points into
  std::vector<uint8_t> small_tensors_;    // the norms, biases and router, copied out of the file
  Workspace ws_;
  std::vector<int32_t> seq_index_, logit_rows_;  // the single-sequence forward's batch, reused
};

}  // namespace latent
