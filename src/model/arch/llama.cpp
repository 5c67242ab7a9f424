// The llama-family decoder, top to bottom, one kernel call per step (shapes outermost-first, T
// tokens):
//   x = embd[tokens]; per layer: x += Wo·attn(rope(Wq·n(x)), rope(Wk·n(x)), Wv·n(x));
//   x += Wdown·(silu(Wgate·n(x)) ⊙ Wup·n(x)); logits = Wout·n(x).
#include "model/arch/llama.h"

#include <cmath>
#include <cstring>

#include "kernels/kernels.h"

namespace latent {

void forward_llama(const ModelConfig& c, const Weights& w, Workspace& ws, const ForwardBatch& batch,
                   PagedKvCache& cache, float* logits) {
  namespace k = kernels;
  const std::span<const TokenId> tokens = batch.tokens;
  const std::span<const Pos> pos = batch.positions;
  const int64_t T = static_cast<int64_t>(tokens.size());
  const int32_t B = cache.block_size();
  const int64_t E = c.n_embd, hd = c.head_dim_k;
  const int64_t NQ = int64_t{c.n_head} * hd, NKV = int64_t{c.n_head_kv} * hd;
  float* x = ws.x.data();

  // x[T,E] = token_embd[tokens]
  k::get_rows(w.token_embd, tokens.data(), T, x);

  const k::RopeParams rope{c.rope_mode, c.n_rot, c.rope_freq_base, c.rope_freq_scale,
                           static_cast<const float*>(w.rope_freqs.data)};
  k::AttentionParams attn{T,  c.n_head,       c.n_head_kv,
                          hd, cache.stride(), 1.0f / std::sqrt(float(hd))};

  for (int32_t l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = w.layers[l];
    // h = RMSNorm(x)·attn_norm
    k::rms_norm(x, static_cast<const float*>(L.attn_norm.data), T, E, c.rms_eps, ws.h.data());
    // q = h·Wqᵀ (+bq), k = h·Wkᵀ (+bk), v = h·Wvᵀ (+bv): three products of h in one batch
    const k::MatmulJob qkv[] = {{ws.h.data(), T, &L.wq, ws.q.data()},
                                {ws.h.data(), T, &L.wk, ws.k.data()},
                                {ws.h.data(), T, &L.wv, ws.v.data()}};
    k::matmul_batch(qkv);
    if (L.bq.data) k::add_bias(ws.q.data(), static_cast<const float*>(L.bq.data), T, NQ);
    if (L.bk.data) k::add_bias(ws.k.data(), static_cast<const float*>(L.bk.data), T, NKV);
    if (L.bv.data) k::add_bias(ws.v.data(), static_cast<const float*>(L.bv.data), T, NKV);
    // rotate q and k by their absolute positions
    k::rope(ws.q.data(), T, c.n_head, hd, pos.data(), rope);
    k::rope(ws.k.data(), T, c.n_head_kv, hd, pos.data(), rope);
    // cache row (table[pos / B], pos % B) of t's sequence = (k[t], v[t])
    for (int64_t t = 0; t < T; ++t) {
      const int32_t block = ws.token_tables[t][pos[t] / B];
      const int64_t row = (pos[t] % B) * cache.stride();
      std::memcpy(cache.k(l, block) + row, ws.k.data() + t * NKV, NKV * sizeof(float));
      std::memcpy(cache.v(l, block) + row, ws.v.data() + t * NKV, NKV * sizeof(float));
    }
    // attn[t,h] = Σ_j softmax(q·k_j/√hd)·v_j over j ≤ pos[t] of t's sequence
    const k::PagedKvView kv{cache.k(l, 0), cache.v(l, 0), ws.token_tables.data(), B};
    k::attention(ws.q.data(), kv, pos.data(), ws.attn.data(), attn);
    // x += attn·Woᵀ
    k::matmul(ws.attn.data(), T, L.wo, ws.h.data());
    k::add(x, ws.h.data(), T * E, x);
    // h = RMSNorm(x)·ffn_norm; x += (silu(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ
    k::rms_norm(x, static_cast<const float*>(L.ffn_norm.data), T, E, c.rms_eps, ws.h.data());
    const k::MatmulJob gate_up[] = {{ws.h.data(), T, &L.ffn_gate, ws.gate.data()},
                                    {ws.h.data(), T, &L.ffn_up, ws.up.data()}};
    k::matmul_batch(gate_up);
    k::swiglu(ws.gate.data(), ws.up.data(), T * c.n_ff, ws.gate.data());
    k::matmul(ws.gate.data(), T, L.ffn_down, ws.h.data());
    k::add(x, ws.h.data(), T * E, x);
  }

  // logits = RMSNorm(x)·output_norm · Woutᵀ for the wanted rows only
  const int64_t R = static_cast<int64_t>(batch.logit_rows.size());
  for (int64_t i = 0; i < R; ++i)
    k::rms_norm(x + batch.logit_rows[i] * E, static_cast<const float*>(w.output_norm.data), 1, E,
                c.rms_eps, ws.logits_in.data() + i * E);
  if (R > 0) k::matmul(ws.logits_in.data(), R, w.output, logits);
}

}  // namespace latent
