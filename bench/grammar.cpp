// Grammar-constrained decoding cost: time to compute one allowed-token mask for a JSON-schema
// grammar over the 32k llama SPM vocabulary, per generated token, along a fixed token sequence
// that produces a valid document. Three variants:
//   Cached    - masks cached per stack set, cache kept across documents (steady state of a
//               server reusing one schema): nearly every mask is a lookup;
//   CachedFreshPerDocument - the same with a new cache per document (a first request);
//   NoMaskCache - every mask walks the trie, but the stack-set automaton is warm;
//   Cold      - a fresh cache per document: the walk also builds the automaton's transitions.
// Also the one-off trie build per vocabulary.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_reader.h"
#include "grammar/json_schema.h"
#include "grammar/token_mask.h"
#include "tokenizer/tokenizer.h"

namespace {

using latent::TokenId;
using namespace latent::grammar;

std::string testdata_dir() {
  if (const char* env = std::getenv("LATENT_TESTDATA")) return env;
  return (std::filesystem::path(__FILE__).parent_path() / "../../shared/testdata").string();
}

constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 40},
    "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "email": {"type": "string", "pattern": "^[a-z0-9.]+@[a-z0-9]+\\.[a-z]{2,4}$"},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
    "address": {"type": "object", "properties": {"street": {"type": "string"},
                "city": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
                "required": ["street", "city"]},
    "active": {"type": "boolean"}
  },
  "required": ["name", "age", "email"]
})";

constexpr const char* kDocument =
    R"({"name": "Ada Lovelace, Countess of Lovelace", "age": 36, "email": "ada.king@analytical.uk", )"
    R"("tags": ["mathematics", "poetry", "engines", "notes on the analytical engine"], )"
    R"("address": {"street": "12 St James's Square", "city": "London", "zip": "12345"}, "active": true})";

struct Setup {
  std::unique_ptr<latent::Tokenizer> tokenizer;
  std::shared_ptr<const TokenTrie> trie;
  std::shared_ptr<const CompiledGrammar> grammar;
  std::vector<TokenId> tokens;  // kDocument as the grammar-constrained walk tokenizes it
};

const Setup& setup() {
  static const Setup s = [] {
    Setup out;
    latent::GgufFile file =
        latent::GgufFile::open(testdata_dir() + "/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
    out.tokenizer = latent::Tokenizer::from_gguf(file);
    out.trie = TokenTrie::build(*out.tokenizer);
    out.grammar = CompiledGrammar::from_gbnf(json_schema_to_gbnf_text(kSchema));
    // Greedy longest-match tokenization under the grammar (SPM's encode would add a leading
    // space the grammar does not allow): at each step the longest allowed token that continues
    // the document, as a model producing this text token by token would.
    GrammarConstraint walker(std::make_shared<MaskCache>(out.grammar, out.trie));
    std::string_view rest = kDocument;
    while (!rest.empty()) {
      std::shared_ptr<const TokenBitset> mask = walker.allowed_tokens();
      TokenId best = -1;
      size_t best_len = 0;
      for (TokenId id = 0; id < out.trie->n_vocab(); ++id) {
        const std::string& piece = out.trie->piece(id);
        if (mask->test(id) && piece.size() > best_len && rest.substr(0, piece.size()) == piece) {
          best = id;
          best_len = piece.size();
        }
      }
      if (best < 0 || !walker.accept_token(best)) {
        std::fprintf(stderr, "bench_grammar: the document does not match the grammar at: %s\n",
                     std::string(rest).c_str());
        std::abort();
      }
      out.tokens.push_back(best);
      rest.remove_prefix(best_len);
    }
    return out;
  }();
  return s;
}

// Masks for every position of the document, `passes` times per iteration.
void run_document(benchmark::State& state, MaskCache::Options options, bool fresh_cache_per_doc) {
  const Setup& s = setup();
  auto cache = std::make_shared<MaskCache>(s.grammar, s.trie, options);
  size_t masks = 0;
  size_t allowed = 0;
  for (auto _ : state) {
    if (fresh_cache_per_doc) cache = std::make_shared<MaskCache>(s.grammar, s.trie, options);
    GrammarConstraint constraint(cache);
    for (TokenId id : s.tokens) {
      std::shared_ptr<const TokenBitset> mask = constraint.allowed_tokens();
      allowed += static_cast<size_t>(mask->count() > 0);
      benchmark::DoNotOptimize(mask);
      constraint.accept_token(id);
      ++masks;
    }
  }
  MaskCache::Stats stats = cache->stats();
  state.counters["us_per_token"] = benchmark::Counter(
      static_cast<double>(masks), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["tokens_per_doc"] = static_cast<double>(s.tokens.size());
  state.counters["mask_hit_rate"] =
      stats.mask_hits + stats.mask_misses == 0
          ? 0.0
          : static_cast<double>(stats.mask_hits) /
                static_cast<double>(stats.mask_hits + stats.mask_misses);
  state.counters["states"] = static_cast<double>(stats.interned_states);
  benchmark::DoNotOptimize(allowed);
}

void BM_MaskCached(benchmark::State& state) {
  run_document(state, {}, false);
}
// A new request with this schema: fresh cache, masks cached only within the document.
void BM_MaskCachedFreshPerDocument(benchmark::State& state) {
  run_document(state, {}, true);
}
void BM_MaskNoMaskCache(benchmark::State& state) {
  MaskCache::Options options;
  options.cache_masks = false;
  run_document(state, options, false);
}
void BM_MaskCold(benchmark::State& state) {
  MaskCache::Options options;
  options.cache_masks = false;
  run_document(state, options, true);
}

// Brute force for scale: every token's bytes through a copy of the matcher, one position.
void BM_MaskBruteForceOnePosition(benchmark::State& state) {
  const Setup& s = setup();
  GrammarMatcher matcher(s.grammar);
  matcher.accept_bytes("{\"name\": \"Ada");
  for (auto _ : state) {
    size_t n = 0;
    for (TokenId id = 0; id < s.trie->n_vocab(); ++id) {
      GrammarMatcher copy = matcher;
      n += copy.accept_bytes(s.trie->piece(id));
    }
    benchmark::DoNotOptimize(n);
  }
}

void BM_TrieBuild(benchmark::State& state) {
  const Setup& s = setup();
  for (auto _ : state) benchmark::DoNotOptimize(TokenTrie::build(*s.tokenizer));
}

BENCHMARK(BM_MaskCached)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaskCachedFreshPerDocument)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaskNoMaskCache)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaskCold)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaskBruteForceOnePosition)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TrieBuild)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
