// tools/gen_model/deepseek2.h: latent-gen-model's `--arch deepseek2` (DeepSeek-V2 / V3): options,
// presets, validation, hyperparameter keys and tensors, laid out as llama.cpp's converter writes
// them (conversion/deepseek.py DeepseekV2Model at upstream 3f545bec; tensor shapes as
// src/models/deepseek2.cpp loads them). The vocabulary and general.* keys are the caller's.
//
// Facts from llama.cpp this file follows:
// - head_count_kv is 1 and key_length / value_length are kv_lora + qk_rope / kv_lora ("MQA over the
//   latent"); key_length_mla / value_length_mla carry qk_nope + qk_rope / v_head_dim. kv_b_proj is
//   split per head into attn_k_b [n_head, kv_lora, qk_nope] (transposed) and attn_v_b
//   [n_head, v_head_dim, kv_lora]. Older files (--kv-b combined) keep attn_kv_b
//   [n_head * (qk_nope + v_head_dim), kv_lora] with head_count_kv = n_head, key_length =
//   qk_nope + qk_rope, value_length = v_head_dim and no *_mla keys.
// - q_lora_rank is written only when there is a q-lora; llama.cpp then requires block_count 26 or
//   27 (its "lite" test) unless the key is present, hence --q-lora-zero-key for small test files.
// - rope.scaling.yarn_log_multiplier is 0.1 * mscale_all_dim (llama.cpp divides it by 0.1 again).
// - block_count counts the MTP layers too; nextn_predict_layers says how many of them there are.
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "base/error.h"
#include "config.h"
#include "gguf/gguf_writer.h"
#include "random_weights.h"

namespace latent::gen {

inline void add_deepseek2_options(CLI::App& app, Deepseek2Config& d) {
  const char* g = "deepseek2";
  app.add_option("--q-lora-rank", d.q_lora_rank, "0: one attn_q matrix (V2-Lite)")
      ->group(g)
      ->capture_default_str();
  app.add_flag("--q-lora-zero-key", d.q_lora_zero_key,
               "with --q-lora-rank 0, write q_lora_rank = 0 (llama.cpp needs the key unless "
               "block_count is 26 or 27)")
      ->group(g);
  app.add_option("--kv-lora-rank", d.kv_lora_rank)->group(g)->capture_default_str();
  app.add_option("--qk-nope", d.qk_nope, "per-head key dims without rope")
      ->group(g)
      ->capture_default_str();
  app.add_option("--qk-rope", d.qk_rope, "per-head rope dims")->group(g)->capture_default_str();
  app.add_option("--v-head-dim", d.v_head_dim)->group(g)->capture_default_str();
  app.add_option("--n-expert", d.n_expert)->group(g)->capture_default_str();
  app.add_option("--n-expert-used", d.n_expert_used)->group(g)->capture_default_str();
  app.add_option("--n-expert-shared", d.n_expert_shared)->group(g)->capture_default_str();
  app.add_option("--n-ff-exp", d.n_ff_exp, "feed-forward width of each expert")
      ->group(g)
      ->capture_default_str();
  app.add_option("--n-group", d.n_group, "expert groups")->group(g)->capture_default_str();
  app.add_option("--n-group-used", d.n_group_used, "groups kept per token")
      ->group(g)
      ->capture_default_str();
  app.add_option("--gating", d.gating, "router score function")
      ->check(CLI::IsMember({"softmax", "sigmoid"}))
      ->group(g)
      ->capture_default_str();
  app.add_flag("--expert-weights-norm", d.expert_weights_norm,
               "renormalise the chosen experts' weights to sum 1")
      ->group(g);
  app.add_option("--expert-weights-scale", d.expert_weights_scale,
                 "routed-output scale (0: key absent)")
      ->group(g)
      ->capture_default_str();
  app.add_flag("--exp-probs-b", d.exp_probs_b, "V3 expert-selection bias (exp_probs_b.bias)")
      ->group(g);
  app.add_option("--n-dense-lead", d.n_dense_lead, "leading layers with a dense FFN")
      ->group(g)
      ->capture_default_str();
  app.add_option("--kv-b", d.kv_b, "split: attn_k_b + attn_v_b; combined: older attn_kv_b")
      ->check(CLI::IsMember({"split", "combined"}))
      ->group(g)
      ->capture_default_str();
  app.add_option("--rope-orig-ctx", d.rope_orig_ctx, "yarn: original context length")
      ->group(g)
      ->capture_default_str();
  app.add_option("--rope-mscale-all", d.rope_mscale_all,
                 "yarn: mscale_all_dim (0: no yarn_log_multiplier key)")
      ->group(g)
      ->capture_default_str();
  app.add_option("--nextn-layers", d.nextn_layers, "MTP layers appended (nextn_predict_layers)")
      ->group(g)
      ->capture_default_str();
}

// ds-v2-lite (the real DeepSeek-V2-Lite shape), ds-v2-lite-tiny and ds-v3-tiny (small dims, every
// feature of the model on). Options given explicitly on the command line win.
inline void apply_deepseek2_preset(const std::string& preset, const CLI::App& app, GenConfig& c) {
  auto set = [&](const char* opt, auto& field, auto value) {
    if (app.count(opt) == 0) field = value;
  };
  Deepseek2Config& d = c.ds;
  set("--arch", c.arch, std::string("deepseek2"));
  set("--rope-scaling", c.rope_scaling, std::string("yarn"));
  set("--rope-factor", c.rope_factor, 40.0f);
  set("--rope-orig-ctx", d.rope_orig_ctx, int64_t{4096});
  set("--rope-base", c.rope_base, 10000.0f);
  set("--rms-eps", c.rms_eps, 1e-6f);
  if (preset == "ds-v2-lite") {  // DeepSeek-V2-Lite: 15.7B parameters, 2.4B active
    set("--n-layer", c.n_layer, int64_t{27});
    set("--n-embd", c.n_embd, int64_t{2048});
    set("--n-head", c.n_head, int64_t{16});
    set("--n-ff", c.n_ff, int64_t{10944});
    set("--n-vocab", c.n_vocab, int64_t{102400});
    set("--n-ctx", c.n_ctx, int64_t{163840});
    set("--q-lora-rank", d.q_lora_rank, int64_t{0});
    set("--kv-lora-rank", d.kv_lora_rank, int64_t{512});
    set("--qk-nope", d.qk_nope, int64_t{128});
    set("--qk-rope", d.qk_rope, int64_t{64});
    set("--v-head-dim", d.v_head_dim, int64_t{128});
    set("--n-expert", d.n_expert, int64_t{64});
    set("--n-expert-used", d.n_expert_used, int64_t{6});
    set("--n-expert-shared", d.n_expert_shared, int64_t{2});
    set("--n-ff-exp", d.n_ff_exp, int64_t{1408});
    set("--n-dense-lead", d.n_dense_lead, int64_t{1});
    set("--rope-mscale-all", d.rope_mscale_all, 0.707f);
    return;
  }
  set("--n-embd", c.n_embd, int64_t{64});
  set("--n-head", c.n_head, int64_t{4});
  set("--n-ff", c.n_ff, int64_t{96});
  set("--n-vocab", c.n_vocab, int64_t{512});
  set("--n-ctx", c.n_ctx, int64_t{163840});
  set("--kv-lora-rank", d.kv_lora_rank, int64_t{32});
  set("--qk-nope", d.qk_nope, int64_t{16});
  set("--qk-rope", d.qk_rope, int64_t{8});
  set("--v-head-dim", d.v_head_dim, int64_t{16});
  set("--n-ff-exp", d.n_ff_exp, int64_t{32});
  set("--n-dense-lead", d.n_dense_lead, int64_t{1});
  if (preset == "ds-v2-lite-tiny") {  // V2-Lite's features: no q-lora, softmax top-k, 2 shared
    set("--n-layer", c.n_layer, int64_t{3});
    set("--q-lora-rank", d.q_lora_rank, int64_t{0});
    set("--n-expert", d.n_expert, int64_t{8});
    set("--n-expert-used", d.n_expert_used, int64_t{3});
    set("--n-expert-shared", d.n_expert_shared, int64_t{2});
    set("--rope-mscale-all", d.rope_mscale_all, 0.707f);
  } else {  // ds-v3-tiny: q-lora, sigmoid + bias, groups, norm, scale 2.5, one MTP layer
    set("--n-layer", c.n_layer, int64_t{3});
    set("--q-lora-rank", d.q_lora_rank, int64_t{48});
    set("--n-expert", d.n_expert, int64_t{16});
    set("--n-expert-used", d.n_expert_used, int64_t{4});
    set("--n-expert-shared", d.n_expert_shared, int64_t{1});
    set("--n-group", d.n_group, int64_t{4});
    set("--n-group-used", d.n_group_used, int64_t{2});
    set("--gating", d.gating, std::string("sigmoid"));
    set("--expert-weights-scale", d.expert_weights_scale, 2.5f);
    set("--rope-mscale-all", d.rope_mscale_all, 1.0f);
    set("--nextn-layers", d.nextn_layers, int64_t{1});
    if (app.count("--expert-weights-norm") == 0) d.expert_weights_norm = true;
    if (app.count("--exp-probs-b") == 0) d.exp_probs_b = true;
  }
}

inline void validate_deepseek2(GenConfig& c) {
  Deepseek2Config& d = c.ds;
  auto fail = [](const std::string& field, const std::string& expected, int64_t found) {
    throw Error::field("latent-gen-model", field, expected, std::to_string(found));
  };
  if (d.q_lora_rank < 0) fail("--q-lora-rank", ">= 0", d.q_lora_rank);
  if (d.kv_lora_rank <= 0) fail("--kv-lora-rank", "> 0", d.kv_lora_rank);
  if (d.qk_nope <= 0) fail("--qk-nope", "> 0", d.qk_nope);
  if (d.qk_rope <= 0 || d.qk_rope % 2 != 0) fail("--qk-rope", "even and > 0", d.qk_rope);
  if (d.v_head_dim <= 0) fail("--v-head-dim", "> 0", d.v_head_dim);
  if (d.n_dense_lead < 0 || d.n_dense_lead > c.n_layer) {
    fail("--n-dense-lead", "0 ... --n-layer", d.n_dense_lead);
  }
  if (d.n_expert <= 0) fail("--n-expert", "> 0", d.n_expert);
  if (d.n_expert_used <= 0 || d.n_expert_used > d.n_expert) {
    fail("--n-expert-used", "1 ... --n-expert", d.n_expert_used);
  }
  if (d.n_expert_shared < 0) fail("--n-expert-shared", ">= 0", d.n_expert_shared);
  if (d.n_ff_exp <= 0) fail("--n-ff-exp", "> 0", d.n_ff_exp);
  if (d.n_group <= 0 || d.n_expert % d.n_group != 0) {
    fail("--n-group", "a divisor of --n-expert", d.n_group);
  }
  if (d.n_group > 1 && d.n_expert / d.n_group < 2) {
    fail("--n-group", "at most --n-expert / 2 (groups are ranked by their top-2 scores)",
         d.n_group);
  }
  if (d.n_group_used <= 0 || d.n_group_used > d.n_group ||
      d.n_group_used * (d.n_expert / d.n_group) < d.n_expert_used) {
    fail("--n-group-used", "1 ... --n-group, keeping >= --n-expert-used experts", d.n_group_used);
  }
  if (d.nextn_layers < 0) fail("--nextn-layers", ">= 0", d.nextn_layers);
  if (c.rope_scaling != "none" && c.rope_scaling != "yarn") {
    throw Error("latent-gen-model: --arch deepseek2 takes --rope-scaling none or yarn");
  }
  if (c.rope_factor == 0.0f) c.rope_factor = 40.0f;
  if (c.rope_scaling == "yarn" && d.rope_orig_ctx <= 0) {
    fail("--rope-orig-ctx", "> 0", d.rope_orig_ctx);
  }
}

// Keys after general.*; the caller writes general.* and tokenizer.*.
inline void write_deepseek2_keys(const GenConfig& c, GgufWriter& w) {
  const Deepseek2Config& d = c.ds;
  const std::string a = "deepseek2.";
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  const bool split = d.kv_b == "split";
  w.set_u32(a + "block_count", u32(c.n_layer + d.nextn_layers));
  w.set_u32(a + "context_length", u32(c.n_ctx));
  w.set_u32(a + "embedding_length", u32(c.n_embd));
  w.set_u32(a + "feed_forward_length", u32(c.n_ff));
  w.set_u32(a + "attention.head_count", u32(c.n_head));
  w.set_u32(a + "attention.head_count_kv", u32(split ? 1 : c.n_head));
  if (c.rope_scaling == "yarn") {
    w.set_str(a + "rope.scaling.type", "yarn");
    w.set_f32(a + "rope.scaling.factor", c.rope_factor);
    w.set_u32(a + "rope.scaling.original_context_length", u32(d.rope_orig_ctx));
    w.set_f32(a + "rope.scaling.yarn_beta_fast", 32.0f);
    w.set_f32(a + "rope.scaling.yarn_beta_slow", 1.0f);
  }
  w.set_f32(a + "rope.freq_base", c.rope_base);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", c.rms_eps);
  w.set_u32(a + "expert_used_count", u32(d.n_expert_used));
  w.set_u32(a + "expert_group_count", u32(d.n_group));
  w.set_u32(a + "expert_group_used_count", u32(d.n_group_used));
  w.set_u32(a + "expert_gating_func", d.gating == "sigmoid" ? 2u : 1u);  // llama.cpp's enum
  w.set_u32(a + "leading_dense_block_count", u32(d.n_dense_lead));
  w.set_u32(a + "vocab_size", u32(c.n_vocab));
  if (d.q_lora_rank > 0 || d.q_lora_zero_key) {
    w.set_u32(a + "attention.q_lora_rank", u32(d.q_lora_rank));
  }
  w.set_u32(a + "attention.kv_lora_rank", u32(d.kv_lora_rank));
  if (split) {
    w.set_u32(a + "attention.key_length", u32(d.kv_lora_rank + d.qk_rope));
    w.set_u32(a + "attention.value_length", u32(d.kv_lora_rank));
    w.set_u32(a + "attention.key_length_mla", u32(d.qk_nope + d.qk_rope));
    w.set_u32(a + "attention.value_length_mla", u32(d.v_head_dim));
  } else {
    w.set_u32(a + "attention.key_length", u32(d.qk_nope + d.qk_rope));
    w.set_u32(a + "attention.value_length", u32(d.v_head_dim));
  }
  w.set_u32(a + "expert_feed_forward_length", u32(d.n_ff_exp));
  w.set_u32(a + "expert_count", u32(d.n_expert));
  w.set_u32(a + "expert_shared_count", u32(d.n_expert_shared));
  if (d.expert_weights_scale != 0.0f) {
    w.set_f32(a + "expert_weights_scale", d.expert_weights_scale);
  }
  if (d.expert_weights_norm) w.set_bool(a + "expert_weights_norm", true);
  w.set_u32(a + "rope.dimension_count", u32(d.qk_rope));
  if (c.rope_scaling == "yarn" && d.rope_mscale_all != 0.0f) {
    w.set_f32(a + "rope.scaling.yarn_log_multiplier", 0.1f * d.rope_mscale_all);
  }
  if (d.nextn_layers > 0) w.set_u32(a + "nextn_predict_layers", u32(d.nextn_layers));
}

// kv_b_proj [n_head * (qk_nope + v), kv_lora] drawn once per layer (stream "blk.N.attn_kv_b.weight"
// in both layouts, so --kv-b split and combined hold the same weights), stored combined or split.
inline void write_kv_b(const GenConfig& c, TensorMaker& t, const std::string& p) {
  const Deepseek2Config& d = c.ds;
  const int64_t H = c.n_head, R = d.kv_lora_rank, N = d.qk_nope, V = d.v_head_dim;
  const std::vector<float> kv_b = random_values(t.seed(), p + "attn_kv_b.weight", H * (N + V), R,
                                                0.0, 1.0 / std::sqrt(static_cast<double>(R)));
  if (d.kv_b == "combined") {
    t.values(p + "attn_kv_b.weight", {H * (N + V), R}, kv_b);
    return;
  }
  std::vector<float> k_b(static_cast<size_t>(H * R * N)), v_b(static_cast<size_t>(H * V * R));
  for (int64_t h = 0; h < H; ++h) {
    const float* rows = kv_b.data() + h * (N + V) * R;  // this head's [N + V, R] block
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t r = 0; r < R; ++r) k_b[(h * R + r) * N + n] = rows[n * R + r];  // transposed
    }
    for (int64_t v = 0; v < V; ++v) {
      for (int64_t r = 0; r < R; ++r) v_b[(h * V + v) * R + r] = rows[(N + v) * R + r];
    }
  }
  t.values(p + "attn_k_b.weight", {H, R, N}, k_b);
  t.values(p + "attn_v_b.weight", {H, V, R}, v_b);
}

inline void write_deepseek2_layer(const GenConfig& c, TensorMaker& t, int64_t l) {
  const Deepseek2Config& d = c.ds;
  const std::string p = "blk." + std::to_string(l) + ".";
  const int64_t E = c.n_embd, n_q = c.n_head * (d.qk_nope + d.qk_rope);
  auto inv_sqrt = [](int64_t n) { return 1.0 / std::sqrt(static_cast<double>(n)); };
  t.vector(p + "attn_norm.weight", E, 1.0, 0.1);
  if (d.q_lora_rank > 0) {
    t.matrix(p + "attn_q_a.weight", d.q_lora_rank, E);
    t.vector(p + "attn_q_a_norm.weight", d.q_lora_rank, 1.0, 0.1);
    t.matrix(p + "attn_q_b.weight", n_q, d.q_lora_rank);
  } else {
    t.matrix(p + "attn_q.weight", n_q, E);
  }
  t.matrix(p + "attn_kv_a_mqa.weight", d.kv_lora_rank + d.qk_rope, E);
  t.vector(p + "attn_kv_a_norm.weight", d.kv_lora_rank, 1.0, 0.1);
  write_kv_b(c, t, p);
  t.matrix(p + "attn_output.weight", E, c.n_head * d.v_head_dim);
  t.vector(p + "ffn_norm.weight", E, 1.0, 0.1);
  if (l < d.n_dense_lead) {
    t.matrix(p + "ffn_gate.weight", c.n_ff, E);
    t.matrix(p + "ffn_up.weight", c.n_ff, E);
    t.matrix(p + "ffn_down.weight", E, c.n_ff);
  } else {
    // The router stays F32 in every file (llama.cpp's quantizer never quantizes ffn_gate_inp).
    t.weight(p + "ffn_gate_inp.weight", {d.n_expert, E}, inv_sqrt(E), /*force_f32=*/true);
    if (d.exp_probs_b) t.vector(p + "exp_probs_b.bias", d.n_expert, 0.0, 0.1);
    t.weight(p + "ffn_gate_exps.weight", {d.n_expert, d.n_ff_exp, E}, inv_sqrt(E));
    t.weight(p + "ffn_up_exps.weight", {d.n_expert, d.n_ff_exp, E}, inv_sqrt(E));
    t.weight(p + "ffn_down_exps.weight", {d.n_expert, E, d.n_ff_exp}, inv_sqrt(d.n_ff_exp));
    if (d.n_expert_shared > 0) {
      const int64_t n_sh = d.n_ff_exp * d.n_expert_shared;
      t.matrix(p + "ffn_gate_shexp.weight", n_sh, E);
      t.matrix(p + "ffn_up_shexp.weight", n_sh, E);
      t.matrix(p + "ffn_down_shexp.weight", E, n_sh);
    }
  }
  if (l >= c.n_layer) {  // MTP block: DeepSeek-V3's embed/hidden projection and its own head
    t.matrix(p + "nextn.eh_proj.weight", E, 2 * E);
    t.vector(p + "nextn.enorm.weight", E, 1.0, 0.1);
    t.vector(p + "nextn.hnorm.weight", E, 1.0, 0.1);
    t.matrix(p + "nextn.embed_tokens.weight", c.n_vocab, E);
    t.vector(p + "nextn.shared_head_norm.weight", E, 1.0, 0.1);
    t.matrix(p + "nextn.shared_head_head.weight", c.n_vocab, E);
  }
}

inline void write_deepseek2_tensors(const GenConfig& c, TensorMaker& t) {
  t.matrix("token_embd.weight", c.n_vocab, c.n_embd);
  t.vector("output_norm.weight", c.n_embd, 1.0, 0.1);
  if (!c.tied) t.matrix("output.weight", c.n_vocab, c.n_embd);
  for (int64_t l = 0; l < c.n_layer + c.ds.nextn_layers; ++l) write_deepseek2_layer(c, t, l);
}

}  // namespace latent::gen
