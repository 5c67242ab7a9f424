// `latent tokenize`: print a text's token ids, space-separated, on one line.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "gguf/gguf_reader.h"
#include "tokenizer/tokenizer.h"

namespace latent::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string prompt;
  bool no_bos = false;
  bool parse_special = false;
};

int tokenize(const TokenizeArgs& a) {
  GgufFile file = GgufFile::open(a.model);
  auto tokenizer = Tokenizer::from_gguf(file);
  const auto ids = tokenizer->encode(a.prompt, /*add_special=*/!a.no_bos, a.parse_special);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace

Command add_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* sub = app.add_subcommand("tokenize", "Print the token ids of a text");
  sub->add_option("-m,--model", a->model, "GGUF model (or vocabulary-only) file")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("-p,--prompt", a->prompt, "Text to tokenize")->required();
  sub->add_flag("--no-bos", a->no_bos, "Do not add the BOS token (nor other added special tokens)");
  sub->add_flag("--parse-special", a->parse_special, "Recognise special-token text like </s>");
  return [a] { return tokenize(*a); };
}

}  // namespace latent::cli
