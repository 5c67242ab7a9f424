// Model loading and the input checks around the forward pass; the layer math is in arch/.
#include "model/model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "base/error.h"
#include "kernels/kernels.h"
#include "model/arch/deepseek2.h"
#include "model/arch/llama.h"

namespace latent {

void Workspace::reserve(const ModelConfig& c, int64_t t) {
  if (c.arch == Arch::kDeepseek2) {
    reserve_deepseek2(c, t, *this);
    return;
  }
  auto grow = [](std::vector<float>& buf, int64_t n) {
    if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  };
  const int64_t nq = int64_t{c.n_head} * c.head_dim_k, nkv = int64_t{c.n_head_kv} * c.head_dim_k;
  grow(x, t * c.n_embd);
  grow(h, t * std::max<int64_t>(c.n_embd, nq));
  grow(q, t * nq);
  grow(k, t * nkv);
  grow(v, t * nkv);
  grow(attn, t * nq);
  grow(gate, t * c.n_ff);
  grow(up, t * c.n_ff);
  grow(logits_in, t * c.n_embd);
}

Model::Model(GgufFile file) : file_(std::move(file)) {
  config_ = read_model_config(file_);
  weights_ = load_weights(file_, config_);
  prepare_for_kernels();
}

// Every matmul weight in the kernels' preferred layout and place (kernels::prepare_weights, one
// huge-page buffer for all); the mapped pages of each original are handed back to the page cache
// as soon as it is copied (re-read on touch). deepseek2's per-head and per-expert slices are
// prepared one by one: each is a matrix of its own to matmul. The vectors the forward reads every
// token (norms, biases, the router) are copied out too, so that after load nothing of the mapping
// but token_embd's rows is touched: the page cache holds the file in large folios (up to 2 MiB),
// and a read of an 8 KiB norm maps its whole folio, the neighbouring matrices' released pages
// included (~30 MiB back in RSS for TinyLlama Q4_0 before this).
void Model::prepare_for_kernels() {
  std::vector<TensorView*> all, small;
  for (LayerWeights& l : weights_.layers) {
    for (TensorView* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down})
      all.push_back(t);
    for (TensorView* t : {&l.attn_norm, &l.bq, &l.bk, &l.bv, &l.ffn_norm}) small.push_back(t);
  }
  for (Deepseek2Layer& l : weights_.ds.layers) {
    for (TensorView* t : {&l.wq, &l.wq_a, &l.wq_b, &l.wkv_a, &l.wo, &l.ffn_gate, &l.ffn_up,
                          &l.ffn_down, &l.shexp_gate, &l.shexp_up, &l.shexp_down})
      all.push_back(t);
    for (auto* slices : {&l.k_b, &l.v_b, &l.exp_gate, &l.exp_up, &l.exp_down})
      for (TensorView& t : *slices) all.push_back(&t);
    for (TensorView* t :
         {&l.attn_norm, &l.q_a_norm, &l.kv_a_norm, &l.ffn_norm, &l.gate_inp, &l.exp_probs_b})
      small.push_back(t);
  }
  if (!weights_.tied_output) all.push_back(&weights_.output);
  small.push_back(&weights_.output_norm);
  small.push_back(&weights_.rope_freqs);

  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  std::vector<std::pair<uintptr_t, uintptr_t>> released;  // whole pages inside each original
  auto release = [&](const TensorView& orig) {
    const auto begin = reinterpret_cast<uintptr_t>(orig.data);
    const uintptr_t lo = (begin + page - 1) / page * page;
    const uintptr_t hi = (begin + static_cast<uintptr_t>(orig.nbytes())) / page * page;
    if (hi <= lo) return;
    released.emplace_back(lo, hi);
    madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
  };
  prepared_ = kernels::prepare_weights(all, release);

  size_t bytes = 0;
  for (const TensorView* t : small)
    if (t->data) bytes += (static_cast<size_t>(t->nbytes()) + 63) / 64 * 64;
  small_tensors_.resize(bytes);
  size_t at = 0;
  for (TensorView* t : small) {
    if (!t->data) continue;
    const TensorView orig = *t;
    std::memcpy(small_tensors_.data() + at, orig.data, static_cast<size_t>(orig.nbytes()));
    t->data = small_tensors_.data() + at;
    at += (static_cast<size_t>(orig.nbytes()) + 63) / 64 * 64;
    release(orig);
  }
  // Once more: packing the start of one matrix mapped the folio holding the end of the previous.
  for (const auto& [lo, hi] : released)
    madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

std::unique_ptr<Model> Model::load(const std::string& path) {
  return std::unique_ptr<Model>(new Model(GgufFile::open(path)));
}

int64_t Model::n_params() const {
  int64_t n = 0;
  for (const auto& t : file_.tensors()) {
    int64_t e = 1;
    for (int i = 0; i < t.n_dims; ++i) e *= t.shape[i];
    n += e;
  }
  return n;
}

namespace {

std::string num(int64_t v) {
  return std::to_string(v);
}

// Every check of a batch before any memory is touched, so a bad request fails without leaving
// half-written cache rows behind.
void validate_batch(const ModelConfig& c, const ForwardBatch& b, const PagedKvCache& cache) {
  const size_t T = b.tokens.size();
  if (b.positions.size() != T || b.seq_index.size() != T)
    throw Error("forward batch: expected one position and one seq_index per token, found " +
                num(T) + " tokens, " + num(b.positions.size()) + " positions and " +
                num(b.seq_index.size()) + " seq_index entries");
  const int64_t n_seq = static_cast<int64_t>(b.block_tables.size());
  for (int64_t s = 0; s < n_seq; ++s) {
    for (int32_t id : b.block_tables[s]) {
      if (id < 0 || id >= cache.n_blocks())
        throw Error("block table of sequence " + num(s) + ": expected block ids in [0, " +
                    num(cache.n_blocks()) + "), found " + num(id));
    }
  }
  for (size_t i = 0; i < T; ++i) {
    if (b.tokens[i] < 0 || b.tokens[i] >= c.n_vocab)
      throw Error("token " + num(i) + ": expected an id in [0, " + num(c.n_vocab) + "), found " +
                  num(b.tokens[i]));
    if (b.seq_index[i] < 0 || b.seq_index[i] >= n_seq)
      throw Error("seq_index of token " + num(i) + ": expected a sequence in [0, " + num(n_seq) +
                  "), found " + num(b.seq_index[i]));
    const int64_t covered =
        static_cast<int64_t>(b.block_tables[b.seq_index[i]].size()) * cache.block_size();
    if (b.positions[i] < 0 || b.positions[i] >= covered)
      throw Error("position of token " + num(i) + ": expected a position in [0, " + num(covered) +
                  ") covered by the block table of sequence " + num(b.seq_index[i]) + ", found " +
                  num(b.positions[i]));
  }
  for (size_t i = 0; i < b.logit_rows.size(); ++i) {
    const int32_t r = b.logit_rows[i];
    if (r < 0 || static_cast<size_t>(r) >= T)
      throw Error("logit row " + num(i) + ": expected a batch row in [0, " + num(T) + "), found " +
                  num(r));
    if (i > 0 && r <= b.logit_rows[i - 1])
      throw Error("logit row " + num(i) + ": expected rows in ascending order, found " + num(r) +
                  " after " + num(b.logit_rows[i - 1]));
  }
}

// Whether each sequence's tokens come in ascending positions, so that splitting the batch in order
// never makes a token wait for the K/V row of an earlier position in a later part.
bool positions_ascend(const ForwardBatch& b) {
  std::vector<Pos> last(b.block_tables.size(), -1);
  for (size_t i = 0; i < b.tokens.size(); ++i) {
    Pos& l = last[static_cast<size_t>(b.seq_index[i])];
    if (b.positions[i] <= l) return false;
    l = b.positions[i];
  }
  return true;
}

}  // namespace

void Model::forward(const ForwardBatch& batch, PagedKvCache& cache, float* logits) {
  validate_batch(config_, batch, cache);
  if (cache.n_layer() != config_.n_layer || cache.stride() != config_.cache_k_width() ||
      cache.v_stride() != config_.cache_v_width())
    throw Error("KV cache: expected the shape of this model's cache (" + num(config_.n_layer) +
                " layers, row widths " + num(config_.cache_k_width()) + "/" +
                num(config_.cache_v_width()) + "), found " + num(cache.n_layer()) +
                " layers, row widths " + num(cache.stride()) + "/" + num(cache.v_stride()));
  const int64_t T = static_cast<int64_t>(batch.tokens.size());
  if (T == 0) return;
  if (T > kMaxUbatchTokens && positions_ascend(batch)) {
    // Micro-batches in order, each through all layers: a later one reads the K/V rows the earlier
    // ones wrote, as in a chunked prefill. Logit rows ascend, so each one's logits are contiguous.
    std::vector<int32_t> rows;
    size_t next_row = 0;
    for (int64_t c0 = 0; c0 < T; c0 += kMaxUbatchTokens) {
      const int64_t n = std::min(kMaxUbatchTokens, T - c0);
      const size_t first_row = next_row;
      rows.clear();
      for (; next_row < batch.logit_rows.size() && batch.logit_rows[next_row] < c0 + n; ++next_row)
        rows.push_back(static_cast<int32_t>(batch.logit_rows[next_row] - c0));
      const auto c = static_cast<size_t>(c0), len = static_cast<size_t>(n);
      const ForwardBatch part{batch.tokens.subspan(c, len), batch.positions.subspan(c, len),
                              batch.seq_index.subspan(c, len), batch.block_tables, rows};
      forward_ubatch(part, cache, logits + first_row * static_cast<size_t>(config_.n_vocab));
    }
    return;
  }
  forward_ubatch(batch, cache, logits);
}

void Model::forward_ubatch(const ForwardBatch& batch, PagedKvCache& cache, float* logits) {
  const int64_t T = static_cast<int64_t>(batch.tokens.size());
  ws_.reserve(config_, T);
  ws_.token_tables.resize(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t)
    ws_.token_tables[t] = batch.block_tables[batch.seq_index[t]].data();
  if (config_.arch == Arch::kDeepseek2) {
    forward_deepseek2(config_, weights_, ws_, batch, cache, logits);
  } else {
    forward_llama(config_, weights_, ws_, batch, cache, logits);
  }
}

void Model::forward(std::span<const TokenId> tokens, std::span<const Pos> positions, KvCache& cache,
                    bool all_logits, float* logits) {
  if (tokens.size() != positions.size())
    throw Error("forward: expected one position per token, found " + num(tokens.size()) +
                " tokens and " + num(positions.size()) + " positions");
  if (tokens.empty()) return;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (positions[i] < 0 || positions[i] >= cache.n_ctx())
      throw Error("position of token " + num(i) + ": expected < context size " +
                  num(cache.n_ctx()) + ", found " + num(positions[i]));
  }
  // One sequence whose table is the identity; logit rows are all rows or the last.
  const int32_t T = static_cast<int32_t>(tokens.size());
  seq_index_.assign(static_cast<size_t>(T), 0);
  logit_rows_.clear();
  for (int32_t r = all_logits ? 0 : T - 1; r < T; ++r) logit_rows_.push_back(r);
  const std::span<const int32_t> table = cache.block_table();
  const ForwardBatch batch{tokens, positions, seq_index_, std::span(&table, 1), logit_rows_};
  forward(batch, cache.paged(), logits);
}

}  // namespace latent
