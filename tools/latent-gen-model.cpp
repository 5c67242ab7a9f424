// latent-gen-model: writes a random-weight `llama` or `qwen2` GGUF (llama.cpp's key and tensor
// names, a complete SPM tokenizer block) for the reference-logit tests and for benchmarks at real
// shapes. Owns shapes, hyperparameter keys, the weight distribution and the synthetic vocabulary;
// the file format and the quantizers belong to gguf/ (GgufWriter) and tensor/ (quantize_row).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <numbers>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/error.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace latent {
namespace {

struct GenConfig {
  std::string arch = "llama";
  int64_t n_embd = 64;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_head_kv = 0;  // 0: n_head
  int64_t head_dim = 0;   // 0: n_embd / n_head
  int64_t n_ff = 128;
  int64_t n_vocab = 512;
  int64_t n_ctx = 2048;
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied = false;
  std::string rope_scaling = "none";  // none | linear | llama3
  float rope_factor = 0.0f;           // 0: 2 for linear, 8 for llama3
  std::string type = "f32";
  uint64_t seed = 42;
  std::string vocab_from;  // GGUF whose tokenizer.* keys are copied instead of the synthetic vocab
  std::string out;
};

uint64_t mix64(uint64_t z) {  // splitmix64's finalizer
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Deterministic on every platform (std::normal_distribution is not): splitmix64 + Box-Muller.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() { return mix64(state_ += 0x9E3779B97F4A7C15ull); }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  void normals(float* v, int64_t n, double mean, double stddev) {
    for (int64_t i = 0; i < n; i += 2) {
      const double r = std::sqrt(-2.0 * std::log(uniform()));
      const double phi = 2.0 * std::numbers::pi * uniform();
      v[i] = static_cast<float>(mean + stddev * r * std::cos(phi));
      if (i + 1 < n) v[i + 1] = static_cast<float>(mean + stddev * r * std::sin(phi));
    }
  }

 private:
  uint64_t state_;
};

// Every block of kRowsPerStream rows of a tensor draws from its own stream (seed, name, block), so
// the values depend neither on the tensor order, nor on --type, nor on the thread count: the same
// seed gives the same underlying weights in every dtype.
constexpr int64_t kRowsPerStream = 16;

uint64_t stream_seed(uint64_t seed, const std::string& name, int64_t block) {
  uint64_t h = 0xCBF29CE484222325ull ^ seed;  // FNV-1a of the name
  for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ull;
  return mix64(mix64(h) + static_cast<uint64_t>(block));
}

// A [rows, cols] tensor ~ N(mean, stddev), stored as dtype t (quantize_row per row), generated on
// all cores.
std::vector<uint8_t> random_tensor(uint64_t seed, const std::string& name, DType t, int64_t rows,
                                   int64_t cols, double mean, double stddev) {
  const int64_t row_bytes = dtype_row_bytes(t, cols);
  const int64_t n_blocks = (rows + kRowsPerStream - 1) / kRowsPerStream;
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * row_bytes));
  std::atomic<int64_t> next{0};
  auto work = [&] {
    std::vector<float> v(static_cast<size_t>(kRowsPerStream * cols));
    for (int64_t b = next++; b < n_blocks; b = next++) {
      const int64_t r0 = b * kRowsPerStream, n = std::min(kRowsPerStream, rows - r0);
      Rng(stream_seed(seed, name, b)).normals(v.data(), n * cols, mean, stddev);
      for (int64_t r = 0; r < n; ++r) {
        quantize_row(t, v.data() + r * cols, bytes.data() + (r0 + r) * row_bytes, cols);
      }
    }
  };
  const int64_t n_threads = std::min<int64_t>(n_blocks, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (int64_t i = 1; i < n_threads; ++i) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  return bytes;
}

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
  explicit ModelWriter(const GenConfig& c) : c_(c), type_(*dtype_from_name(c.type)) {}

  // 2-D matrix [rows, cols] ~ N(0, 1/sqrt(cols)): each output feature has unit variance for a
  // unit-variance input, so activations and logits stay O(1). Stored in --type when cols is a
  // multiple of its block size, else F32.
  void matrix(const std::string& name, int64_t rows, int64_t cols) {
    const DType t = cols % traits(type_).block_size == 0 ? type_ : DType::F32;
    const double stddev = 1.0 / std::sqrt(static_cast<double>(cols));
    w_.add_tensor(name, t, {rows, cols}, random_tensor(c_.seed, name, t, rows, cols, 0.0, stddev));
  }
  // 1-D F32 vector ~ N(mean, stddev): norms around 1 +- 0.1, biases around 0.
  void vector(const std::string& name, int64_t n, double mean, double stddev) {
    w_.add_tensor(name, DType::F32, {n},
                  random_tensor(c_.seed, name, DType::F32, 1, n, mean, stddev));
  }

  void write() {
    const std::string& a = c_.arch;
    const int64_t n_q = c_.n_head * c_.head_dim, n_kv = c_.n_head_kv * c_.head_dim;
    w_.set_str("general.architecture", a);
    w_.set_str("general.name", "latent-random-" + a);
    w_.set_u32("general.alignment", 32);
    w_.set_u32("general.file_type", file_type(type_));
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
    if (c_.vocab_from.empty()) {
      synthetic_vocab();
    } else {
      copy_vocab();
    }

    matrix("token_embd.weight", c_.n_vocab, c_.n_embd);
    vector("output_norm.weight", c_.n_embd, 1.0, 0.1);
    if (!c_.tied) matrix("output.weight", c_.n_vocab, c_.n_embd);
    if (c_.rope_scaling == "llama3")
      w_.add_tensor_f32("rope_freqs.weight", DType::F32, {c_.head_dim / 2}, llama3_rope_factors());
    for (int64_t l = 0; l < c_.n_layer; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      vector(p + "attn_norm.weight", c_.n_embd, 1.0, 0.1);
      matrix(p + "attn_q.weight", n_q, c_.n_embd);
      matrix(p + "attn_k.weight", n_kv, c_.n_embd);
      matrix(p + "attn_v.weight", n_kv, c_.n_embd);
      if (a == "qwen2") {
        vector(p + "attn_q.bias", n_q, 0.0, 0.5);
        vector(p + "attn_k.bias", n_kv, 0.0, 0.5);
        vector(p + "attn_v.bias", n_kv, 0.0, 0.5);
      }
      matrix(p + "attn_output.weight", c_.n_embd, n_q);
      vector(p + "ffn_norm.weight", c_.n_embd, 1.0, 0.1);
      matrix(p + "ffn_gate.weight", c_.n_ff, c_.n_embd);
      matrix(p + "ffn_up.weight", c_.n_ff, c_.n_embd);
      matrix(p + "ffn_down.weight", c_.n_embd, c_.n_ff);
    }
    w_.write(c_.out);
  }

 private:
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
  DType type_;
  GgufWriter w_;
};

// Real shapes; options given explicitly on the command line win over the preset.
void apply_preset(const std::string& preset, const CLI::App& app, GenConfig& c) {
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
  if (c.n_ff <= 0) fail("--n-ff", "> 0", c.n_ff);
  if (c.n_vocab < 259 && c.vocab_from.empty()) {
    fail("--n-vocab", ">= 259 (<unk>, <s>, </s> and 256 byte tokens)", c.n_vocab);
  }
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
  CLI::App app{"Writes a random-weight llama/qwen2 GGUF model."};
  app.add_option("--preset", preset, "real shapes: tinyllama | llama32-1b (explicit options win)")
      ->check(CLI::IsMember({"tinyllama", "llama32-1b"}));
  app.add_option("--arch", c.arch)->check(CLI::IsMember({"llama", "qwen2"}))->capture_default_str();
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
      ->check(CLI::IsMember({"none", "linear", "llama3"}))
      ->capture_default_str();
  app.add_option("--rope-factor", c.rope_factor, "scaling factor (default: linear 2, llama3 8)");
  app.add_option("--type", c.type, "type of the 2-D weight matrices")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k",
                             "q3_k", "q4_k", "q5_k", "q6_k"}))
      ->capture_default_str();
  app.add_option("--seed", c.seed)->capture_default_str();
  app.add_option("--vocab-from", c.vocab_from,
                 "copy the tokenizer.* keys of this GGUF (its vocabulary size must be --n-vocab)");
  app.add_option("--out,-o", c.out, "output .gguf")->required();
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
