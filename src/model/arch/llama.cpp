// The llama-family decoder, top to bottom, one kernel call per step (shapes outermost-first, T
// tokens):
//   x = embd[tokens]; per layer: x += Wo·attn(rope(Wq·n(x)), rope(Wk·n(x)), Wv·n(x));
//   x += Wdown·(silu(Wgate·n(x)) ⊙ Wup·n(x)); logits = Wout·n(x).
#include "model/arch/llama.h"

#include <cmath>
#include <cstring>

#include "kernels/kernels.h"

namespace latent {

void forward_llama(const ModelConfig& c, const Weights& w, Workspace& ws,
                   std::span<const TokenId> tokens, std::span<const Pos> pos, KvCache& cache,
                   bool all_logits, float* logits) {
  namespace k = kernels;
  const int64_t T = static_cast<int64_t>(tokens.size());
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
    // q = h·Wqᵀ (+bq), k = h·Wkᵀ (+bk), v = h·Wvᵀ (+bv)
    k::matmul(ws.h.data(), T, L.wq, ws.q.data());
    k::matmul(ws.h.data(), T, L.wk, ws.k.data());
    k::matmul(ws.h.data(), T, L.wv, ws.v.data());
    if (L.bq.data) k::add_bias(ws.q.data(), static_cast<const float*>(L.bq.data), T, NQ);
    if (L.bk.data) k::add_bias(ws.k.data(), static_cast<const float*>(L.bk.data), T, NKV);
    if (L.bv.data) k::add_bias(ws.v.data(), static_cast<const float*>(L.bv.data), T, NKV);
    // rotate q and k by their absolute positions
    k::rope(ws.q.data(), T, c.n_head, hd, pos.data(), rope);
    k::rope(ws.k.data(), T, c.n_head_kv, hd, pos.data(), rope);
    // cache[pos[t]] = (k[t], v[t])
    for (int64_t t = 0; t < T; ++t) {
      std::memcpy(cache.k(l) + pos[t] * cache.stride(), ws.k.data() + t * NKV, NKV * sizeof(float));
      std::memcpy(cache.v(l) + pos[t] * cache.stride(), ws.v.data() + t * NKV, NKV * sizeof(float));
    }
    // attn[t,h] = Σ_j softmax(q·k_j/√hd)·v_j over j ≤ pos[t]
    k::attention(ws.q.data(), cache.k(l), cache.v(l), pos.data(), ws.attn.data(), attn);
    // x += attn·Woᵀ
    k::matmul(ws.attn.data(), T, L.wo, ws.h.data());
    k::add(x, ws.h.data(), T * E, x);
    // h = RMSNorm(x)·ffn_norm; x += (silu(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ
    k::rms_norm(x, static_cast<const float*>(L.ffn_norm.data), T, E, c.rms_eps, ws.h.data());
    k::matmul(ws.h.data(), T, L.ffn_gate, ws.gate.data());
    k::matmul(ws.h.data(), T, L.ffn_up, ws.up.data());
    k::swiglu(ws.gate.data(), ws.up.data(), T * c.n_ff, ws.gate.data());
    k::matmul(ws.gate.data(), T, L.ffn_down, ws.h.data());
    k::add(x, ws.h.data(), T * E, x);
  }

  // logits = RMSNorm(x)·output_norm · Woutᵀ, for every row or only the last
  const int64_t first = all_logits ? 0 : T - 1, rows = T - first;
  k::rms_norm(x + first * E, static_cast<const float*>(w.output_norm.data), rows, E, c.rms_eps,
              ws.logits_in.data());
  k::matmul(ws.logits_in.data(), rows, w.output, logits);
}

}  // namespace latent
