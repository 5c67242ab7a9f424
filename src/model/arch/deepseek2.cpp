// The deepseek2 decoder, top to bottom (outermost-first shapes; T tokens, H heads, L = kv_lora,
// R = qk_rope, W = L + R). Per layer, multi-head latent attention (DeepSeek-V2 §2.1, absorbed):
//   q = Wq·n(x) or Wq_b·n(Wq_a·n(x)), per head [q_nope | rope(q_r)];
//   [c | k_r] = Wkv_a·n(x), c = n(c), k_r = rope(k_r); the token's cache row is [c | k_r];
//   q_lat,h = W_UK,hᵀ·q_nope,h;  a_j = softmax_j(s·[q_lat,h | q_r,h]·[c_j | k_r,j]);
//   o_h = W_UV,h·Σ_j a_j·c_j;  x += Wo·[o_1 … o_H];
// then x += FFN(n(x)): dense SwiGLU in the first layers, else routed experts + shared experts.
#include "model/arch/deepseek2.h"

#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"

namespace latent {
namespace {

namespace k = kernels;

const float* f32(const TensorView& t) {
  return static_cast<const float*>(t.data);
}

template <typename T>
T* grow(std::vector<T>& buf, int64_t n) {
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

// out[t, 0..n) = in[t·in_stride + 0..n) for T rows (gathers a strided slice into a dense matrix).
void copy_rows(const float* in, int64_t in_stride, int64_t rows, int64_t n, float* out,
               int64_t out_stride) {
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(out + r * out_stride, in + r * in_stride, static_cast<size_t>(n) * sizeof(float));
}

// Multi-head latent attention of one layer on h = n(x) [T, E]; writes Wo·o into ws.h.
void mla_attention(const ModelConfig& c, const Deepseek2Layer& L, Workspace& ws, int64_t T,
                   const Pos* pos, PagedKvCache& cache, int32_t layer) {
  const Deepseek2Config& d = c.ds;
  const int64_t H = c.n_head, nope = d.qk_nope, R = d.qk_rope, qk = nope + R;
  const int64_t Lat = d.kv_lora_rank, W = Lat + R, vd = d.v_head_dim;
  float *q = ws.q.data(), *kva = ws.kva.data(), *h = ws.h.data();
  // q[T, H, nope+R] = h·Wqᵀ, or through the low-rank path h·Wq_aᵀ → RMSNorm → ·Wq_bᵀ;
  // kva[T, W] = h·Wkv_aᵀ = [c | k_r] (the two products of h in one batch); c = RMSNorm(c)·kv_a_norm
  if (d.q_lora_rank > 0) {
    const k::MatmulJob jobs[] = {{h, T, &L.wq_a, ws.q_a.data()}, {h, T, &L.wkv_a, kva}};
    k::matmul_batch(jobs);
    k::rms_norm(ws.q_a.data(), f32(L.q_a_norm), T, d.q_lora_rank, c.rms_eps, ws.q_a.data());
    k::matmul(ws.q_a.data(), T, L.wq_b, q);
  } else {
    const k::MatmulJob jobs[] = {{h, T, &L.wq, q}, {h, T, &L.wkv_a, kva}};
    k::matmul_batch(jobs);
  }
  for (int64_t t = 0; t < T; ++t)
    k::rms_norm(kva + t * W, f32(L.kv_a_norm), 1, Lat, c.rms_eps, kva + t * W);
  // rotate the rope parts only (adjacent pairs): q[t, h, nope..qk), kva[t, Lat..W)
  const k::RopeParams rope{.mode = c.rope_mode,
                           .n_rot = d.qk_rope,
                           .freq_base = c.rope_freq_base,
                           .freq_scale = c.rope_freq_scale,
                           .ext_factor = d.yarn_ext_factor,
                           .yarn_low = d.yarn_low,
                           .yarn_high = d.yarn_high,
                           .mscale = d.rope_mscale};
  k::rope(q + nope, T, H, qk, pos, rope);
  k::rope(kva + Lat, T, 1, W, pos, rope);
  // cache[pos[t]] = [c | k_r]: W floats per token and layer, shared by every head
  const int32_t B = cache.block_size();
  for (int64_t t = 0; t < T; ++t) {
    float* row = cache.k(layer, ws.token_tables[t][pos[t] / B]) + (pos[t] % B) * W;
    std::memcpy(row, kva + t * W, static_cast<size_t>(W) * sizeof(float));
  }
  // q_abs[t, h] = [q_nope,h·W_UK,h | q_rope,h]: W_UK absorbed, the query lives in latent space.
  // The H per-head products run as one batch on [H, T, ·] gathers of their inputs and outputs.
  float *q_abs = ws.q_abs.data(), *in = ws.head_in.data(), *out = ws.head_out.data();
  std::vector<k::MatmulJob>& jobs = ws.matmul_jobs;
  jobs.clear();
  for (int64_t hd = 0; hd < H; ++hd) {
    copy_rows(q + hd * qk, H * qk, T, nope, in + hd * T * nope, nope);
    // [T, Lat] = q_nope[T, nope] · (W_UKᵀ)[Lat, nope]ᵀ
    jobs.push_back({in + hd * T * nope, T, &L.k_b[hd], out + hd * T * Lat});
  }
  k::matmul_batch(jobs);
  for (int64_t hd = 0; hd < H; ++hd) {
    copy_rows(out + hd * T * Lat, Lat, T, Lat, q_abs + hd * W, H * W);
    copy_rows(q + hd * qk + nope, H * qk, T, R, q_abs + hd * W + Lat, H * W);
  }
  // attn_lat[t, h, 0..W) = Σ_j softmax_j(scale·q_abs·row_j)·row_j over j ≤ pos[t]: MQA over the
  // cache rows; values are the same rows, of which the first Lat (the latent c_j) are kept.
  const k::AttentionParams ap{T, H, 1, W, W, d.kq_scale};
  const float* rows = cache.k(layer, 0);
  k::attention(q_abs, k::PagedKvView{rows, rows, ws.token_tables.data(), B}, pos,
               ws.attn_lat.data(), ap);
  // o[t, h] = W_UV,h · attn_lat[t, h, 0..Lat): back from latent to the value space per head
  jobs.clear();
  for (int64_t hd = 0; hd < H; ++hd) {
    copy_rows(ws.attn_lat.data() + hd * W, H * W, T, Lat, in + hd * T * Lat, Lat);
    jobs.push_back({in + hd * T * Lat, T, &L.v_b[hd], out + hd * T * vd});  // [T, vd]
  }
  k::matmul_batch(jobs);
  for (int64_t hd = 0; hd < H; ++hd)
    copy_rows(out + hd * T * vd, vd, T, vd, ws.attn.data() + hd * vd, H * vd);
  // h = o·Woᵀ
  k::matmul(ws.attn.data(), T, L.wo, h);
}

// out[T, E] = (silu(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ
void swiglu_ffn(const float* h, int64_t T, const TensorView& gate, const TensorView& up,
                const TensorView& down, Workspace& ws, float* out) {
  const int64_t ff = gate.rows();
  const k::MatmulJob jobs[] = {{h, T, &gate, ws.gate.data()}, {h, T, &up, ws.up.data()}};
  k::matmul_batch(jobs);
  k::swiglu(ws.gate.data(), ws.up.data(), T * ff, ws.gate.data());
  k::matmul(ws.gate.data(), T, down, out);
}

// DeepSeekMoE on h = n(x) [T, E]; writes routed + shared output into ws.h. Tokens are grouped by
// expert so each chosen expert's weights are read once for the whole batch; a token's outputs are
// summed in expert-index order whatever the batch holds.
void moe_ffn(const ModelConfig& c, const Deepseek2Layer& L, Workspace& ws, int64_t T) {
  const Deepseek2Config& d = c.ds;
  const int64_t E = c.n_embd, NE = d.n_expert, K = d.n_expert_used;
  const float* h = ws.h.data();
  // route: probabilities, group limit, top-k, weights
  k::matmul(h, T, L.gate_inp, ws.router.data());
  const bool v3 = d.gating == k::MoeGating::kSigmoid;  // groups by top-2 sum (V3) or max (V2)
  const k::MoeRouteParams rp{
      .n_expert = NE,
      .n_used = K,
      .n_group = d.n_expert_groups,
      .n_group_used = d.n_group_used,
      .gating = d.gating,
      .group_score = v3 ? k::MoeGroupScore::kTop2Sum : k::MoeGroupScore::kMax,
      .bias = f32(L.exp_probs_b),
      .norm_weights = d.expert_weights_norm,
      .scale = d.expert_weights_scale};
  int32_t* ids = ws.route_ids.data();
  k::moe_route(ws.router.data(), T, rp, ids, ws.route_w.data());
  if (ws.routing_trace) ws.routing_trace->insert(ws.routing_trace->end(), ids, ids + T * K);
  // group (token, slot) pairs by expert, tokens ascending within an expert (a counting sort)
  int32_t *count = ws.expert_count.data(), *rows = ws.expert_rows.data();
  std::fill(count, count + NE + 1, 0);
  for (int64_t i = 0; i < T * K; ++i) ++count[ids[i] + 1];
  for (int64_t e = 0; e < NE; ++e) count[e + 1] += count[e];
  for (int64_t i = 0; i < T * K; ++i) rows[count[ids[i]]++] = static_cast<int32_t>(i);
  for (int64_t e = NE; e > 0; --e) count[e] = count[e - 1];
  count[0] = 0;
  // ys[r] = expert_{e}(h[t]) for every (token, slot) pair r, grouped by expert, and the shared
  // experts on all of h: the gate/up products of every chosen expert run as one batch, then
  // SwiGLU, then the down products as another.
  const int64_t ff = d.n_ff_exp, ff_sh = L.shexp_gate.data ? L.shexp_gate.rows() : 0;
  float *xs = ws.moe_x.data(), *ys = ws.moe_y.data(), *gate = ws.gate.data(), *up = ws.up.data();
  float* const sh_gate = gate + T * K * ff;  // the shared experts' [T, ff_sh] after the routed
  float* const sh_up = up + T * K * ff;
  float* const sh_out = ys + T * K * E;
  for (int64_t r = 0; r < T * K; ++r)
    std::memcpy(xs + r * E, h + (rows[r] / K) * E, static_cast<size_t>(E) * sizeof(float));
  std::vector<k::MatmulJob>& jobs = ws.matmul_jobs;
  jobs.clear();
  for (int64_t e = 0; e < NE; ++e) {
    const int64_t r0 = count[e], n = count[e + 1] - r0;
    if (n == 0) continue;
    jobs.push_back({xs + r0 * E, n, &L.exp_gate[e], gate + r0 * ff});
    jobs.push_back({xs + r0 * E, n, &L.exp_up[e], up + r0 * ff});
  }
  if (ff_sh > 0) {
    jobs.push_back({h, T, &L.shexp_gate, sh_gate});
    jobs.push_back({h, T, &L.shexp_up, sh_up});
  }
  k::matmul_batch(jobs);
  k::swiglu(gate, up, T * K * ff + T * ff_sh, gate);
  jobs.clear();
  for (int64_t e = 0; e < NE; ++e) {
    const int64_t r0 = count[e], n = count[e + 1] - r0;
    if (n > 0) jobs.push_back({gate + r0 * ff, n, &L.exp_down[e], ys + r0 * E});
  }
  if (ff_sh > 0) jobs.push_back({sh_gate, T, &L.shexp_down, sh_out});
  k::matmul_batch(jobs);
  // moe_out[t] = Σ_slots w[t, slot] · ys[slot], summed in expert-index order
  float* out = ws.moe_out.data();
  std::fill(out, out + T * E, 0.0f);
  for (int64_t r = 0; r < T * K; ++r) {
    const int64_t t = rows[r] / K;
    const float wgt = ws.route_w[rows[r]];
    for (int64_t i = 0; i < E; ++i) out[t * E + i] += wgt * ys[r * E + i];
  }
  // + shared experts, always on: h = moe_out + SwiGLU_shared(h)
  if (ff_sh > 0) {
    k::add(out, sh_out, T * E, ws.h.data());
  } else {
    std::memcpy(ws.h.data(), out, static_cast<size_t>(T * E) * sizeof(float));
  }
}

}  // namespace

void reserve_deepseek2(const ModelConfig& c, int64_t T, Workspace& ws) {
  const Deepseek2Config& d = c.ds;
  const int64_t E = c.n_embd, H = c.n_head, qk = int64_t{d.qk_nope} + d.qk_rope;
  const int64_t W = int64_t{d.kv_lora_rank} + d.qk_rope, K = d.n_expert_used;
  // routed rows [T·K, ff_exp] then the shared experts' [T, ff_exp·n_shared]; or dense [T, n_ff]
  const int64_t ff = std::max<int64_t>(
      c.n_ff * T, int64_t{d.n_ff_exp} * (T * K + T * std::max(0, d.n_expert_shared)));
  grow(ws.x, T * E);
  grow(ws.h, T * E);
  grow(ws.logits_in, T * E);
  grow(ws.q_a, T * d.q_lora_rank);
  grow(ws.q, T * H * qk);
  grow(ws.kva, T * W);
  grow(ws.q_abs, T * H * W);
  grow(ws.attn_lat, T * H * W);
  grow(ws.head_in, T * H * std::max<int64_t>(d.qk_nope, d.kv_lora_rank));
  grow(ws.head_out, T * H * std::max<int64_t>(d.kv_lora_rank, d.v_head_dim));
  grow(ws.attn, T * H * d.v_head_dim);
  grow(ws.gate, ff);
  grow(ws.up, ff);
  grow(ws.router, T * d.n_expert);
  grow(ws.route_w, T * K);
  grow(ws.route_ids, T * K);
  grow(ws.expert_rows, T * K);
  grow(ws.expert_count, int64_t{d.n_expert} + 1);
  grow(ws.moe_x, T * K * E);
  grow(ws.moe_y, (T * K + T) * E);
  grow(ws.moe_out, T * E);
}

void forward_deepseek2(const ModelConfig& c, const Weights& w, Workspace& ws,
                       const ForwardBatch& batch, PagedKvCache& cache, float* logits) {
  const std::span<const TokenId> tokens = batch.tokens;
  const std::span<const Pos> pos = batch.positions;
  const int64_t T = static_cast<int64_t>(tokens.size()), E = c.n_embd;
  float* x = ws.x.data();
  // x[T, E] = token_embd[tokens]
  k::get_rows(w.token_embd, tokens.data(), T, x);
  for (int32_t l = 0; l < c.n_layer; ++l) {
    const Deepseek2Layer& L = w.ds.layers[l];
    // x += MLA(RMSNorm(x)·attn_norm)
    k::rms_norm(x, f32(L.attn_norm), T, E, c.rms_eps, ws.h.data());
    mla_attention(c, L, ws, T, pos.data(), cache, l);
    k::add(x, ws.h.data(), T * E, x);
    // x += FFN(RMSNorm(x)·ffn_norm): dense SwiGLU or DeepSeekMoE
    k::rms_norm(x, f32(L.ffn_norm), T, E, c.rms_eps, ws.h.data());
    if (L.moe) {
      moe_ffn(c, L, ws, T);
    } else {
      swiglu_ffn(ws.h.data(), T, L.ffn_gate, L.ffn_up, L.ffn_down, ws, ws.moe_y.data());
      std::memcpy(ws.h.data(), ws.moe_y.data(), static_cast<size_t>(T * E) * sizeof(float));
    }
    k::add(x, ws.h.data(), T * E, x);
  }
  // logits = RMSNorm(x)·output_norm · Woutᵀ for the wanted rows only
  const int64_t R = static_cast<int64_t>(batch.logit_rows.size());
  for (int64_t i = 0; i < R; ++i)
    k::rms_norm(x + batch.logit_rows[i] * E, f32(w.output_norm), 1, E, c.rms_eps,
                ws.logits_in.data() + i * E);
  if (R > 0) k::matmul(ws.logits_in.data(), R, w.output, logits);
}

}  // namespace latent
