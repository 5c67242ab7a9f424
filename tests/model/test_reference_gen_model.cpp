// tools/latent-gen-model: the files it writes carry llama.cpp's keys, shapes and a complete, valid
// SPM tokenizer block (llama.cpp must be able to load them for benchmarks), every matrix takes
// --type where its rows allow, and the llama3 rope factors follow Llama 3.1's formula.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <set>
#include <string>
#include <vector>

#include "common/testdata.h"
#include "gguf/gguf_reader.h"
#include "tensor/quant.h"

namespace latent::test {
namespace {

GgufFile generate(const std::string& name, const std::string& args) {
  const std::string path = temp_path(name + ".gguf");
  std::string out;
  const int rc =
      run_command(binary_dir() + "/latent-gen-model " + args + " --out '" + path + "' 2>&1", &out);
  EXPECT_EQ(rc, 0) << out;
  return GgufFile::open(path);
}

TEST(ReferenceGenModel, HyperparametersAndShapes) {
  const GgufFile f = generate("gen_keys",
                              "--arch qwen2 --n-embd 96 --n-head 3 --n-head-kv 1 --head-dim 64 "
                              "--n-ff 160 --n-vocab 300 --n-layer 2 --rope-scaling linear");
  EXPECT_EQ(f.get_str("general.architecture"), "qwen2");
  EXPECT_EQ(f.get_u32("qwen2.embedding_length"), 96u);
  EXPECT_EQ(f.get_u32("qwen2.block_count"), 2u);
  EXPECT_EQ(f.get_u32("qwen2.feed_forward_length"), 160u);
  EXPECT_EQ(f.get_u32("qwen2.attention.head_count"), 3u);
  EXPECT_EQ(f.get_u32("qwen2.attention.head_count_kv"), 1u);
  EXPECT_EQ(f.get_u32("qwen2.attention.key_length"), 64u);  // 64 != 96 / 3
  EXPECT_EQ(f.get_u32("qwen2.attention.value_length"), 64u);
  EXPECT_EQ(f.get_u32("qwen2.rope.dimension_count"), 64u);
  EXPECT_EQ(f.get_str("qwen2.rope.scaling.type"), "linear");
  EXPECT_FLOAT_EQ(f.get_f32("qwen2.rope.scaling.factor"), 2.0f);
  const std::vector<std::pair<std::string, std::array<int64_t, 2>>> shapes = {
      {"token_embd.weight", {300, 96}},     {"output.weight", {300, 96}},
      {"blk.1.attn_q.weight", {192, 96}},   {"blk.1.attn_k.weight", {64, 96}},
      {"blk.1.attn_v.weight", {64, 96}},    {"blk.1.attn_output.weight", {96, 192}},
      {"blk.1.ffn_gate.weight", {160, 96}}, {"blk.1.ffn_up.weight", {160, 96}},
      {"blk.1.ffn_down.weight", {96, 160}},
  };
  for (const auto& [name, shape] : shapes) {
    const GgufTensorInfo* t = f.find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->n_dims, 2) << name;
    EXPECT_EQ(t->shape[0], shape[0]) << name;
    EXPECT_EQ(t->shape[1], shape[1]) << name;
  }
  for (const char* bias : {"blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.0.attn_v.bias"}) {
    EXPECT_NE(f.find_tensor(bias), nullptr) << bias;
  }
  EXPECT_EQ(f.tensors().size(), 3u + 2 * 12);  // token_embd, output_norm, output; 12 per layer
}

TEST(ReferenceGenModel, SyntheticSpmVocabularyIsComplete) {
  const GgufFile f = generate("gen_vocab", "--n-vocab 1003 --tied");
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);  // tied
  EXPECT_EQ(f.get_str("tokenizer.ggml.model"), "llama");
  const auto tokens = f.get_str_array_opt("tokenizer.ggml.tokens");
  const auto scores = f.get_f32_array_opt("tokenizer.ggml.scores");
  const auto types = f.get_int_array_opt("tokenizer.ggml.token_type");
  ASSERT_TRUE(tokens && scores && types);
  ASSERT_EQ(tokens->size(), 1003u);
  EXPECT_EQ(scores->size(), 1003u);
  ASSERT_EQ(types->size(), 1003u);
  EXPECT_EQ(std::set<std::string>(tokens->begin(), tokens->end()).size(), 1003u);  // unique
  EXPECT_EQ((*tokens)[0], "<unk>");
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ((*tokens)[2], "</s>");
  EXPECT_EQ((*types)[0], 2);  // unknown
  EXPECT_EQ((*types)[1], 3);  // control
  EXPECT_EQ((*types)[2], 3);
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    EXPECT_EQ((*tokens)[3 + b], hex);
    EXPECT_EQ((*types)[3 + b], 6);  // byte
  }
  EXPECT_EQ((*tokens)[259], "\xE2\x96\x81");  // "▁"
  EXPECT_EQ((*types)[1002], 1);
  EXPECT_EQ(f.get_u32("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(f.get_u32("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(f.get_u32("tokenizer.ggml.unknown_token_id"), 0u);
}

TEST(ReferenceGenModel, CopiesAVocabularyFromAnotherGguf) {
  const std::string spm = testdata_path("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  const GgufFile f =
      generate("gen_spm", "--n-vocab 32000 --n-embd 64 --n-layer 1 --vocab-from '" + spm + "'");
  const GgufFile src = GgufFile::open(spm);
  EXPECT_EQ(f.get_str_array_opt("tokenizer.ggml.tokens"),
            src.get_str_array_opt("tokenizer.ggml.tokens"));
  EXPECT_EQ(f.get_f32_array_opt("tokenizer.ggml.scores"),
            src.get_f32_array_opt("tokenizer.ggml.scores"));
  std::string out;
  EXPECT_NE(run_command(binary_dir() + "/latent-gen-model --n-vocab 500 --vocab-from '" + spm +
                            "' --out '" + temp_path("gen_bad.gguf") + "' 2>&1",
                        &out),
            0)
      << "a vocabulary of the wrong size must be refused";
}

TEST(ReferenceGenModel, EveryMatrixTakesTheTypeWhereItsRowsAllow) {
  // n_ff 160 is not a multiple of 256: ffn_down's rows stay F32; everything else is Q4_K.
  const GgufFile f = generate("gen_q4k",
                              "--n-embd 256 --n-head 4 --n-ff 160 --n-layer 1 "
                              "--type q4_k");
  EXPECT_EQ(f.find_tensor("token_embd.weight")->dtype, DType::Q4_K);
  EXPECT_EQ(f.find_tensor("output.weight")->dtype, DType::Q4_K);
  EXPECT_EQ(f.find_tensor("blk.0.attn_q.weight")->dtype, DType::Q4_K);
  EXPECT_EQ(f.find_tensor("blk.0.ffn_gate.weight")->dtype, DType::Q4_K);
  EXPECT_EQ(f.find_tensor("blk.0.ffn_down.weight")->dtype, DType::F32);
  EXPECT_EQ(f.find_tensor("blk.0.attn_norm.weight")->dtype, DType::F32);
  EXPECT_EQ(f.get_u32("general.file_type"), 14u);  // LLAMA_FTYPE_MOSTLY_Q4_K_S
}

// Llama 3.1 (factor 8, low 1, high 4, original context 8192), base 500000, head_dim 64:
// f_i = 1 where the wavelength 2*pi*base^(2i/d) < 2048, 8 where > 8192, else
// 1 / ((1 - s) / 8 + s) with s = (8192 / wavelength - 1) / 3.
TEST(ReferenceGenModel, Llama3RopeFactors) {
  const GgufFile f = generate(
      "gen_llama3", "--n-embd 128 --n-head 2 --n-layer 1 --rope-scaling llama3 --rope-base 500000");
  const GgufTensorInfo* t = f.find_tensor("rope_freqs.weight");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->n_dims, 1);
  ASSERT_EQ(t->shape[0], 32);
  ASSERT_EQ(t->dtype, DType::F32);
  std::vector<float> got(32);
  dequantize_row(DType::F32, f.view(*t).data, got.data(), 32);
  for (int i = 0; i < 32; ++i) {
    const double wavelen = 2 * std::numbers::pi * std::pow(500000.0, 2.0 * i / 64);
    const double s = (8192 / wavelen - 1) / 3;
    const double want = wavelen < 2048 ? 1 : wavelen > 8192 ? 8 : 1 / ((1 - s) / 8 + s);
    EXPECT_NEAR(got[i], want, 1e-6 * want) << i;
  }
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[31], 8.0f);
}

TEST(ReferenceGenModel, SameSeedSameWeightsAcrossTypes) {
  // Each tensor has its own random stream: the Q8_0 file holds the F32 file's weights, quantized.
  const GgufFile a = generate("gen_seed_f32", "--n-embd 64 --n-layer 1 --seed 7");
  const GgufFile b = generate("gen_seed_q8", "--n-embd 64 --n-layer 1 --seed 7 --type q8_0");
  const GgufTensorInfo* ta = a.find_tensor("blk.0.ffn_up.weight");
  const GgufTensorInfo* tb = b.find_tensor("blk.0.ffn_up.weight");
  ASSERT_TRUE(ta && tb);
  ASSERT_EQ(tb->dtype, DType::Q8_0);
  const int64_t n = ta->shape[0] * ta->shape[1];
  std::vector<float> fa(n), fb(n);
  dequantize_row(DType::F32, a.view(*ta).data, fa.data(), n);
  dequantize_row(DType::Q8_0, b.view(*tb).data, fb.data(), n);
  double err = 0, ref = 0;
  for (int64_t i = 0; i < n; ++i) {
    err += (fa[i] - fb[i]) * (fa[i] - fb[i]);
    ref += fa[i] * fa[i];
  }
  EXPECT_LT(std::sqrt(err / ref), 0.01);  // Q8_0 storage error only
  EXPECT_NEAR(std::sqrt(ref / n), 1 / std::sqrt(64.0), 0.1 / std::sqrt(64.0));  // N(0, 1/sqrt(K))
}

}  // namespace
}  // namespace latent::test
