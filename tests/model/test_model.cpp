// Model loading errors (each message checked), input validation in forward(), and the consistency
// property that one prefill equals feeding the same tokens one at a time or in chunks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "base/error.h"
#include "common/testdata.h"
#include "model/model.h"
#include "tiny_model.h"

namespace latent {
namespace {

using test::TinyModelSpec;

std::string load_error(const TinyModelSpec& spec, const std::string& file) {
  const std::string path = test::temp_path(file);
  test::write_tiny_model(path, spec);
  try {
    Model::load(path);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected latent::Error loading " << path;
  return "";
}

TEST(ModelLoad, UnsupportedArchitectureListsSupportedOnes) {
  TinyModelSpec s;
  s.arch = "gpt2";
  const std::string msg = load_error(s, "arch.gguf");
  EXPECT_NE(msg.find("arch.gguf"), std::string::npos) << msg;
  EXPECT_NE(msg.find("general.architecture"), std::string::npos) << msg;
  EXPECT_NE(msg.find("llama, qwen2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'gpt2'"), std::string::npos) << msg;
}

TEST(ModelLoad, WrongTensorShapeNamesTensorExpectedAndFound) {
  TinyModelSpec s;
  s.edit_tensor = [](const std::string& name, std::vector<int64_t>& shape) {
    if (name == "blk.1.attn_k.weight") shape = {8, 32};
    return true;
  };
  const std::string msg = load_error(s, "shape.gguf");
  EXPECT_NE(msg.find("shape.gguf"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensor 'blk.1.attn_k.weight' shape"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected [16, 32]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found [8, 32]"), std::string::npos) << msg;
}

TEST(ModelLoad, MissingTensorIsNamed) {
  TinyModelSpec s;
  s.edit_tensor = [](const std::string& name, std::vector<int64_t>&) {
    return name != "blk.0.ffn_down.weight";
  };
  const std::string msg = load_error(s, "missing.gguf");
  EXPECT_NE(msg.find("tensor 'blk.0.ffn_down.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found missing"), std::string::npos) << msg;
}

TEST(ModelLoad, Qwen2RequiresBiases) {
  TinyModelSpec s;
  s.arch = "qwen2";
  s.edit_tensor = [](const std::string& name, std::vector<int64_t>&) {
    return name != "blk.0.attn_v.bias";
  };
  EXPECT_NE(load_error(s, "qwen-bias.gguf").find("tensor 'blk.0.attn_v.bias'"), std::string::npos);
}

TEST(ModelLoad, MissingAndInvalidKeys) {
  TinyModelSpec s;
  s.edit_keys = [](GgufWriter& w) { w.set_u32("llama.attention.head_count_kv", 3); };
  std::string msg = load_error(s, "kv.gguf");
  EXPECT_NE(msg.find("llama.attention.head_count_kv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a divisor of head_count 4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found 3"), std::string::npos) << msg;
  s.edit_keys = [](GgufWriter& w) { w.set_u32("llama.block_count", 0); };
  msg = load_error(s, "layers.gguf");
  EXPECT_NE(msg.find("llama.block_count"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found 0"), std::string::npos) << msg;
  s.edit_keys = [](GgufWriter& w) { w.set_str("llama.rope.scaling.type", "yarn"); };
  msg = load_error(s, "rope.gguf");
  EXPECT_NE(msg.find("llama.rope.scaling.type"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'yarn'"), std::string::npos) << msg;
}

TEST(ModelLoad, TiedOutputUsesTokenEmbedding) {
  TinyModelSpec s;
  s.tied = true;
  const std::string path = test::temp_path("tied.gguf");
  test::write_tiny_model(path, s);
  auto m = Model::load(path);
  EXPECT_TRUE(m->weights().tied_output);
  EXPECT_EQ(m->weights().output.data, m->weights().token_embd.data);
  EXPECT_EQ(m->config().n_vocab, 67);
}

// After load the forward reads nothing of the mapped file but token_embd's rows: matrices live in
// the kernels' buffer and the per-token vectors (norms, biases) in the model's own copy, so the
// file's pages can stay released (a read of one norm would map a whole large folio around it).
TEST(ModelLoad, ForwardReadsNothingOfTheFileButTokenEmbeddings) {
  for (const char* arch : {"llama", "qwen2"}) {
    TinyModelSpec s;
    s.arch = arch;
    const std::string path = test::temp_path(std::string("owned-") + arch + ".gguf");
    test::write_tiny_model(path, s);
    auto m = Model::load(path);
    const GgufFile& f = m->file();
    const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    const auto* base =
        static_cast<const uint8_t*>(m->weights().token_embd.data) - f.data_offset() - embd->offset;
    auto in_file = [&](const TensorView& t) {
      const auto* p = static_cast<const uint8_t*>(t.data);
      return p && p >= base && p < base + f.file_size();
    };
    EXPECT_TRUE(in_file(m->weights().token_embd)) << arch;
    EXPECT_FALSE(in_file(m->weights().output_norm)) << arch;
    EXPECT_FALSE(in_file(m->weights().output)) << arch;
    for (const LayerWeights& l : m->weights().layers) {
      for (const TensorView* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm,
                                  &l.ffn_gate, &l.ffn_up, &l.ffn_down, &l.bq, &l.bk, &l.bv})
        EXPECT_FALSE(in_file(*t)) << arch;
    }
    EXPECT_EQ(m->weights().layers[0].bq.data != nullptr, std::string(arch) == "qwen2");
    // The copies hold the file's values.
    const GgufTensorInfo* norm = f.find_tensor("blk.1.ffn_norm.weight");
    ASSERT_NE(norm, nullptr);
    EXPECT_EQ(std::memcmp(m->weights().layers[1].ffn_norm.data, f.view(*norm).data, norm->nbytes),
              0);
  }
}

TEST(ModelForward, RejectsBadTokenAndPosition) {
  const std::string path = test::temp_path("fwd.gguf");
  test::write_tiny_model(path, TinyModelSpec{});
  auto m = Model::load(path);
  KvCache cache(m->config(), 8);
  std::vector<float> logits(m->config().n_vocab);
  const TokenId bad_tok[1] = {67};
  const Pos p0[1] = {0};
  try {
    m->forward(bad_tok, p0, cache, false, logits.data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected an id in [0, 67), found 67"), std::string::npos)
        << e.what();
  }
  const TokenId tok[1] = {3};
  const Pos p8[1] = {8};
  try {
    m->forward(tok, p8, cache, false, logits.data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected < context size 8, found 8"), std::string::npos)
        << e.what();
  }
}

// Runs tokens through a fresh cache `chunk` tokens per forward call and returns all logits.
std::vector<float> logits_in_chunks(Model& m, const std::vector<TokenId>& toks, size_t chunk) {
  const size_t V = m.config().n_vocab;
  KvCache cache(m.config(), static_cast<int32_t>(std::max<size_t>(64, toks.size())));
  std::vector<float> out(toks.size() * V);
  for (size_t i = 0; i < toks.size(); i += chunk) {
    const size_t len = std::min(chunk, toks.size() - i);
    std::vector<Pos> pos(len);
    for (size_t j = 0; j < len; ++j) pos[j] = static_cast<Pos>(i + j);
    m.forward(std::span<const TokenId>(toks).subspan(i, len), pos, cache, true, out.data() + i * V);
  }
  return out;
}

// A prompt longer than kMaxUbatchTokens runs as micro-batches inside forward: its logits (every
// row, and the last row alone) equal those of chunks the caller cut below that size.
TEST(ModelForward, LongBatchRunsInMicroBatchesWithTheSameLogits) {
  TinyModelSpec s;
  s.n_ctx = 1024;
  const std::string path = test::temp_path("ubatch.gguf");
  test::write_tiny_model(path, s);
  auto m = Model::load(path);
  const size_t n = 2 * Model::kMaxUbatchTokens + 37, V = m->config().n_vocab;
  std::vector<TokenId> toks;
  for (size_t i = 0; i < n; ++i) toks.push_back(static_cast<TokenId>((i * 37 + 5) % 67));
  const auto whole = logits_in_chunks(*m, toks, n);
  const auto parts = logits_in_chunks(*m, toks, 100);
  ASSERT_EQ(whole.size(), parts.size());
  EXPECT_EQ(std::memcmp(whole.data(), parts.data(), whole.size() * sizeof(float)), 0);
  KvCache cache(m->config(), static_cast<int32_t>(n));
  std::vector<Pos> pos(n);
  for (size_t i = 0; i < n; ++i) pos[i] = static_cast<Pos>(i);
  std::vector<float> last(V);
  m->forward(toks, pos, cache, false, last.data());
  EXPECT_EQ(std::memcmp(last.data(), whole.data() + (n - 1) * V, V * sizeof(float)), 0);
}

TEST(ModelForward, PrefillEqualsTokenByTokenAndChunked) {
  for (std::string arch : {"llama", "qwen2"}) {
    TinyModelSpec s;
    s.arch = arch;
    const std::string path = test::temp_path("consistency-" + arch + ".gguf");
    test::write_tiny_model(path, s);
    auto m = Model::load(path);
    std::vector<TokenId> toks;
    for (int i = 0; i < 23; ++i) toks.push_back((i * 37 + 5) % 67);
    const auto full = logits_in_chunks(*m, toks, toks.size());
    double max_abs = 0;
    for (float v : full) max_abs = std::max(max_abs, double(std::fabs(v)));
    ASSERT_GT(max_abs, 0.1);
    for (size_t chunk : {size_t{1}, size_t{5}}) {
      const auto part = logits_in_chunks(*m, toks, chunk);
      double max_diff = 0;
      for (size_t i = 0; i < full.size(); ++i)
        max_diff = std::max(max_diff, double(std::fabs(full[i] - part[i])));
      // Same arithmetic per row whatever the batch; allow f32 reassociation by future GEMM kernels.
      EXPECT_LE(max_diff, 1e-6 * max_abs) << arch << " chunk " << chunk;
    }
  }
}

}  // namespace
}  // namespace latent
