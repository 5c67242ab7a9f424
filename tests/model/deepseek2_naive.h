// Test-only oracle: the deepseek2 forward pass the naive way, in double, one token at a time, with
// MLA expanded (per-head keys [W_UK·c | k_rope] and values W_UV·c kept in a per-head cache) and its
// own routing (stable sorts). Reads the F32 weights of a loaded Model; shares no code with
// arch/deepseek2.cpp or the kernels.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "model/model.h"

namespace latent::test {

struct NaiveDs2 {
  explicit NaiveDs2(const Model& model) : m(model), c(model.config()), d(model.config().ds) {}
  const Model& m;
  const ModelConfig& c;
  const Deepseek2Config& d;
  std::vector<int32_t> routing;  // chosen expert ids per token and MoE layer, in forward order

  using Vec = std::vector<double>;
  static const float* f(const TensorView& t) { return static_cast<const float*>(t.data); }
  // y = W·x for an F32 [rows, cols] view
  static Vec mv(const TensorView& w, const Vec& x) {
    Vec y(static_cast<size_t>(w.rows()), 0.0);
    for (int64_t r = 0; r < w.rows(); ++r)
      for (int64_t k = 0; k < w.cols(); ++k) y[r] += double(f(w)[r * w.cols() + k]) * x[k];
    return y;
  }
  Vec norm(const Vec& x, const TensorView& w) const {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / double(x.size()) + c.rms_eps);
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * f(w)[i];
    return y;
  }
  // Adjacent-pair rotation of x[0..R) at position p, YaRN-blended angles, magnitude rope_mscale.
  void rope(double* x, int p) const {
    for (int i = 0; i < d.qk_rope / 2; ++i) {
      const double extrap = p * std::pow(double(c.rope_freq_base), -2.0 * i / d.qk_rope);
      double th = extrap * c.rope_freq_scale;
      if (d.yarn_ext_factor != 0) {
        const double y = (i - d.yarn_low) / std::max(0.001, double(d.yarn_high - d.yarn_low));
        const double ramp = (1.0 - std::clamp(y, 0.0, 1.0)) * d.yarn_ext_factor;
        th = th * (1 - ramp) + extrap * ramp;
      }
      const double cs = std::cos(th) * d.rope_mscale, sn = std::sin(th) * d.rope_mscale;
      const double a = x[2 * i], b = x[2 * i + 1];
      x[2 * i] = a * cs - b * sn;
      x[2 * i + 1] = a * sn + b * cs;
    }
  }
  Vec swiglu(const TensorView& g, const TensorView& u, const TensorView& dn, const Vec& x) const {
    Vec a = mv(g, x), b = mv(u, x);
    for (size_t i = 0; i < a.size(); ++i) a[i] = a[i] / (1 + std::exp(-a[i])) * b[i];
    return mv(dn, a);
  }
  // Stable descending order of the first n indices by v.
  static std::vector<int> order(const Vec& v) {
    std::vector<int> idx(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return v[a] > v[b]; });
    return idx;
  }
  Vec moe(const Deepseek2Layer& L, const Vec& x) {
    const int NE = d.n_expert, G = d.n_expert_groups, per = NE / G;
    Vec logit = mv(L.gate_inp, x), p(NE), s(NE);
    const double mx = *std::max_element(logit.begin(), logit.end());
    double z = 0;
    for (int i = 0; i < NE; ++i) z += std::exp(logit[i] - mx);
    for (int i = 0; i < NE; ++i) {
      p[i] = d.gating == kernels::MoeGating::kSigmoid ? 1 / (1 + std::exp(-logit[i]))
                                                      : std::exp(logit[i] - mx) / z;
      s[i] = p[i] + (L.exp_probs_b.data ? f(L.exp_probs_b)[i] : 0.0);
    }
    if (G > 1) {
      Vec gs(G);
      for (int g = 0; g < G; ++g) {
        Vec in(s.begin() + g * per, s.begin() + (g + 1) * per);
        std::sort(in.rbegin(), in.rend());
        gs[g] = d.gating == kernels::MoeGating::kSigmoid ? in[0] + (per > 1 ? in[1] : 0) : in[0];
      }
      const std::vector<int> go = order(gs);
      for (int r = d.n_group_used; r < G; ++r)
        for (int i = 0; i < per; ++i) s[go[r] * per + i] = -INFINITY;
    }
    const std::vector<int> eo = order(s);
    double sum = 0;
    for (int k = 0; k < d.n_expert_used; ++k) sum += p[eo[k]];
    Vec out(x.size(), 0.0);
    for (int k = 0; k < d.n_expert_used; ++k) {
      const int e = eo[k];
      routing.push_back(e);
      const double wgt = p[e] / (d.expert_weights_norm ? sum : 1.0) * d.expert_weights_scale;
      const Vec y = swiglu(L.exp_gate[e], L.exp_up[e], L.exp_down[e], x);
      for (size_t i = 0; i < x.size(); ++i) out[i] += wgt * y[i];
    }
    if (L.shexp_gate.data) {
      const Vec y = swiglu(L.shexp_gate, L.shexp_up, L.shexp_down, x);
      for (size_t i = 0; i < x.size(); ++i) out[i] += y[i];
    }
    return out;
  }

  // Logits [n_tokens, n_vocab] of tokens at positions 0, 1, …
  std::vector<double> logits(const std::vector<int>& toks) {
    const Weights& w = m.weights();
    const int H = c.n_head, nope = d.qk_nope, R = d.qk_rope, qk = nope + R, Lat = d.kv_lora_rank;
    const int vd = d.v_head_dim, E = c.n_embd, T = int(toks.size());
    std::vector<std::vector<Vec>> K(c.n_layer), V(c.n_layer);  // [layer][pos] → [H·qk], [H·vd]
    std::vector<double> out;
    for (int t = 0; t < T; ++t) {
      Vec x(f(w.token_embd) + toks[t] * E, f(w.token_embd) + (toks[t] + 1) * E);
      for (int l = 0; l < c.n_layer; ++l) {
        const Deepseek2Layer& L = w.ds.layers[l];
        Vec h = norm(x, L.attn_norm);
        Vec q = d.q_lora_rank ? mv(L.wq_b, norm(mv(L.wq_a, h), L.q_a_norm)) : mv(L.wq, h);
        Vec kva = mv(L.wkv_a, h);
        Vec lat = norm(Vec(kva.begin(), kva.begin() + Lat), L.kv_a_norm);
        Vec kr(kva.begin() + Lat, kva.end());
        rope(kr.data(), t);
        Vec k(H * qk), v(H * vd);
        for (int hd = 0; hd < H; ++hd) {
          rope(q.data() + hd * qk + nope, t);
          // k_nope = W_UK·c (k_b holds W_UKᵀ [Lat, nope]); v = W_UV·c
          for (int i = 0; i < nope; ++i)
            for (int cc = 0; cc < Lat; ++cc)
              k[hd * qk + i] += double(f(L.k_b[hd])[cc * nope + i]) * lat[cc];
          for (int i = 0; i < R; ++i) k[hd * qk + nope + i] = kr[i];
          const Vec vh = mv(L.v_b[hd], lat);
          std::copy(vh.begin(), vh.end(), v.begin() + hd * vd);
        }
        K[l].push_back(k);
        V[l].push_back(v);
        Vec o(H * vd, 0.0);
        for (int hd = 0; hd < H; ++hd) {
          Vec sc(t + 1);
          for (int j = 0; j <= t; ++j) {
            double dot = 0;
            for (int i = 0; i < qk; ++i) dot += q[hd * qk + i] * K[l][j][hd * qk + i];
            sc[j] = dot * d.kq_scale;
          }
          const double mx = *std::max_element(sc.begin(), sc.end());
          double z = 0;
          for (double& s : sc) z += (s = std::exp(s - mx));
          for (int j = 0; j <= t; ++j)
            for (int i = 0; i < vd; ++i) o[hd * vd + i] += sc[j] / z * V[l][j][hd * vd + i];
        }
        const Vec ao = mv(L.wo, o);
        for (int i = 0; i < E; ++i) x[i] += ao[i];
        h = norm(x, L.ffn_norm);
        const Vec fo = L.moe ? moe(L, h) : swiglu(L.ffn_gate, L.ffn_up, L.ffn_down, h);
        for (int i = 0; i < E; ++i) x[i] += fo[i];
      }
      const Vec lg = mv(w.output, norm(x, w.output_norm));
      out.insert(out.end(), lg.begin(), lg.end());
    }
    return out;
  }
};

}  // namespace latent::test
