// `latent chat`: an interactive multi-turn conversation on stdin/stdout. Each turn renders the
// model's own chat template (GGUF tokenizer.chat_template, or --chat-template FILE) for the whole
// conversation, tokenizes it and lets a ChatSession run only what its KV cache does not hold yet;
// the reply streams to stdout and ends at end-of-generation or -n tokens. Diagnostics go to stderr.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <string>

#include "base/error.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/sampling_options.h"
#include "engine/chat_session.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace latent::cli {
namespace {

struct ChatArgs {
  std::string model;
  std::string system;
  std::string template_file;
  int32_t n_predict = 512;
  int32_t n_ctx = 0;
  int threads = 0;
  bool verbose = false;
  int64_t seed = -1;
  SamplerParams sampling;
};

std::string read_text_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": cannot open the chat template file");
  std::string s;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
  std::fclose(f);
  return s;
}

std::string token_text(const Tokenizer& tok, TokenId id) {
  return id >= 0 && id < tok.n_vocab() ? tok.vocab().text(id) : std::string();
}

// The rendered conversation as tokens: special-token texts in it (the template writes BOS/EOS and
// turn markers as text) become those tokens; a BOS is added only when the model wants one and the
// template did not write it.
std::vector<TokenId> tokenize_conversation(const Tokenizer& tok, const std::string& text) {
  std::vector<TokenId> ids = tok.encode(text, /*add_special=*/false, /*parse_special=*/true);
  if (tok.add_bos() && tok.bos() >= 0 && (ids.empty() || ids.front() != tok.bos()))
    ids.insert(ids.begin(), tok.bos());
  return ids;
}

int chat(const ChatArgs& a) {
  if (a.verbose) set_log_level(LogLevel::kInfo);
  kernels::set_num_threads(a.threads);
  const std::string model_path = model_or_default(a.model);
  auto model = Model::load(model_path);
  auto tokenizer = Tokenizer::from_gguf(model->file());
  std::string source;
  if (!a.template_file.empty()) {
    source = read_text_file(a.template_file);
  } else if (auto t = model->file().get_str_opt("tokenizer.chat_template")) {
    source = *t;
  } else {
    throw Error(model_path +
                ": tokenizer.chat_template: expected the model's chat template, found none (a "
                "base model?). Use `latent run` for plain text completion, or give a template "
                "with --chat-template FILE");
  }
  const ChatTemplate tmpl(source);
  ChatRenderInput in;
  in.bos_token = token_text(*tokenizer, tokenizer->bos());
  in.eos_token = token_text(*tokenizer, tokenizer->eos());
  if (!a.system.empty()) in.add("system", a.system);

  GenerateOptions opt;
  opt.max_tokens = a.n_predict;
  opt.n_ctx = a.n_ctx;
  opt.sampling = a.sampling;
  opt.sampling.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}();
  ChatSession session(*model, *tokenizer, opt);
  const bool interactive = isatty(STDIN_FILENO);
  if (interactive) {
    std::fprintf(stderr,
                 "[latent] chat with %s (context %d tokens). /reset starts over, /exit or "
                 "Ctrl-D ends.\n",
                 model_path.c_str(), session.n_ctx());
  }
  std::string line;
  for (int turn = 1;; ++turn) {
    if (interactive) std::fputs("> ", stderr);
    if (!std::getline(std::cin, line) || line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      in.messages = nlohmann::ordered_json::array();
      if (!a.system.empty()) in.add("system", a.system);
      --turn;
      continue;
    }
    if (line.empty()) {
      --turn;
      continue;
    }
    in.add("user", line);
    in.add_generation_prompt = true;
    const std::vector<TokenId> prompt = tokenize_conversation(*tokenizer, tmpl.render(in));
    if (static_cast<int64_t>(prompt.size()) >= session.n_ctx()) {
      std::fprintf(stderr,
                   "[latent] the conversation (%zu tokens) no longer fits the context of %d "
                   "tokens; ending (use -c for a larger one)\n",
                   prompt.size(), session.n_ctx());
      break;
    }
    std::string reply;
    GenerateResult r = session.respond(prompt, [&](TokenId, std::string_view text) {
      reply += text;
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return true;
    });
    std::fputc('\n', stdout);
    std::fflush(stdout);
    in.add("assistant", reply);
    std::fprintf(stderr,
                 "[latent] turn %d: prompt %d new + %d cached tokens, reply %zu tokens (%.2f "
                 "tokens/s), stop: %s\n",
                 turn, r.n_prompt, r.n_reused, r.tokens.size(),
                 r.generate_seconds > 0 ? r.tokens.size() / r.generate_seconds : 0.0,
                 std::string(stop_reason_name(r.stop)).c_str());
    if (r.stop == StopReason::kContextFull) {
      std::fprintf(stderr, "[latent] the context (%d tokens) is full; ending\n", session.n_ctx());
      break;
    }
  }
  std::fprintf(stderr, "[latent] seed: %llu\n", static_cast<unsigned long long>(opt.sampling.seed));
  return 0;
}

}  // namespace

Command add_chat(CLI::App& app) {
  auto a = std::make_shared<ChatArgs>();
  CLI::App* sub =
      app.add_subcommand("chat", "Interactive multi-turn chat using the model's chat template");
  sub->add_option("-m,--model", a->model, kModelOptionHelp)->check(CLI::ExistingFile);
  sub->add_option("-s,--system", a->system, "System prompt");
  sub->add_option("--chat-template", a->template_file,
                  "Jinja chat template file (default: the GGUF's tokenizer.chat_template)")
      ->check(CLI::ExistingFile);
  sub->add_option("-n,--n-predict", a->n_predict, "Reply tokens at most (-1: until EOS)")
      ->capture_default_str();
  sub->add_option("-c,--ctx-size", a->n_ctx, "Context size (0: model's, at most 4096)")
      ->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "CPU threads (0: all)")->capture_default_str();
  add_sampling_options(sub, a->sampling);
  sub->add_option("--seed", a->seed, "Random seed (-1: random, printed at the end)")
      ->capture_default_str();
  sub->add_flag("-v,--verbose", a->verbose, "Log loading details to stderr");
  return [a] { return chat(*a); };
}

}  // namespace latent::cli
