// Training forward/backward of the llama architecture (see transformer.h). Notation: T tokens, E
// embedding width, H query heads of size hd sharing Hkv key/value heads, F feed-forward width, V
// vocabulary. Backward steps run in reverse order of the forward ones, each with its derivative.
#include "train/transformer.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "train/linalg.h"

namespace latent::train {
namespace {

// y = x / sqrt(mean(x²) + eps) ⊙ g ; rstd = 1/sqrt(mean(x²) + eps) kept for the backward pass.
void rmsnorm_forward(const float* x, const float* g, int64_t T, int64_t E, float eps, float* y,
                     float* rstd) {
  for (int64_t t = 0; t < T; ++t) {
    const float* xt = x + t * E;
    double ss = 0.0;  // accumulated in double, as latent's kernels do
    for (int64_t i = 0; i < E; ++i) ss += static_cast<double>(xt[i]) * xt[i];
    const float r = 1.0f / std::sqrt(static_cast<float>(ss / E) + eps);
    rstd[t] = r;
    for (int64_t i = 0; i < E; ++i) y[t * E + i] = xt[i] * r * g[i];
  }
}

// With y_i = x_i·r·g_i and r = (mean(x²)+eps)^(−1/2), ∂r/∂x_j = −r³·x_j/E:
//   dg_i += dy_i·x_i·r ;  dx_j += r·dy_j·g_j − x_j·r³/E · Σ_i dy_i·g_i·x_i
void rmsnorm_backward(const float* x, const float* g, const float* rstd, const float* dy, int64_t T,
                      int64_t E, float* dx, float* dg) {
  for (int64_t t = 0; t < T; ++t) {
    const float *xt = x + t * E, *dyt = dy + t * E;
    const float r = rstd[t];
    float dot = 0.0f;
    for (int64_t i = 0; i < E; ++i) dot += dyt[i] * g[i] * xt[i];
    const float c = r * r * r * dot / static_cast<float>(E);
    for (int64_t i = 0; i < E; ++i) {
      dg[i] += dyt[i] * xt[i] * r;
      dx[t * E + i] += r * dyt[i] * g[i] - xt[i] * c;
    }
  }
}

// cos/sin of θ(t, i) = t · base^(−2i/hd), computed in double and rounded once like
// kernels::rope, for i < hd/2.
void rope_tables(int64_t T, int64_t hd, float base, std::vector<float>& cs,
                 std::vector<float>& sn) {
  const int64_t half = hd / 2;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const double theta =
          static_cast<double>(t) * std::pow(static_cast<double>(base), -2.0 * i / hd);
      cs[t * half + i] = static_cast<float>(std::cos(theta));
      sn[t * half + i] = static_cast<float>(std::sin(theta));
    }
}

// NORM mode: each adjacent pair (v[2i], v[2i+1]) of every head is rotated by θ(t, i):
//   (a, b) → (a·c − b·s, a·s + b·c). The backward pass rotates the gradient by −θ:
//   (da, db) ← (da'·c + db'·s, −da'·s + db'·c).
void rope_apply(float* x, int64_t T, int64_t n_heads, int64_t hd, const float* cs, const float* sn,
                bool inverse) {
  const int64_t half = hd / 2;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + (t * n_heads + h) * hd;
      for (int64_t i = 0; i < half; ++i) {
        const float c = cs[t * half + i], s = inverse ? -sn[t * half + i] : sn[t * half + i];
        const float a = v[2 * i], b = v[2 * i + 1];
        v[2 * i] = a * c - b * s;
        v[2 * i + 1] = a * s + b * c;
      }
    }
}

struct AttnShape {
  int64_t T, H, Hkv, hd;
  float scale;  // 1/√hd
};

// For query head h (key/value head h / (H/Hkv)) at position t, over j ≤ t:
//   s_j = scale·q_t·k_j ;  p = softmax(s) ;  att_t = Σ_j p_j·v_j.  p is kept, [H, T, T].
void attention_forward(const float* q, const float* k, const float* v, const AttnShape& a, float* p,
                       float* att) {
  const int64_t NQ = a.H * a.hd, NKV = a.Hkv * a.hd, group = a.H / a.Hkv;
  for (int64_t h = 0; h < a.H; ++h) {
    const int64_t kh = h / group;
    for (int64_t t = 0; t < a.T; ++t) {
      const float* qt = q + t * NQ + h * a.hd;
      float* pt = p + (h * a.T + t) * a.T;
      float mx = -INFINITY;
      for (int64_t j = 0; j <= t; ++j) {
        const float* kj = k + j * NKV + kh * a.hd;
        float s = 0.0f;
        for (int64_t i = 0; i < a.hd; ++i) s += qt[i] * kj[i];
        pt[j] = s * a.scale;
        mx = std::max(mx, pt[j]);
      }
      float sum = 0.0f;
      for (int64_t j = 0; j <= t; ++j) sum += (pt[j] = std::exp(pt[j] - mx));
      for (int64_t j = 0; j <= t; ++j) pt[j] /= sum;
      float* ot = att + t * NQ + h * a.hd;
      std::fill(ot, ot + a.hd, 0.0f);
      for (int64_t j = 0; j <= t; ++j) {
        const float* vj = v + j * NKV + kh * a.hd;
        for (int64_t i = 0; i < a.hd; ++i) ot[i] += pt[j] * vj[i];
      }
    }
  }
}

// dp_j = datt_t·v_j ; dv_j += p_j·datt_t ; ds_j = p_j·(dp_j − Σ_i p_i·dp_i) ;
// dq_t += scale·Σ_j ds_j·k_j ; dk_j += scale·ds_j·q_t.  dq, dk, dv must start at zero.
void attention_backward(const float* q, const float* k, const float* v, const float* p,
                        const float* datt, const AttnShape& a, float* dq, float* dk, float* dv,
                        float* dp) {
  const int64_t NQ = a.H * a.hd, NKV = a.Hkv * a.hd, group = a.H / a.Hkv;
  for (int64_t h = 0; h < a.H; ++h) {
    const int64_t kh = h / group;
    for (int64_t t = 0; t < a.T; ++t) {
      const float* pt = p + (h * a.T + t) * a.T;
      const float *dot = datt + t * NQ + h * a.hd, *qt = q + t * NQ + h * a.hd;
      float* dqt = dq + t * NQ + h * a.hd;
      float pdp = 0.0f;
      for (int64_t j = 0; j <= t; ++j) {
        const float* vj = v + j * NKV + kh * a.hd;
        float* dvj = dv + j * NKV + kh * a.hd;
        float s = 0.0f;
        for (int64_t i = 0; i < a.hd; ++i) {
          s += dot[i] * vj[i];
          dvj[i] += pt[j] * dot[i];
        }
        dp[j] = s;
        pdp += pt[j] * s;
      }
      for (int64_t j = 0; j <= t; ++j) {
        const float ds = pt[j] * (dp[j] - pdp) * a.scale;
        const float* kj = k + j * NKV + kh * a.hd;
        float* dkj = dk + j * NKV + kh * a.hd;
        for (int64_t i = 0; i < a.hd; ++i) {
          dqt[i] += ds * kj[i];
          dkj[i] += ds * qt[i];
        }
      }
    }
  }
}

float silu(float g) {
  return g / (1.0f + std::exp(-g));
}

void zero(std::vector<float>& v, int64_t n) {
  std::fill(v.begin(), v.begin() + n, 0.0f);
}

}  // namespace

void Activations::resize(const ModelDims& d, int64_t n_tokens) {
  T = n_tokens;
  auto same = [](const ModelDims& a, const ModelDims& b) {
    return a.n_vocab == b.n_vocab && a.n_embd == b.n_embd && a.n_layer == b.n_layer &&
           a.n_head == b.n_head && a.n_head_kv == b.n_head_kv && a.n_ff == b.n_ff &&
           a.n_ctx == b.n_ctx && a.rope_base == b.rope_base;
  };
  if (!layers.empty() && same(d, dims) && T <= capacity) return;
  dims = d;
  capacity = std::max<int64_t>(T, d.n_ctx);
  const int64_t E = d.n_embd, hd = d.head_dim(), NQ = int64_t{d.n_head} * hd,
                NKV = int64_t{d.n_head_kv} * hd, F = d.n_ff, V = d.n_vocab, H = d.n_head;
  // Sized for the longest sequence once (n_ctx), so later calls never reallocate.
  const int64_t Tm = capacity;
  x.assign(d.n_layer + 1, std::vector<float>(Tm * E));
  layers.assign(d.n_layer, {});
  for (Layer& L : layers) {
    L.xn1.resize(Tm * E), L.rstd1.resize(Tm), L.q.resize(Tm * NQ), L.k.resize(Tm * NKV);
    L.v.resize(Tm * NKV), L.p.resize(H * Tm * Tm), L.att.resize(Tm * NQ), L.xmid.resize(Tm * E);
    L.xn2.resize(Tm * E), L.rstd2.resize(Tm), L.g.resize(Tm * F), L.u.resize(Tm * F);
    L.a.resize(Tm * F);
  }
  xnf.resize(Tm * E), rstdf.resize(Tm), logits.resize(Tm * V);
  rope_cos.resize(Tm * hd / 2), rope_sin.resize(Tm * hd / 2);
  rope_tables(Tm, hd, d.rope_base, rope_cos, rope_sin);
  dx.resize(Tm * E), dxn.resize(Tm * E), dq.resize(Tm * NQ), dk.resize(Tm * NKV);
  dv.resize(Tm * NKV), datt.resize(Tm * NQ), dg.resize(Tm * F), du.resize(Tm * F);
  da.resize(Tm * F), tmp.resize(std::max(Tm, Tm * E));
}

void forward(const ParamSet& P, std::span<const int32_t> tokens, Activations& A) {
  const ModelDims& d = P.dims();
  const int64_t T = static_cast<int64_t>(tokens.size());
  if (T == 0 || T > d.n_ctx) {
    throw Error::field("training sequence", "length", "1.." + std::to_string(d.n_ctx) + " tokens",
                       std::to_string(T));
  }
  A.resize(d, T);
  const int64_t E = d.n_embd, hd = d.head_dim(), NQ = int64_t{d.n_head} * hd,
                NKV = int64_t{d.n_head_kv} * hd, F = d.n_ff, V = d.n_vocab;
  const float* w = P.data();
  // x[t] = token_embd[tokens[t]]
  for (int64_t t = 0; t < T; ++t) {
    if (tokens[t] < 0 || tokens[t] >= V) {
      throw Error::field("training sequence", "token id", "in [0, " + std::to_string(V) + ")",
                         std::to_string(tokens[t]));
    }
    std::memcpy(A.x[0].data() + t * E, w + P.token_embd() + int64_t{tokens[t]} * E,
                E * sizeof(float));
  }
  const AttnShape as{T, d.n_head, d.n_head_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
  for (int32_t l = 0; l < d.n_layer; ++l) {
    const LayerOffsets& o = P.layer(l);
    Activations::Layer& L = A.layers[l];
    const float* x = A.x[l].data();
    // xn1 = RMSNorm(x)·attn_norm ; q,k,v = xn1·Wᵀ ; rope(q), rope(k)
    rmsnorm_forward(x, w + o.attn_norm, T, E, d.rms_eps, L.xn1.data(), L.rstd1.data());
    matmul_forward(L.q.data(), L.xn1.data(), w + o.wq, T, NQ, E);
    matmul_forward(L.k.data(), L.xn1.data(), w + o.wk, T, NKV, E);
    matmul_forward(L.v.data(), L.xn1.data(), w + o.wv, T, NKV, E);
    rope_apply(L.q.data(), T, d.n_head, hd, A.rope_cos.data(), A.rope_sin.data(), false);
    rope_apply(L.k.data(), T, d.n_head_kv, hd, A.rope_cos.data(), A.rope_sin.data(), false);
    // att = softmax(q·kᵀ/√hd, causal)·v ; xmid = x + att·Woᵀ
    attention_forward(L.q.data(), L.k.data(), L.v.data(), as, L.p.data(), L.att.data());
    matmul_forward(A.tmp.data(), L.att.data(), w + o.wo, T, E, NQ);
    for (int64_t i = 0; i < T * E; ++i) L.xmid[i] = x[i] + A.tmp[i];
    // xn2 = RMSNorm(xmid)·ffn_norm ; a = silu(xn2·Wgateᵀ) ⊙ xn2·Wupᵀ ; x' = xmid + a·Wdownᵀ
    rmsnorm_forward(L.xmid.data(), w + o.ffn_norm, T, E, d.rms_eps, L.xn2.data(), L.rstd2.data());
    matmul_forward(L.g.data(), L.xn2.data(), w + o.ffn_gate, T, F, E);
    matmul_forward(L.u.data(), L.xn2.data(), w + o.ffn_up, T, F, E);
    for (int64_t i = 0; i < T * F; ++i) L.a[i] = silu(L.g[i]) * L.u[i];
    matmul_forward(A.tmp.data(), L.a.data(), w + o.ffn_down, T, E, F);
    float* xo = A.x[l + 1].data();
    for (int64_t i = 0; i < T * E; ++i) xo[i] = L.xmid[i] + A.tmp[i];
  }
  // logits = RMSNorm(x)·output_norm · Woutᵀ
  rmsnorm_forward(A.x[d.n_layer].data(), w + P.output_norm(), T, E, d.rms_eps, A.xnf.data(),
                  A.rstdf.data());
  matmul_forward(A.logits.data(), A.xnf.data(), w + P.output(), T, V, E);
}

double forward_backward(const ParamSet& P, const Sequence& seq, ParamSet& G, Activations& A,
                        std::vector<float>* logprobs) {
  const ModelDims& d = P.dims();
  const int64_t T = static_cast<int64_t>(seq.tokens.size());
  if (static_cast<int64_t>(seq.weights.size()) != T - 1) {
    throw Error::field("training sequence", "weights", std::to_string(T - 1) + " (tokens − 1)",
                       std::to_string(seq.weights.size()));
  }
  forward(P, seq.tokens, A);
  const int64_t E = d.n_embd, hd = d.head_dim(), NQ = int64_t{d.n_head} * hd,
                NKV = int64_t{d.n_head_kv} * hd, F = d.n_ff, V = d.n_vocab;
  const float* w = P.data();
  float* g = G.data();
  if (logprobs) logprobs->assign(static_cast<size_t>(T - 1), 0.0f);

  // Loss: nll_t = logsumexp(logits_t) − logits_t[y], y = tokens[t+1];
  // dlogits_t = weight_t·(softmax(logits_t) − onehot(y)), in place; the last row predicts nothing.
  double loss = 0.0;
  float* dlogits = A.logits.data();
  for (int64_t t = 0; t < T; ++t) {
    float* row = dlogits + t * V;
    const float wt = t + 1 < T ? seq.weights[t] : 0.0f;
    if (wt == 0.0f && !(logprobs && t + 1 < T)) {
      std::fill(row, row + V, 0.0f);
      continue;
    }
    const int32_t y = seq.tokens[t + 1];
    const float mx = *std::max_element(row, row + V);
    double sum = 0.0;
    for (int64_t i = 0; i < V; ++i) sum += std::exp(static_cast<double>(row[i] - mx));
    const double lse = mx + std::log(sum);
    const double nll = lse - row[y];
    if (logprobs) (*logprobs)[t] = static_cast<float>(-nll);
    loss += wt * nll;
    for (int64_t i = 0; i < V; ++i) row[i] = wt * static_cast<float>(std::exp(row[i] - lse));
    row[y] -= wt;
  }

  // logits = xnf·Woutᵀ: dWout += dlogitsᵀ·xnf ; dxnf = dlogits·Wout
  matmul_backward_w(g + G.output(), dlogits, A.xnf.data(), T, V, E);
  zero(A.dxn, T * E);
  matmul_backward_x(A.dxn.data(), dlogits, w + P.output(), T, V, E);
  zero(A.dx, T * E);
  rmsnorm_backward(A.x[d.n_layer].data(), w + P.output_norm(), A.rstdf.data(), A.dxn.data(), T, E,
                   A.dx.data(), g + G.output_norm());

  const AttnShape as{T, d.n_head, d.n_head_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
  for (int32_t l = d.n_layer - 1; l >= 0; --l) {
    const LayerOffsets& o = P.layer(l);
    const Activations::Layer& L = A.layers[l];
    // x' = xmid + a·Wdownᵀ: dxmid = dx' (A.dx continues as dxmid) ; dWdown += dxᵀ·a ; da = dx·Wdown
    matmul_backward_w(g + o.ffn_down, A.dx.data(), L.a.data(), T, E, F);
    zero(A.da, T * F);
    matmul_backward_x(A.da.data(), A.dx.data(), w + o.ffn_down, T, E, F);
    // a = silu(g)·u: du = da·silu(g) ; dg = da·u·σ(g)·(1 + g·(1 − σ(g)))
    for (int64_t i = 0; i < T * F; ++i) {
      const float gi = L.g[i], sg = 1.0f / (1.0f + std::exp(-gi));
      A.du[i] = A.da[i] * gi * sg;
      A.dg[i] = A.da[i] * L.u[i] * sg * (1.0f + gi * (1.0f - sg));
    }
    // g = xn2·Wgateᵀ, u = xn2·Wupᵀ: dW += dᵀ·xn2 ; dxn2 = dg·Wgate + du·Wup
    matmul_backward_w(g + o.ffn_gate, A.dg.data(), L.xn2.data(), T, F, E);
    matmul_backward_w(g + o.ffn_up, A.du.data(), L.xn2.data(), T, F, E);
    zero(A.dxn, T * E);
    matmul_backward_x(A.dxn.data(), A.dg.data(), w + o.ffn_gate, T, F, E);
    matmul_backward_x(A.dxn.data(), A.du.data(), w + o.ffn_up, T, F, E);
    // xn2 = RMSNorm(xmid): dxmid += norm backward
    rmsnorm_backward(L.xmid.data(), w + o.ffn_norm, L.rstd2.data(), A.dxn.data(), T, E, A.dx.data(),
                     g + o.ffn_norm);
    // xmid = x + att·Woᵀ: dx = dxmid (A.dx continues) ; dWo += dxᵀ·att ; datt = dx·Wo
    matmul_backward_w(g + o.wo, A.dx.data(), L.att.data(), T, E, NQ);
    zero(A.datt, T * NQ);
    matmul_backward_x(A.datt.data(), A.dx.data(), w + o.wo, T, E, NQ);
    zero(A.dq, T * NQ), zero(A.dk, T * NKV), zero(A.dv, T * NKV);
    attention_backward(L.q.data(), L.k.data(), L.v.data(), L.p.data(), A.datt.data(), as,
                       A.dq.data(), A.dk.data(), A.dv.data(), A.tmp.data());
    // q, k were rotated after the projection: un-rotate their gradients
    rope_apply(A.dq.data(), T, d.n_head, hd, A.rope_cos.data(), A.rope_sin.data(), true);
    rope_apply(A.dk.data(), T, d.n_head_kv, hd, A.rope_cos.data(), A.rope_sin.data(), true);
    // q,k,v = xn1·Wᵀ: dW += dᵀ·xn1 ; dxn1 = dq·Wq + dk·Wk + dv·Wv
    matmul_backward_w(g + o.wq, A.dq.data(), L.xn1.data(), T, NQ, E);
    matmul_backward_w(g + o.wk, A.dk.data(), L.xn1.data(), T, NKV, E);
    matmul_backward_w(g + o.wv, A.dv.data(), L.xn1.data(), T, NKV, E);
    zero(A.dxn, T * E);
    matmul_backward_x(A.dxn.data(), A.dq.data(), w + o.wq, T, NQ, E);
    matmul_backward_x(A.dxn.data(), A.dk.data(), w + o.wk, T, NKV, E);
    matmul_backward_x(A.dxn.data(), A.dv.data(), w + o.wv, T, NKV, E);
    // xn1 = RMSNorm(x): dx += norm backward (dx already holds the residual path)
    rmsnorm_backward(A.x[l].data(), w + o.attn_norm, L.rstd1.data(), A.dxn.data(), T, E,
                     A.dx.data(), g + o.attn_norm);
  }
  // x[t] = token_embd[tokens[t]]: scatter-add
  for (int64_t t = 0; t < T; ++t) {
    float* row = g + G.token_embd() + int64_t{seq.tokens[t]} * E;
    for (int64_t i = 0; i < E; ++i) row[i] += A.dx[t * E + i];
  }
  return loss;
}

BatchWorkspace::BatchWorkspace(const ModelDims& dims, int threads) {
  threads = std::max(1, threads);
  acts_.resize(static_cast<size_t>(threads));
  for (int i = 1; i < threads; ++i) thread_grads_.emplace_back(dims);
}

double BatchWorkspace::step(const ParamSet& P, std::span<const Sequence> seqs, ParamSet& G,
                            std::vector<std::vector<float>>* logprobs) {
  const int n_threads = threads();
  G.zero();
  for (ParamSet& tg : thread_grads_) tg.zero();
  std::vector<double> losses(seqs.size(), 0.0);
  std::vector<std::string> errors(static_cast<size_t>(n_threads));
  const int64_t n = static_cast<int64_t>(seqs.size());
  if (logprobs) logprobs->assign(seqs.size(), {});
#pragma omp parallel num_threads(n_threads)
  {
    const int tid = omp_get_thread_num();
    ParamSet& grads = tid == 0 ? G : thread_grads_[static_cast<size_t>(tid - 1)];
    // Sequence i goes to thread i % n_threads: fixed, so the sums are reproducible.
    for (int64_t i = tid; i < n; i += omp_get_num_threads()) {
      try {
        losses[i] = forward_backward(P, seqs[i], grads, acts_[static_cast<size_t>(tid)],
                                     logprobs ? &(*logprobs)[static_cast<size_t>(i)] : nullptr);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(tid)] = e.what();
        break;
      }
    }
  }
  for (const std::string& e : errors)
    if (!e.empty()) throw Error(e);
  // G += Σ thread buffers, in thread order.
  float* g = G.data();
  const int64_t np = G.n_params();
  for (const ParamSet& tg : thread_grads_) {
    const float* src = tg.data();
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t i = 0; i < np; ++i) g[i] += src[i];
  }
  double loss = 0.0;
  for (double l : losses) loss += l;
  return loss;
}

}  // namespace latent::train
