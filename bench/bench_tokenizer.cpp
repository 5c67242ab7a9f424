// Tokenizer throughput: encode about 1 MB of mixed-language text (English prose, code, numbers,
// Chinese, Japanese, Russian, Arabic, emoji) with the Llama 3 vocabulary from tokenizer.json, on
// one thread. Reports bytes/s (MB/s). With LATENT_BENCH_TEXT=path the text is also written there,
// so bench/bench_tokenizer_lenml.mjs can time @lenml/tokenizers on the same bytes.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"

namespace {

std::string testdata_dir() {
  if (const char* env = std::getenv("LATENT_TESTDATA")) return env;
  return (std::filesystem::path(__FILE__).parent_path() / "../../shared/testdata").string();
}

// A fixed xorshift stream picks sentences from each language until the text reaches `bytes`.
std::string mixed_text(size_t bytes) {
  static const char* const kParts[] = {
      "The quick brown fox jumps over the lazy dog, and it's 3.14159 times faster than last year. ",
      "Tokenizers split text into words, then merge bytes by rank; they don't care about meaning. ",
      "In 2024, 1,234,567 people visited the museum (an increase of 12.5% over 2023).\n",
      "for (int i = 0; i < n; ++i) {\n    sum += values[i] * weights[i];\n}\n",
      "def tokenize(text: str) -> list[int]:\n    return [vocab[w] for w in text.split()]\n\n",
      "人工智能正在改变我们的生活方式，语言模型可以理解和生成自然语言文本。",
      "東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。",
      "Москва — столица России, крупнейший по численности населения город страны. ",
      "اللغة العربية هي إحدى أكثر اللغات انتشاراً في العالم. ",
      "Emoji everywhere 😀👍🏽 👨‍👩‍👧‍👦 🦙✨ and ZWJ sequences. ",
      "    indented line with\ttabs\tand   multiple   spaces\n",
      "Ünïcödé àccents: café, naïve, façade, Straße, São Paulo. ",
  };
  constexpr size_t kCount = sizeof(kParts) / sizeof(kParts[0]);
  std::string text;
  text.reserve(bytes + 256);
  uint64_t state = 0x9E3779B97F4A7C15ull;
  while (text.size() < bytes) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    text += kParts[state % kCount];
  }
  return text;
}

void BM_EncodeLlama3Mixed1MB(benchmark::State& state) {
  static const std::unique_ptr<latent::Tokenizer> tokenizer =
      latent::Tokenizer::from_tokenizer_json(testdata_dir() + "/tokenizers/llama3/tokenizer.json");
  static const std::string text = mixed_text(1 << 20);
  if (const char* out = std::getenv("LATENT_BENCH_TEXT"))
    std::ofstream(out, std::ios::binary) << text;
  size_t n_tokens = 0;
  for (auto _ : state) {
    const std::vector<latent::TokenId> ids = tokenizer->encode(text, false);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(text.size()) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_EncodeLlama3Mixed1MB)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
