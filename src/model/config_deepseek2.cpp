// The "deepseek2.*" hyperparameters as llama.cpp's converter writes them (V2-Lite, V2, V3, R1):
// MLA ranks and head splits, DeepSeekMoE routing, YaRN with DeepSeek's mscale. Validated so the
// forward pass can trust them; the generic keys are read by read_model_config.
#include <cmath>

#include "base/error.h"
#include "model/config.h"

namespace latent {
namespace {

struct Reader {
  const GgufFile& f;
  std::string p;  // "deepseek2."
  int32_t in_range(const std::string& key, uint64_t v, uint64_t lo, uint64_t hi) const {
    if (v < lo || v > hi)
      throw Error::field(f.path(), p + key,
                         "a value in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]",
                         std::to_string(v));
    return static_cast<int32_t>(v);
  }
  int32_t req(const std::string& key, uint64_t lo, uint64_t hi) const {
    return in_range(key, f.get_u64(p + key), lo, hi);
  }
  int32_t opt(const std::string& key, uint64_t lo, uint64_t hi, int32_t dflt) const {
    auto v = f.get_u64_opt(p + key);
    return v ? in_range(key, *v, lo, hi) : dflt;
  }
  [[noreturn]] void fail(const std::string& key, const std::string& expected,
                         const std::string& found) const {
    throw Error::field(f.path(), p + key, expected, found);
  }
};

void read_heads(const Reader& r, ModelConfig& c) {
  Deepseek2Config& d = c.ds;
  d.q_lora_rank = r.opt("attention.q_lora_rank", 0, 1 << 16, 0);  // absent or 0: attn_q
  d.kv_lora_rank = r.req("attention.kv_lora_rank", 1, 1 << 16);
  d.qk_rope = c.n_rot;
  if (!r.f.find(r.p + "rope.dimension_count"))
    r.fail("rope.dimension_count", "present (qk_rope_head_dim)", "missing");
  int32_t k_mla = c.head_dim_k, v_mla = c.head_dim_v;
  const bool split = r.f.find(r.p + "attention.key_length_mla") != nullptr;
  if (split) {
    // Split k_b/v_b files: key/value_length describe the absorbed (MQA) view of the cache.
    k_mla = r.req("attention.key_length_mla", 2, 1 << 16);
    v_mla = r.req("attention.value_length_mla", 1, 1 << 16);
    if (c.head_dim_k != d.kv_lora_rank + d.qk_rope)
      r.fail("attention.key_length",
             "kv_lora_rank + qk_rope = " + std::to_string(d.kv_lora_rank + d.qk_rope),
             std::to_string(c.head_dim_k));
    if (c.head_dim_v != d.kv_lora_rank)
      r.fail("attention.value_length", "kv_lora_rank = " + std::to_string(d.kv_lora_rank),
             std::to_string(c.head_dim_v));
  }
  if (k_mla <= d.qk_rope)
    r.fail("attention.key_length_mla", "more than the rope dimension " + std::to_string(d.qk_rope),
           std::to_string(k_mla));
  d.qk_nope = k_mla - d.qk_rope;
  d.v_head_dim = v_mla;
  // Split files describe MQA over the latent (1); older combined-kv_b files wrote n_head.
  if (c.n_head_kv != 1 && (split || c.n_head_kv != c.n_head))
    r.fail("attention.head_count_kv", split ? "1 (MLA is MQA over the latent)" : "1 or head_count",
           std::to_string(c.n_head_kv));
}

void read_moe(const Reader& r, ModelConfig& c) {
  Deepseek2Config& d = c.ds;
  d.n_layer_dense_lead = r.opt("leading_dense_block_count", 0, c.n_layer, 0);
  d.n_ff_exp = r.req("expert_feed_forward_length", 1, 1 << 22);
  d.n_expert = r.opt("expert_count", 1, 1 << 16, 0);
  if (d.n_expert == 0) {
    if (d.n_layer_dense_lead < c.n_layer)
      r.fail("expert_count", "present when a layer is MoE", "missing");
    return;
  }
  d.n_expert_used = r.req("expert_used_count", 1, d.n_expert);
  d.n_expert_shared = r.req("expert_shared_count", 0, 1 << 10);
  d.n_expert_groups = std::max(1, r.opt("expert_group_count", 0, d.n_expert, 1));
  if (d.n_expert % d.n_expert_groups != 0)
    r.fail("expert_group_count", "a divisor of expert_count " + std::to_string(d.n_expert),
           std::to_string(d.n_expert_groups));
  d.n_group_used = d.n_expert_groups > 1 ? r.req("expert_group_used_count", 1, d.n_expert_groups)
                                         : r.opt("expert_group_used_count", 0, 1 << 16, 1);
  if (d.n_expert_groups > 1 && d.n_expert_used > d.n_group_used * (d.n_expert / d.n_expert_groups))
    r.fail("expert_used_count", "at most the experts of the used groups",
           std::to_string(d.n_expert_used));
  if (d.n_expert_groups == 1) d.n_group_used = 1;
  const float scale = r.f.get_f32_opt(r.p + "expert_weights_scale").value_or(0.0f);
  if (!(scale >= 0.0f && std::isfinite(scale)))
    r.fail("expert_weights_scale", "a finite value ≥ 0", std::to_string(scale));
  d.expert_weights_scale = scale == 0.0f ? 1.0f : scale;  // llama.cpp: 0 = absent = no scaling
  d.expert_weights_norm = r.f.get_bool_opt(r.p + "expert_weights_norm").value_or(false);
  // llama_expert_gating_func_type: 0 (unset, V2 files) and 1 softmax, 2 sigmoid.
  const uint64_t g = r.f.get_u64_opt(r.p + "expert_gating_func").value_or(0);
  if (g > 2) r.fail("expert_gating_func", "1 (softmax) or 2 (sigmoid)", std::to_string(g));
  d.gating = g == 2 ? kernels::MoeGating::kSigmoid : kernels::MoeGating::kSoftmax;
}

// YaRN as DeepSeek's HF DeepseekV2YarnRotaryEmbedding and llama.cpp (models/deepseek2.cpp, ggml
// rope_yarn) compute it for DeepSeek files: with s = rope.scaling.factor and m =
// yarn_log_multiplier/0.1 (mscale_all_dim, the converter writes 0.1·m), angles blend interpolated
// and original frequencies by the ramp between the correction dims, cos/sin keep magnitude 1, and
// the softmax scale is mscale²/√(qk_nope+qk_rope), mscale = 1 + 0.1·m·ln s. Without the key (HF
// mscale_all_dim 0) cos/sin carry 1 + 0.1·ln s and the softmax scale stays 1/√(qk_nope+qk_rope);
// llama.cpp 3f545bec would also square that factor into the scale — real files carry the key, and
// we follow the model's definition (as tests/reference/deepseek2_ref.py does). A
// rope.scaling.attn_factor key multiplies both the magnitude and mscale, as in llama.cpp.
void read_rope(const Reader& r, ModelConfig& c) {
  Deepseek2Config& d = c.ds;
  const float attn_scale = r.f.get_f32_opt(r.p + "rope.scaling.attn_factor").value_or(1.0f);
  float mscale = attn_scale;
  d.rope_mscale = attn_scale;
  if (c.rope_scaling_type == "linear")
    r.fail("rope.scaling.type", "'none' or 'yarn' for deepseek2", "'linear'");
  if (c.rope_scaling_type == "yarn") {
    const float factor = r.f.get_f32(r.p + "rope.scaling.factor");
    if (!(factor >= 1.0f)) r.fail("rope.scaling.factor", "a value ≥ 1", std::to_string(factor));
    c.rope_freq_scale = 1.0f / factor;
    d.n_ctx_orig = r.opt("rope.scaling.original_context_length", 1, 1u << 30, c.n_ctx_train);
    const float log_mul =
        r.f.get_f32_opt(r.p + "rope.scaling.yarn_log_multiplier").value_or(0.0f) / 0.1f;
    const float beta_fast = r.f.get_f32_opt(r.p + "rope.scaling.yarn_beta_fast").value_or(32.0f);
    const float beta_slow = r.f.get_f32_opt(r.p + "rope.scaling.yarn_beta_slow").value_or(1.0f);
    d.yarn_ext_factor = r.f.get_f32_opt(r.p + "rope.scaling.yarn_ext_factor").value_or(1.0f);
    const float ln_s = std::log(factor);
    if (log_mul != 0.0f) {
      mscale = attn_scale * (1.0f + 0.1f * log_mul * ln_s);
    } else {
      d.rope_mscale = attn_scale * (1.0f + 0.1f * ln_s);
    }
    if (d.yarn_ext_factor == 0.0f) d.rope_mscale = attn_scale;  // ggml: no YaRN magnitude
    // ggml_rope_yarn_corr_dims: the pair index where a frequency turns beta times over n_ctx_orig
    auto corr = [&](float beta) {
      return d.qk_rope * std::log(d.n_ctx_orig / (beta * 2.0f * float(M_PI))) /
             (2.0f * std::log(c.rope_freq_base));
    };
    d.yarn_low = std::max(0.0f, std::floor(corr(beta_fast)));
    d.yarn_high = std::min(float(d.qk_rope - 1), std::ceil(corr(beta_slow)));
  }
  d.kq_scale = mscale * mscale / std::sqrt(float(d.qk_nope + d.qk_rope));
}

}  // namespace

void read_deepseek2_config(const GgufFile& f, ModelConfig& c) {
  const Reader r{f, c.arch_name + "."};
  c.ds = Deepseek2Config{};
  c.ds.n_layer_nextn = r.opt("nextn_predict_layers", 0, c.n_layer - 1, 0);
  c.n_layer -= c.ds.n_layer_nextn;  // block_count counts the MTP layers too
  read_heads(r, c);
  read_moe(r, c);
  read_rope(r, c);
}

}  // namespace latent
