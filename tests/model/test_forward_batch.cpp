// The batched forward over a paged KV cache: a token's logits are bitwise the same whether its
// sequence runs alone token by token, as one whole-prompt prefill, or mixed with other sequences in
// shuffled batch rows over non-contiguous blocks of 4 or 16 positions (F32 and Q4_0 llama-family
// models from latent-gen-model, and deepseek2 with its routing trace); PagedKvCache::copy_block;
// and every input check of Model::forward(ForwardBatch).
//
// Why bitwise: every kernel on the path computes a batch row from that row alone with an order
// fixed by the shapes — matmul tiles keep one accumulator per (weight row, activation row) fed in
// the same order whatever the tile's size or the row's place in it (tests/kernels checks this per
// dtype and ISA), activations are converted per row, rms_norm/rope per row, elementwise ops per
// element, and attention runs its online softmax over fixed groups of logical positions through the
// token's own block table. So the guarantee holds for every weight type and ISA, not only F32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "common/testdata.h"
#include "deepseek2_model.h"
#include "model/model.h"
#include "tiny_model.h"

namespace latent {
namespace {

std::unique_ptr<Model> gen_model(const std::string& name, const std::string& args) {
  const std::string path = test::temp_path(name + ".gguf");
  std::string out;
  const int rc = test::run_command(
      test::binary_dir() + "/latent-gen-model " + args + " --out '" + path + "' 2>&1", &out);
  EXPECT_EQ(rc, 0) << args << "\n" << out;
  return Model::load(path);
}

using Prompts = std::vector<std::vector<TokenId>>;
// logits[s][p]: the n_vocab logits of sequence s at position p.
using Logits = std::vector<std::vector<std::vector<float>>>;

Prompts make_prompts(int n_vocab, const std::vector<int>& lengths, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> tok(0, n_vocab - 1);
  Prompts p;
  for (int n : lengths) {
    p.emplace_back();
    for (int i = 0; i < n; ++i) p.back().push_back(tok(rng));
  }
  return p;
}

// (i) Each sequence alone, one token per forward call, through the single-sequence API.
Logits run_token_by_token(Model& m, const Prompts& prompts) {
  const size_t V = m.config().n_vocab;
  Logits out;
  for (const auto& toks : prompts) {
    KvCache cache(m.config(), 64);
    out.emplace_back();
    for (size_t i = 0; i < toks.size(); ++i) {
      const Pos p = static_cast<Pos>(i);
      out.back().emplace_back(V);
      m.forward(std::span(&toks[i], 1), std::span(&p, 1), cache, false, out.back().back().data());
    }
  }
  return out;
}

// (ii) Each sequence alone, its whole prompt in one call with every row's logits.
Logits run_whole_prefill(Model& m, const Prompts& prompts) {
  const size_t V = m.config().n_vocab;
  Logits out;
  for (const auto& toks : prompts) {
    KvCache cache(m.config(), 64);
    std::vector<Pos> pos(toks.size());
    std::iota(pos.begin(), pos.end(), 0);
    std::vector<float> all(toks.size() * V);
    m.forward(toks, pos, cache, true, all.data());
    out.emplace_back();
    for (size_t i = 0; i < toks.size(); ++i)
      out.back().emplace_back(all.begin() + i * V, all.begin() + (i + 1) * V);
  }
  return out;
}

// (iii) All sequences in shared batches over one PagedKvCache: each step takes a random chunk
// (1..7 tokens) of every unfinished sequence, shuffles the rows, and asks for the logits of every
// other row. Block tables are disjoint slices of a shuffled id list (e.g. 7, 2, 9, …).
Logits run_mixed(Model& m, const Prompts& prompts, int32_t block_size, uint32_t seed,
                 std::vector<std::vector<int32_t>>* routing_rows = nullptr) {
  const size_t V = m.config().n_vocab, S = prompts.size();
  std::mt19937 rng(seed);
  int32_t need = 0;
  std::vector<int32_t> n_blocks;
  for (const auto& p : prompts) {
    n_blocks.push_back(static_cast<int32_t>((p.size() + block_size - 1) / block_size));
    need += n_blocks.back();
  }
  const int32_t total = need + 5;  // spare blocks no sequence uses
  PagedKvCache cache(m.config(), total, block_size);
  std::vector<int32_t> ids(static_cast<size_t>(total));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<std::vector<int32_t>> tables;
  for (size_t s = 0, next = 0; s < S; next += n_blocks[s], ++s)
    tables.emplace_back(ids.begin() + next, ids.begin() + next + n_blocks[s]);
  const std::vector<std::span<const int32_t>> table_spans(tables.begin(), tables.end());

  Logits out(S);
  for (size_t s = 0; s < S; ++s) out[s].resize(prompts[s].size());
  std::vector<size_t> done(S, 0);
  std::vector<int32_t> trace;
  const int64_t K = m.config().arch == Arch::kDeepseek2 ? m.config().ds.n_expert_used : 0;
  if (routing_rows) {
    routing_rows->assign(S, {});
    m.set_routing_trace(&trace);
  }
  std::uniform_int_distribution<int> chunk(1, 7);
  for (int step = 0; step < 100; ++step) {
    struct Row {
      int32_t seq;
      Pos pos;
    };
    std::vector<Row> rows;
    for (size_t s = 0; s < S; ++s) {
      const size_t n = std::min<size_t>(chunk(rng), prompts[s].size() - done[s]);
      for (size_t i = 0; i < n; ++i)
        rows.push_back({static_cast<int32_t>(s), static_cast<Pos>(done[s] + i)});
      done[s] += n;
    }
    if (rows.empty()) break;
    std::shuffle(rows.begin(), rows.end(), rng);
    std::vector<TokenId> toks;
    std::vector<Pos> pos;
    std::vector<int32_t> seq, logit_rows;
    for (size_t r = 0; r < rows.size(); ++r) {
      toks.push_back(prompts[rows[r].seq][rows[r].pos]);
      pos.push_back(rows[r].pos);
      seq.push_back(rows[r].seq);
      if (r % 2 == static_cast<size_t>(step % 2)) logit_rows.push_back(static_cast<int32_t>(r));
    }
    std::vector<float> logits(logit_rows.size() * V);
    trace.clear();
    m.forward(ForwardBatch{toks, pos, seq, table_spans, logit_rows}, cache, logits.data());
    for (size_t i = 0; i < logit_rows.size(); ++i) {
      const Row& r = rows[logit_rows[i]];
      out[r.seq][r.pos].assign(logits.begin() + i * V, logits.begin() + (i + 1) * V);
    }
    if (routing_rows) {
      // trace is [n_moe_layers][T][K]; keep per sequence (position, layer, slot) order
      const size_t T = rows.size(), n_moe = trace.size() / (T * K);
      for (size_t r = 0; r < T; ++r) {
        auto& seq_rows = (*routing_rows)[rows[r].seq];
        const size_t at = static_cast<size_t>(rows[r].pos) * n_moe * K;
        if (seq_rows.size() < at + n_moe * K) seq_rows.resize(at + n_moe * K);
        for (size_t l = 0; l < n_moe; ++l)
          for (int64_t k = 0; k < K; ++k) seq_rows[at + l * K + k] = trace[(l * T + r) * K + k];
      }
    }
  }
  if (routing_rows) m.set_routing_trace(nullptr);
  return out;
}

// Bitwise equality where b has a row (run_mixed leaves rows without logits empty).
void expect_bitwise(const Logits& a, const Logits& b, const std::string& what) {
  size_t compared = 0;
  for (size_t s = 0; s < a.size(); ++s) {
    for (size_t p = 0; p < a[s].size(); ++p) {
      if (b[s][p].empty()) continue;
      ASSERT_EQ(a[s][p].size(), b[s][p].size());
      ++compared;
      EXPECT_EQ(std::memcmp(a[s][p].data(), b[s][p].data(), a[s][p].size() * sizeof(float)), 0)
          << what << ": sequence " << s << " position " << p << " first logits " << a[s][p][0]
          << " vs " << b[s][p][0];
    }
  }
  EXPECT_GT(compared, 0u) << what;
}

struct InvarianceCase {
  const char* name;
  std::string args;
};
void PrintTo(const InvarianceCase& c, std::ostream* os) {
  *os << c.name;
}

class BatchInvariance : public testing::TestWithParam<InvarianceCase> {};

TEST_P(BatchInvariance, LogitsBitwiseEqualAloneChunkedAndMixed) {
  auto m = gen_model(std::string("batch_") + GetParam().name, GetParam().args);
  const Prompts prompts = make_prompts(m->config().n_vocab, {19, 33, 7}, 5);
  const Logits alone = run_token_by_token(*m, prompts);
  expect_bitwise(alone, run_whole_prefill(*m, prompts), "whole prefill");
  for (int32_t bs : {4, 16}) {
    for (uint32_t seed : {1u, 2u}) {
      expect_bitwise(alone, run_mixed(*m, prompts, bs, seed),
                     "mixed batch, block size " + std::to_string(bs));
    }
  }
}

const std::string kShape =
    "--n-embd 64 --n-layer 2 --n-head 4 --n-head-kv 2 --n-ff 128 --n-vocab 320 --n-ctx 128 ";
INSTANTIATE_TEST_SUITE_P(
    Types, BatchInvariance,
    testing::Values(InvarianceCase{"f32_llama", kShape + "--type f32"},
                    InvarianceCase{"q4_0_qwen2", kShape + "--type q4_0 --arch qwen2"},
                    InvarianceCase{"q8_0_llama", kShape + "--type q8_0"},
                    // K-quant super-blocks are 256 wide: a wider model.
                    InvarianceCase{"q4_k_llama",
                                   "--n-embd 256 --n-layer 1 --n-head 4 --n-ff 256 --n-vocab 320 "
                                   "--n-ctx 128 --type q4_k"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(BatchInvarianceDeepseek2, MixedBatchEqualsAloneAndRoutesTheSame) {
  for (const test::Ds2Spec& spec : {test::ds2_v2_lite_like(), test::ds2_v3_like()}) {
    const std::string path = test::temp_path("batch_ds2.gguf");
    test::write_ds2_model(path, spec);
    auto m = Model::load(path);
    const Prompts prompts = make_prompts(m->config().n_vocab, {17, 9, 26}, 9);
    const Logits alone = run_token_by_token(*m, prompts);
    expect_bitwise(alone, run_whole_prefill(*m, prompts), "deepseek2 whole prefill");
    // Routing of each token alone, (position, layer, slot) order per sequence.
    std::vector<std::vector<int32_t>> alone_routes;
    for (const auto& toks : prompts) {
      KvCache cache(m->config(), 64);
      std::vector<int32_t> trace;
      m->set_routing_trace(&trace);
      std::vector<float> logits(m->config().n_vocab);
      for (size_t i = 0; i < toks.size(); ++i) {
        const Pos p = static_cast<Pos>(i);
        m->forward(std::span(&toks[i], 1), std::span(&p, 1), cache, false, logits.data());
      }
      m->set_routing_trace(nullptr);
      alone_routes.push_back(trace);
    }
    for (int32_t bs : {4, 16}) {
      std::vector<std::vector<int32_t>> routes;
      expect_bitwise(alone, run_mixed(*m, prompts, bs, 3, &routes),
                     "deepseek2 mixed, block size " + std::to_string(bs));
      EXPECT_EQ(routes, alone_routes) << "block size " << bs;
    }
  }
}

// A small llama config for the cache and error tests.
std::unique_ptr<Model> tiny(const std::string& name) {
  const std::string path = test::temp_path(name + ".gguf");
  test::write_tiny_model(path, test::TinyModelSpec{});
  return Model::load(path);
}

TEST(PagedKvCache, LayoutZeroInitAndCopyBlockOverAllLayers) {
  auto m = tiny("paged_copy");
  const ModelConfig& c = m->config();
  PagedKvCache cache(c, 5, 4);
  EXPECT_EQ(cache.n_layer(), c.n_layer);
  EXPECT_EQ(cache.stride(), c.cache_k_width());
  EXPECT_EQ(cache.v_stride(), c.cache_v_width());
  EXPECT_EQ(cache.bytes_per_block(),
            int64_t{c.n_layer} * 4 * (c.cache_k_width() + c.cache_v_width()) * 4);
  EXPECT_EQ(cache.bytes(), cache.bytes_per_block() * 5);
  // [layer][block][row][width]: consecutive blocks of a layer are block_size·stride apart.
  EXPECT_EQ(cache.k(0, 1) - cache.k(0, 0), 4 * cache.stride());
  EXPECT_EQ(cache.k(1, 0) - cache.k(0, 0), 5 * 4 * cache.stride());
  const int64_t kn = 4 * cache.stride(), vn = 4 * cache.v_stride();
  for (int32_t l = 0; l < c.n_layer; ++l) {
    for (int32_t b = 0; b < 5; ++b) {
      EXPECT_TRUE(std::all_of(cache.k(l, b), cache.k(l, b) + kn, [](float x) { return x == 0; }));
      for (int64_t i = 0; i < kn; ++i) cache.k(l, b)[i] = float(1000 * l + 100 * b) + float(i);
      for (int64_t i = 0; i < vn; ++i) cache.v(l, b)[i] = -float(1000 * l + 100 * b) - float(i);
    }
  }
  cache.copy_block(3, 1);
  for (int32_t l = 0; l < c.n_layer; ++l) {
    for (int32_t b = 0; b < 5; ++b) {
      const int32_t from = b == 1 ? 3 : b;
      for (int64_t i = 0; i < kn; ++i)
        ASSERT_EQ(cache.k(l, b)[i], float(1000 * l + 100 * from) + float(i)) << l << " " << b;
      for (int64_t i = 0; i < vn; ++i)
        ASSERT_EQ(cache.v(l, b)[i], -float(1000 * l + 100 * from) - float(i)) << l << " " << b;
    }
  }
  EXPECT_THROW(cache.copy_block(5, 0), Error);
  EXPECT_THROW(cache.copy_block(0, -1), Error);
  EXPECT_THROW(PagedKvCache(c, 0, 16), Error);
  EXPECT_THROW(PagedKvCache(c, 4, 0), Error);
}

TEST(KvCacheWrapper, OwnsIdentityTableOfSixteenTokenBlocks) {
  auto m = tiny("paged_wrapper");
  KvCache cache(m->config(), 40);
  EXPECT_EQ(cache.n_ctx(), 40);
  EXPECT_EQ(cache.paged().n_blocks(), 3);
  EXPECT_EQ(cache.paged().block_size(), 16);
  EXPECT_EQ(std::vector<int32_t>(cache.block_table().begin(), cache.block_table().end()),
            (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(cache.bytes(), m->config().kv_bytes_per_token() * 40);
}

// Each malformed batch throws latent::Error naming the problem, before anything is run.
TEST(ForwardBatchValidation, RejectsMalformedBatches) {
  auto m = tiny("paged_errors");
  PagedKvCache cache(m->config(), 4, 4);
  const std::vector<TokenId> toks{1, 2, 3};
  const std::vector<Pos> pos{0, 1, 4};
  const std::vector<int32_t> seq{0, 0, 1};
  const std::vector<int32_t> t0{2}, t1{0, 3};
  const std::vector<std::span<const int32_t>> tables{t0, t1};
  const std::vector<int32_t> rows{0, 2};
  std::vector<float> logits(3 * m->config().n_vocab);
  const ForwardBatch good{toks, pos, seq, tables, rows};
  EXPECT_NO_THROW(m->forward(good, cache, logits.data()));

  auto expect_error = [&](ForwardBatch b, const std::string& needle) {
    try {
      m->forward(b, cache, logits.data());
      ADD_FAILURE() << "expected latent::Error containing '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const std::vector<Pos> short_pos{0, 1};
  ForwardBatch b = good;
  b.positions = short_pos;
  expect_error(b, "one position and one seq_index per token");
  b = good;
  b.seq_index = std::span(seq).first(2);
  expect_error(b, "one position and one seq_index per token");
  const std::vector<int32_t> bad_seq{0, 2, 1};
  b = good;
  b.seq_index = bad_seq;
  expect_error(b, "seq_index of token 1: expected a sequence in [0, 2), found 2");
  const std::vector<Pos> far{0, 4, 4};  // sequence 0's one block covers positions 0..3
  b = good;
  b.positions = far;
  expect_error(b, "position of token 1: expected a position in [0, 4)");
  const std::vector<Pos> negative{0, -1, 4};
  b = good;
  b.positions = negative;
  expect_error(b, "position of token 1");
  const std::vector<int32_t> t_bad{0, 4};
  const std::vector<std::span<const int32_t>> bad_tables{t0, t_bad};
  b = good;
  b.block_tables = bad_tables;
  expect_error(b, "block table of sequence 1: expected block ids in [0, 4), found 4");
  const std::vector<TokenId> bad_tok{1, m->config().n_vocab, 3};
  b = good;
  b.tokens = bad_tok;
  expect_error(b, "token 1: expected an id in [0, ");
  const std::vector<int32_t> unsorted{2, 0}, dup{1, 1}, out_of_range{0, 3};
  b = good;
  b.logit_rows = unsorted;
  expect_error(b, "logit row 1: expected rows in ascending order, found 0 after 2");
  b.logit_rows = dup;
  expect_error(b, "ascending order");
  b.logit_rows = out_of_range;
  expect_error(b, "logit row 1: expected a batch row in [0, 3), found 3");
  // A cache of another model's shape.
  test::TinyModelSpec other;
  other.n_layer = 3;
  const std::string path = test::temp_path("paged_other.gguf");
  test::write_tiny_model(path, other);
  auto m3 = Model::load(path);
  PagedKvCache wrong(m3->config(), 4, 4);
  try {
    m->forward(good, wrong, logits.data());
    ADD_FAILURE() << "expected a cache shape error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("KV cache: expected"), std::string::npos) << e.what();
  }
  // An empty batch is a no-op.
  EXPECT_NO_THROW(m->forward(ForwardBatch{}, cache, nullptr));
}

}  // namespace
}  // namespace latent
