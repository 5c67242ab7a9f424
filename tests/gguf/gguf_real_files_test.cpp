// Reading real GGUF files from the shared test data: stories260K (v3, 48 F32 tensors; facts from
// testdata/README.md) and llama.cpp's vocab-only files (n_tensors = 0). Checks metadata, shapes
// (outermost-first), offsets inside the file, and a few tensor bytes against known structure.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "common/testdata.h"
#include "gguf/gguf_reader.h"

namespace latent {
namespace {

using test::testdata_path;

TEST(GgufRealFiles, Stories260K) {
  GgufFile f = GgufFile::open(testdata_path("models/stories260K/stories260K.gguf"));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.file_size(), 1185376u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(f.get_str("general.architecture"), "llama");
  EXPECT_EQ(f.get_u32("llama.embedding_length"), 64u);
  EXPECT_EQ(f.get_u32("llama.block_count"), 5u);
  EXPECT_EQ(f.get_u32("llama.feed_forward_length"), 172u);
  EXPECT_EQ(f.get_u32("llama.attention.head_count"), 8u);
  EXPECT_EQ(f.get_u32("llama.attention.head_count_kv"), 4u);
  EXPECT_EQ(f.get_u32("llama.rope.dimension_count"), 8u);
  EXPECT_EQ(f.get_u32("llama.context_length"), 2048u);
  EXPECT_NEAR(f.get_f32("llama.attention.layer_norm_rms_epsilon"), 1e-5f, 1e-9f);
  EXPECT_EQ(f.get_str("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f.get_u32("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(f.get_u32("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_FALSE(f.get_bool_opt("tokenizer.ggml.add_bos_token").has_value());
  auto tokens = f.get_str_array_opt("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.has_value());
  ASSERT_EQ(tokens->size(), 512u);
  EXPECT_EQ((*tokens)[0], "<unk>");
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ((*tokens)[3], "<0x00>");
  EXPECT_EQ(f.get_f32_array_opt("tokenizer.ggml.scores")->size(), 512u);
  auto types = f.get_int_array_opt("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.has_value());
  EXPECT_EQ((*types)[0], 2);  // unknown
  EXPECT_EQ((*types)[1], 3);  // control

  ASSERT_EQ(f.tensors().size(), 48u);
  for (const auto& t : f.tensors()) {
    EXPECT_EQ(t.dtype, DType::F32) << t.name;
    EXPECT_LE(f.data_offset() + t.offset + t.nbytes, f.file_size()) << t.name;
  }
  const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->n_dims, 2);
  EXPECT_EQ(emb->shape[0], 512);  // [n_vocab, n_embd], outermost first
  EXPECT_EQ(emb->shape[1], 64);
  const GgufTensorInfo* k = f.find_tensor("blk.0.attn_k.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->shape[0], 32);  // n_head_kv * head_dim = 4 * 8 outputs
  EXPECT_EQ(k->shape[1], 64);
  const GgufTensorInfo* down = f.find_tensor("blk.4.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->shape[0], 64);
  EXPECT_EQ(down->shape[1], 172);
  const GgufTensorInfo* norm = f.find_tensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->n_dims, 1);
  EXPECT_EQ(norm->shape[0], 64);

  // README: output.weight is a copy of token_embd.weight.
  const GgufTensorInfo* out = f.find_tensor("output.weight");
  ASSERT_NE(out, nullptr);
  TensorView ve = f.view(*emb);
  TensorView vo = f.view(*out);
  EXPECT_EQ(ve.nbytes(), 512 * 64 * 4);
  EXPECT_EQ(std::memcmp(ve.data, vo.data, static_cast<size_t>(ve.nbytes())), 0);
  EXPECT_NE(ve.data, vo.data);
  const float* w = static_cast<const float*>(f.view(*norm).data);
  for (int i = 0; i < 64; ++i) EXPECT_TRUE(std::isfinite(w[i]));
}

TEST(GgufRealFiles, VocabOnlyFiles) {
  int opened = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(test::testdata_dir() + "/llama.cpp-vocab")) {
    if (entry.path().extension() != ".gguf") continue;
    SCOPED_TRACE(entry.path().string());
    GgufFile f = GgufFile::open(entry.path().string());
    ++opened;
    EXPECT_TRUE(f.tensors().empty());
    EXPECT_TRUE(f.version() == 2 || f.version() == 3);
    auto tokens = f.get_str_array_opt("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.has_value());
    EXPECT_GT(tokens->size(), 1000u);
    EXPECT_TRUE(f.get_str_opt("tokenizer.ggml.model").has_value());
    EXPECT_TRUE(f.get_str_opt("general.architecture").has_value());
  }
  EXPECT_GE(opened, 12);
}

TEST(GgufRealFiles, LlamaSpmVocabFacts) {
  GgufFile f = GgufFile::open(testdata_path("llama.cpp-vocab/ggml-vocab-llama-spm.gguf"));
  EXPECT_EQ(f.get_str("tokenizer.ggml.model"), "llama");
  auto tokens = *f.get_str_array_opt("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 32000u);
  EXPECT_EQ(tokens[29871], "\xe2\x96\x81");  // "▁": Meta's Llama-2 id (testdata README)
  EXPECT_EQ(f.get_f32_array_opt("tokenizer.ggml.scores")->size(), 32000u);
}

}  // namespace
}  // namespace latent
