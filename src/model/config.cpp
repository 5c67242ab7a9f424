// Hyperparameters from GGUF keys, validated so the forward pass can trust them.
#include "model/config.h"

#include "base/error.h"

namespace latent {
namespace {

struct ArchSpec {
  const char* name;
  Arch arch;
  kernels::RopeMode rope_mode;
  bool qkv_bias;
};

// Llama GGUFs store Q/K permuted so rope acts on adjacent pairs (NORM); Qwen2 keeps HF's halves
// (NEOX).
constexpr ArchSpec kArchs[] = {
    {"llama", Arch::kLlama, kernels::RopeMode::kNorm, false},
    {"qwen2", Arch::kQwen2, kernels::RopeMode::kNeox, true},
    {"deepseek2", Arch::kDeepseek2, kernels::RopeMode::kNorm, false},
};

int32_t positive_i32(const GgufFile& f, const std::string& key, uint64_t value, uint64_t max) {
  if (value == 0 || value > max) {
    throw Error::field(f.path(), key, "a value in [1, " + std::to_string(max) + "]",
                       std::to_string(value));
  }
  return static_cast<int32_t>(value);
}

}  // namespace

std::string supported_architectures() {
  std::string s;
  for (const auto& a : kArchs) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

int64_t ModelConfig::cache_k_width() const {
  if (arch == Arch::kDeepseek2) return int64_t{ds.kv_lora_rank} + ds.qk_rope;
  return int64_t{n_head_kv} * head_dim_k;
}
int64_t ModelConfig::cache_v_width() const {
  return arch == Arch::kDeepseek2 ? 0 : int64_t{n_head_kv} * head_dim_v;
}

int64_t ModelConfig::kv_bytes_per_token() const {
  return int64_t{n_layer} * (cache_k_width() + cache_v_width()) *
         static_cast<int64_t>(sizeof(float));
}

int64_t ModelConfig::kv_bytes_per_token_expanded() const {
  if (arch != Arch::kDeepseek2) return kv_bytes_per_token();
  return int64_t{n_layer} * n_head * (int64_t{ds.qk_nope} + ds.qk_rope + ds.v_head_dim) *
         static_cast<int64_t>(sizeof(float));
}

ModelConfig read_model_config(const GgufFile& f) {
  ModelConfig c;
  c.arch_name = f.get_str("general.architecture");
  const ArchSpec* spec = nullptr;
  for (const auto& a : kArchs)
    if (c.arch_name == a.name) spec = &a;
  if (!spec) {
    throw Error::field(f.path(), "general.architecture",
                       "one of the supported architectures (" + supported_architectures() + ")",
                       "'" + c.arch_name + "'");
  }
  c.arch = spec->arch;
  c.rope_mode = spec->rope_mode;
  c.qkv_bias = spec->qkv_bias;
  c.name = f.get_str_opt("general.name").value_or("");
  const std::string p = c.arch_name + ".";
  auto req = [&](const std::string& key, uint64_t max) {
    return positive_i32(f, p + key, f.get_u64(p + key), max);
  };
  c.n_embd = req("embedding_length", 1 << 20);
  c.n_layer = req("block_count", 4096);
  c.n_ff = req("feed_forward_length", 1 << 22);
  c.n_head = req("attention.head_count", 1 << 16);
  c.n_ctx_train = req("context_length", 1 << 30);
  c.n_head_kv = c.n_head;
  if (auto v = f.get_u64_opt(p + "attention.head_count_kv"))
    c.n_head_kv = positive_i32(f, p + "attention.head_count_kv", *v, 1 << 16);
  if (c.n_head % c.n_head_kv != 0) {
    throw Error::field(f.path(), p + "attention.head_count_kv",
                       "a divisor of head_count " + std::to_string(c.n_head),
                       std::to_string(c.n_head_kv));
  }
  if (c.n_embd % c.n_head != 0 && !f.find(p + "attention.key_length")) {
    throw Error::field(f.path(), p + "embedding_length",
                       "a multiple of head_count " + std::to_string(c.n_head),
                       std::to_string(c.n_embd));
  }
  c.head_dim_k = c.n_embd / c.n_head;
  if (auto v = f.get_u64_opt(p + "attention.key_length"))
    c.head_dim_k = positive_i32(f, p + "attention.key_length", *v, 1 << 16);
  c.head_dim_v = c.head_dim_k;
  if (auto v = f.get_u64_opt(p + "attention.value_length"))
    c.head_dim_v = positive_i32(f, p + "attention.value_length", *v, 1 << 16);
  if (c.head_dim_k != c.head_dim_v && c.arch != Arch::kDeepseek2) {
    throw Error::field(
        f.path(), p + "attention.value_length",
        "equal to key_length " + std::to_string(c.head_dim_k) + " for " + c.arch_name,
        std::to_string(c.head_dim_v));
  }
  c.n_rot = c.head_dim_k;
  if (auto v = f.get_u64_opt(p + "rope.dimension_count"))
    c.n_rot = positive_i32(f, p + "rope.dimension_count", *v, c.head_dim_k);
  if (c.n_rot % 2 != 0)
    throw Error::field(f.path(), p + "rope.dimension_count", "an even number",
                       std::to_string(c.n_rot));
  c.rms_eps = f.get_f32(p + "attention.layer_norm_rms_epsilon");
  if (!(c.rms_eps > 0.0f && c.rms_eps < 1.0f))
    throw Error::field(f.path(), p + "attention.layer_norm_rms_epsilon", "a value in (0, 1)",
                       std::to_string(c.rms_eps));
  c.rope_freq_base = f.get_f32_opt(p + "rope.freq_base").value_or(10000.0f);
  if (!(c.rope_freq_base > 1.0f))
    throw Error::field(f.path(), p + "rope.freq_base", "a value > 1",
                       std::to_string(c.rope_freq_base));
  c.rope_scaling_type = f.get_str_opt(p + "rope.scaling.type").value_or("none");
  if (c.rope_scaling_type == "linear") {
    const float factor = f.get_f32(p + "rope.scaling.factor");
    if (!(factor > 0.0f))
      throw Error::field(f.path(), p + "rope.scaling.factor", "a value > 0",
                         std::to_string(factor));
    c.rope_freq_scale = 1.0f / factor;
  } else if (c.rope_scaling_type != "none" &&
             !(c.arch == Arch::kDeepseek2 && c.rope_scaling_type == "yarn")) {
    throw Error::field(
        f.path(), p + "rope.scaling.type",
        c.arch == Arch::kDeepseek2 ? "'none', 'linear' or 'yarn'" : "'none' or 'linear'",
        "'" + c.rope_scaling_type + "'");
  }
  // The vocabulary size comes from the embedding tensor (the authoritative shape), checked in
  // Weights.
  if (auto v = f.get_u64_opt(p + "vocab_size"))
    c.n_vocab = positive_i32(f, p + "vocab_size", *v, 1 << 24);
  if (c.arch == Arch::kDeepseek2) read_deepseek2_config(f, c);
  return c;
}

}  // namespace latent
