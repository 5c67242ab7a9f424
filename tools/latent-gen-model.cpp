// latent-gen-model: writes a random-weight `llama`, `qwen2` or `deepseek2` GGUF (llama.cpp's key
// and tensor names, a complete SPM tokenizer block) for the reference-logit tests and for
// benchmarks at real shapes. Owns shapes, hyperparameter keys and the synthetic vocabulary; the
// weight streams are gen_model/random_weights.h, deepseek2 is gen_model/deepseek2.h; the file
// format and the quantizers belong to gguf/ (GgufWriter) and tensor/ (quantize_row).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <numbers>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "gen_model/config.h"
#include "gen_model/deepseek2.h"
#include "gen_model/quant_mix.h"
#include "gen_model/random_weights.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace latent {
namespace {

using gen::GenConfig;

// llama.cpp's LLAMA_FTYPE for a file whose matrices are all of one type (informational only; the
// K-quants map to their _S variant).
uint32_t file_type(DType t) {
  static constexpr std::pair<DType, uint32_t> kFileTypes[] = {
      {DType::F32, 0},   {DType::F16, 1},   {DType::Q4_0, 2},  {DType::Q4_1, 3},  {DType::Q8_0, 7},
      {DType::Q5_0, 8},  {DType::Q5_1, 9},  {DType::Q2_K, 10}, {DType::Q3_K, 11}, {DType::Q4_K, 14},
      {DType::Q5_K, 16}, {DType::Q6_K, 18}, {DType::BF16, 32}};
  for (const auto& [dtype, ftype] : kFileTypes) {
    if (dtype == t) return ftype;
  }
  return 0;
}

class ModelWriter {
 public:
  explicit ModelWriter(const GenConfig& c)
      : c_(c),
        mix_(gen::quant_mix_from_name(c.type)),
        type_(mix_ ? mix_->base : *dtype_from_name(c.type)),
        t_(w_, c.seed, type_) {}

  void write() {
    w_.set_str("general.architecture", c_.arch);
    w_.set_str("general.name", "latent-random-" + c_.arch);
    w_.set_u32("general.alignment", 32);
    w_.set_u32("general.file_type", mix_ ? mix_->file_type : file_type(type_));
    if (c_.arch == "deepseek2") {
      gen::write_deepseek2_keys(c_, w_);
    } else {
      llama_keys();
    }
    if (c_.vocab_from.empty()) {
      synthetic_vocab();
    } else {
      copy_vocab();
    }
    if (c_.arch == "deepseek2") {
      gen::write_deepseek2_tensors(c_, t_);
    } else {
      llama_tensors();
    }
    w_.write(c_.out);
  }

 private:
  // more_bits: a tensor that llama.cpp's _K_M mixes store as Q6_K (gen_model/quant_mix.h).
  void matrix(const std::string& name, int64_t rows, int64_t cols, bool more_bits = false) {
    if (!mix_) return t_.matrix(name, rows, cols);
    gen::TensorMaker(w_, c_.seed, gen::quant_mix_type(*mix_, more_bits, cols))
        .matrix(name, rows, cols);
  }
  void vector(const std::string& name, int64_t n, double mean, double stddev) {
    t_.vector(name, n, mean, stddev);
  }

  void llama_keys() {
    const std::string& a = c_.arch;
    w_.set_u32(a + ".context_length", u32(c_.n_ctx));
    w_.set_u32(a + ".embedding_length", u32(c_.n_embd));
    w_.set_u32(a + ".block_count", u32(c_.n_layer));
    w_.set_u32(a + ".feed_forward_length", u32(c_.n_ff));
    w_.set_u32(a + ".attention.head_count", u32(c_.n_head));
    w_.set_u32(a + ".attention.head_count_kv", u32(c_.n_head_kv));
    if (c_.head_dim * c_.n_head != c_.n_embd) {
      w_.set_u32(a + ".attention.key_length", u32(c_.head_dim));
      w_.set_u32(a + ".attention.value_length", u32(c_.head_dim));
    }
    w_.set_u32(a + ".rope.dimension_count", u32(c_.head_dim));
    w_.set_f32(a + ".rope.freq_base", c_.rope_base);
    w_.set_f32(a + ".attention.layer_norm_rms_epsilon", c_.rms_eps);
    if (c_.rope_scaling == "linear") {
      w_.set_str(a + ".rope.scaling.type", "linear");
      w_.set_f32(a + ".rope.scaling.factor", c_.rope_factor);
    }
  }

  void llama_tensors() {
    const std::string& a = c_.arch;
    const int64_t n_q = c_.n_head * c_.head_dim, n_kv = c_.n_head_kv * c_.head_dim;
    matrix("token_embd.weight", c_.n_vocab, c_.n_embd, /*more_bits=*/c_.tied);
    vector("output_norm.weight", c_.n_embd, 1.0, 0.1);
    if (!c_.tied) matrix("output.weight", c_.n_vocab, c_.n_embd, /*more_bits=*/true);
    if (c_.rope_scaling == "llama3")
      w_.add_tensor_f32("rope_freqs.weight", DType::F32, {c_.head_dim / 2}, llama3_rope_factors());
    for (int64_t l = 0; l < c_.n_layer; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      const bool more_bits = gen::use_more_bits(l, c_.n_layer);
      vector(p + "attn_norm.weight", c_.n_embd, 1.0, 0.1);
      matrix(p + "attn_q.weight", n_q, c_.n_embd);
      matrix(p + "attn_k.weight", n_kv, c_.n_embd);
      matrix(p + "attn_v.weight", n_kv, c_.n_embd, more_bits);
      if (a == "qwen2") {
        vector(p + "attn_q.bias", n_q, 0.0, 0.5);
        vector(p + "attn_k.bias", n_kv, 0.0, 0.5);
        vector(p + "attn_v.bias", n_kv, 0.0, 0.5);
      }
      matrix(p + "attn_output.weight", c_.n_embd, n_q);
      vector(p + "ffn_norm.weight", c_.n_embd, 1.0, 0.1);
      matrix(p + "ffn_gate.weight", c_.n_ff, c_.n_embd);
      matrix(p + "ffn_up.weight", c_.n_ff, c_.n_embd);
      matrix(p + "ffn_down.weight", c_.n_embd, c_.n_ff, more_bits);
    }
  }

  static uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }

  // Llama 3.1's frequency factors, as llama.cpp's converter writes them (conversion/llama.py,
  // generate_extra_tensors): low 1, high 4, original context 8192; theta_i is divided by f_i.
  std::vector<float> llama3_rope_factors() const {
    const double low = 1.0, high = 4.0, old_ctx = 8192.0, factor = c_.rope_factor;
    const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
    std::vector<float> f;
    for (int64_t i = 0; i < c_.head_dim; i += 2) {
      const double freq = 1.0 / std::pow(c_.rope_base, static_cast<double>(i) / c_.head_dim);
      const double wavelen = 2.0 * std::numbers::pi / freq;
      if (wavelen < high_wavelen) {
        f.push_back(1.0f);
      } else if (wavelen > low_wavelen) {
        f.push_back(static_cast<float>(factor));
      } else {
        const double smooth = (old_ctx / wavelen - low) / (high - low);
        f.push_back(static_cast<float>(1.0 / ((1.0 - smooth) / factor + smooth)));
      }
    }
    return f;
  }

  // <unk>, <s>, </s>, the 256 byte tokens <0xXX>, then distinct pieces: "▁", printable ASCII with
  // and without "▁", then lowercase strings of growing length. Types as SentencePiece: 2 unknown,
  // 3 control, 6 byte, 1 normal; earlier pieces score higher (merged first).
  void synthetic_vocab() {
    const std::string sp = "\xE2\x96\x81";  // U+2581, SentencePiece's space
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    std::vector<int32_t> types = {2, 3, 3};
    for (int b = 0; b < 256; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      tokens.push_back(buf);
      types.push_back(6);
    }
    std::vector<std::string> pieces = {sp};
    for (char ch = 33; ch < 127; ++ch) pieces.push_back(std::string(1, ch));
    for (char ch = 33; ch < 127; ++ch) pieces.push_back(sp + ch);
    for (int len = 2; static_cast<int64_t>(tokens.size() + pieces.size()) < c_.n_vocab; ++len) {
      int64_t count = 1;
      for (int i = 0; i < len; ++i) count *= 26;
      for (int64_t k = 0; k < count; ++k) {
        std::string s(len, 'a');
        for (int64_t i = len - 1, r = k; i >= 0; --i, r /= 26)
          s[i] = static_cast<char>('a' + r % 26);
        pieces.push_back(s);
        pieces.push_back(sp + s);
        if (static_cast<int64_t>(tokens.size() + pieces.size()) >= c_.n_vocab) break;
      }
    }
    std::vector<float> scores(tokens.size(), 0.0f);
    for (size_t i = 0; tokens.size() < static_cast<size_t>(c_.n_vocab); ++i) {
      tokens.push_back(pieces[i]);
      types.push_back(1);
      scores.push_back(-static_cast<float>(i));
    }
    w_.set_str("tokenizer.ggml.model", "llama");
    w_.set_str_array("tokenizer.ggml.tokens", tokens);
    w_.set_f32_array("tokenizer.ggml.scores", scores);
    w_.set_i32_array("tokenizer.ggml.token_type", types);
    w_.set_u32("tokenizer.ggml.bos_token_id", 1);
    w_.set_u32("tokenizer.ggml.eos_token_id", 2);
    w_.set_u32("tokenizer.ggml.unknown_token_id", 0);
    w_.set_bool("tokenizer.ggml.add_bos_token", true);
    w_.set_bool("tokenizer.ggml.add_eos_token", false);
  }

  // Every tokenizer.* key of another GGUF (e.g. llama.cpp's ggml-vocab-llama-spm.gguf).
  void copy_vocab() {
    const GgufFile src = GgufFile::open(c_.vocab_from);
    const auto tokens = src.get_str_array_opt("tokenizer.ggml.tokens");
    if (!tokens || static_cast<int64_t>(tokens->size()) != c_.n_vocab) {
      throw Error::field(c_.vocab_from, "tokenizer.ggml.tokens",
                         std::to_string(c_.n_vocab) + " tokens (--n-vocab)",
                         tokens ? std::to_string(tokens->size()) : "missing");
    }
    for (const auto& [key, value] : src.metadata()) {
      if (key.starts_with("tokenizer.")) w_.set(key, value);
    }
  }

  const GenConfig& c_;
  std::optional<gen::QuantMix> mix_;  // --type q4_k_m / q5_k_m
  DType type_;                        // the mix's base type for a mix
  GgufWriter w_;
  gen::TensorMaker t_;
};

// Real shapes; options given explicitly on the command line win over the preset.
void apply_preset(const std::string& preset, const CLI::App& app, GenConfig& c) {
  if (preset.starts_with("ds-")) {
    gen::apply_deepseek2_preset(preset, app, c);
    return;
  }
  auto set = [&](const char* opt, auto& field, auto value) {
    if (app.count(opt) == 0) field = value;
  };
  set("--n-embd", c.n_embd, 2048);
  set("--n-head", c.n_head, 32);
  set("--rms-eps", c.rms_eps, 1e-5f);
  if (preset == "tinyllama") {  // TinyLlama-1.1B
    set("--n-layer", c.n_layer, 22);
    set("--n-head-kv", c.n_head_kv, 4);
    set("--n-ff", c.n_ff, 5632);
    set("--n-vocab", c.n_vocab, 32000);
    set("--n-ctx", c.n_ctx, 2048);
    set("--rope-base", c.rope_base, 10000.0f);
  } else {  // llama32-1b: Llama-3.2-1B
    set("--n-layer", c.n_layer, 16);
    set("--n-head-kv", c.n_head_kv, 8);
    set("--n-ff", c.n_ff, 8192);
    set("--n-vocab", c.n_vocab, 128256);
    set("--n-ctx", c.n_ctx, 131072);
    set("--rope-base", c.rope_base, 500000.0f);
    set("--rope-scaling", c.rope_scaling, std::string("llama3"));
    if (app.count("--tied") == 0) c.tied = true;
  }
  set("--arch", c.arch, std::string("llama"));
}

void validate(GenConfig& c) {
  auto fail = [](const std::string& field, const std::string& expected, int64_t found) {
    throw Error::field("latent-gen-model", field, expected, std::to_string(found));
  };
  if (c.n_embd <= 0) fail("--n-embd", "> 0", c.n_embd);
  if (c.n_layer < 0) fail("--n-layer", ">= 0", c.n_layer);
  if (c.n_head <= 0) fail("--n-head", "> 0", c.n_head);
  if (c.n_ff <= 0) fail("--n-ff", "> 0", c.n_ff);
  if (c.n_vocab < 259 && c.vocab_from.empty()) {
    fail("--n-vocab", ">= 259 (<unk>, <s>, </s> and 256 byte tokens)", c.n_vocab);
  }
  if (c.arch == "deepseek2") {
    gen::validate_deepseek2(c);
    return;
  }
  if (c.rope_scaling == "yarn")
    throw Error("latent-gen-model: --rope-scaling yarn needs deepseek2");
  if (c.n_head_kv == 0) c.n_head_kv = c.n_head;
  if (c.n_head_kv < 0 || c.n_head % c.n_head_kv != 0) {
    fail("--n-head-kv", "a divisor of --n-head " + std::to_string(c.n_head), c.n_head_kv);
  }
  if (c.head_dim == 0) {
    if (c.n_embd % c.n_head != 0)
      fail("--n-embd", "a multiple of --n-head (or give --head-dim)", c.n_embd);
    c.head_dim = c.n_embd / c.n_head;
  }
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) fail("--head-dim", "even and > 0", c.head_dim);
  if (c.rope_factor == 0.0f) c.rope_factor = c.rope_scaling == "llama3" ? 8.0f : 2.0f;
  if (c.rope_scaling == "llama3" && c.arch != "llama") {
    throw Error(
        "latent-gen-model: --rope-scaling llama3 needs --arch llama (llama.cpp's qwen2 has no "
        "rope_freqs tensor)");
  }
}

int run(int argc, char** argv) {
  GenConfig c;
  std::string preset;
  CLI::App app{"Writes a random-weight llama/qwen2/deepseek2 GGUF model."};
  app.add_option("--preset", preset,
                 "real shapes: tinyllama | llama32-1b | ds-v2-lite; small deepseek2 test models: "
                 "ds-v2-lite-tiny | ds-v3-tiny (explicit options win)")
      ->check(CLI::IsMember(
          {"tinyllama", "llama32-1b", "ds-v2-lite", "ds-v2-lite-tiny", "ds-v3-tiny"}));
  app.add_option("--arch", c.arch)
      ->check(CLI::IsMember({"llama", "qwen2", "deepseek2"}))
      ->capture_default_str();
  app.add_option("--n-embd", c.n_embd)->capture_default_str();
  app.add_option("--n-layer", c.n_layer)->capture_default_str();
  app.add_option("--n-head", c.n_head)->capture_default_str();
  app.add_option("--n-head-kv", c.n_head_kv, "default: --n-head");
  app.add_option("--head-dim", c.head_dim,
                 "default: n_embd / n_head (llama.cpp's qwen2 accepts only that)");
  app.add_option("--n-ff", c.n_ff)->capture_default_str();
  app.add_option("--n-vocab", c.n_vocab)->capture_default_str();
  app.add_option("--n-ctx", c.n_ctx)->capture_default_str();
  app.add_option("--rope-base", c.rope_base)->capture_default_str();
  app.add_option("--rms-eps", c.rms_eps)->capture_default_str();
  app.add_flag("--tied", c.tied, "no output.weight: the output projection is token_embd");
  app.add_option("--rope-scaling", c.rope_scaling)
      ->check(CLI::IsMember({"none", "linear", "llama3", "yarn"}))
      ->capture_default_str();
  app.add_option("--rope-factor", c.rope_factor,
                 "scaling factor (default: linear 2, llama3 8, yarn 40)");
  app.add_option("--type", c.type,
                 "type of the 2-D weight matrices; q4_k_m, q5_k_m: llama.cpp's mixes")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k",
                             "q3_k", "q4_k", "q5_k", "q6_k", "q4_k_m", "q5_k_m"}))
      ->capture_default_str();
  app.add_option("--seed", c.seed)->capture_default_str();
  app.add_option("--vocab-from", c.vocab_from,
                 "copy the tokenizer.* keys of this GGUF (its vocabulary size must be --n-vocab)");
  app.add_option("--out,-o", c.out, "output .gguf")->required();
  gen::add_deepseek2_options(app, c.ds);
  CLI11_PARSE(app, argc, argv);
  if (!preset.empty()) apply_preset(preset, app, c);
  validate(c);
  ModelWriter(c).write();
  return 0;
}

}  // namespace
}  // namespace latent

int main(int argc, char** argv) {
  try {
    return latent::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
