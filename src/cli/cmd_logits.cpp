// `latent logits`: teacher-forced logits of every position, as raw float32 little-endian
// [n_tokens × n_vocab] row-major — a debugging aid that tests and peers can diff.
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "cli/commands.h"
#include "kernels/kernels.h"
#include "model/model.h"

namespace latent::cli {
namespace {

struct LogitsArgs {
  std::string model;
  std::string tokens;
  std::string out;
  int threads = 0;
  int32_t chunk = 0;
};

std::vector<TokenId> parse_ids(const std::string& text) {
  std::vector<TokenId> ids;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < 0 || v > INT32_MAX)
      throw Error("--tokens: expected space-separated token ids, found '" + word + "'");
    ids.push_back(static_cast<TokenId>(v));
  }
  if (ids.empty()) throw Error("--tokens: expected at least one token id, found none");
  return ids;
}

int logits(const LogitsArgs& a) {
  kernels::set_num_threads(a.threads);
  const std::vector<TokenId> ids = parse_ids(a.tokens);
  auto model = Model::load(a.model);
  const int64_t n = static_cast<int64_t>(ids.size()), V = model->config().n_vocab;
  KvCache cache(model->config(), static_cast<int32_t>(n));
  std::vector<float> out(static_cast<size_t>(n * V));
  const int64_t chunk = a.chunk > 0 ? a.chunk : n;  // --chunk 1 feeds one token per forward call
  std::vector<Pos> pos;
  for (int64_t i = 0; i < n; i += chunk) {
    const int64_t len = std::min(chunk, n - i);
    pos.resize(static_cast<size_t>(len));
    for (int64_t j = 0; j < len; ++j) pos[j] = static_cast<Pos>(i + j);
    model->forward(std::span<const TokenId>(ids).subspan(i, len), pos, cache, true,
                   out.data() + i * V);
  }
  FILE* f = std::fopen(a.out.c_str(), "wb");
  if (!f) throw Error(a.out + ": cannot open for writing");
  const size_t written = std::fwrite(out.data(), sizeof(float), out.size(), f);
  const bool ok = std::fclose(f) == 0 && written == out.size();
  if (!ok) throw Error(a.out + ": write failed");
  std::fprintf(stderr, "wrote %lld x %lld float32 logits to %s\n", static_cast<long long>(n),
               static_cast<long long>(V), a.out.c_str());
  return 0;
}

}  // namespace

Command add_logits(CLI::App& app) {
  auto a = std::make_shared<LogitsArgs>();
  CLI::App* sub = app.add_subcommand("logits", "Write the logits of every position (float32 LE)");
  sub->add_option("-m,--model", a->model, "GGUF model file")->required()->check(CLI::ExistingFile);
  sub->add_option("--tokens", a->tokens, "Token ids, space-separated")->required();
  sub->add_option("--out", a->out, "Output file")->required();
  sub->add_option("--chunk", a->chunk, "Tokens per forward call (0: all at once)")
      ->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "CPU threads (0: all)")->capture_default_str();
  return [a] { return logits(*a); };
}

}  // namespace latent::cli
