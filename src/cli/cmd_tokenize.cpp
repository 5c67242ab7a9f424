// `latent tokenize`: print a text's token ids, space-separated, on one line. The vocabulary comes
// from a GGUF (-m) or a Hugging Face tokenizer.json (--tokenizer); the text from -p or a file.
#include <cstdio>
#include <memory>
#include <string>

#include "base/error.h"
#include "base/mapped_file.h"
#include "cli/commands.h"
#include "gguf/gguf_reader.h"
#include "tokenizer/tokenizer.h"

namespace latent::cli {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string tokenizer_json;
  std::string prompt;
  std::string file;
  bool no_bos = false;
  bool parse_special = false;
};

std::string read_whole_file(const std::string& path) {
  MappedFile file(path);
  return std::string(reinterpret_cast<const char*>(file.data()), file.size());
}

int tokenize(const TokenizeArgs& a) {
  std::unique_ptr<Tokenizer> tokenizer;
  if (!a.model.empty()) {
    GgufFile file = GgufFile::open(a.model);
    tokenizer = Tokenizer::from_gguf(file);
  } else {
    tokenizer = Tokenizer::from_tokenizer_json(a.tokenizer_json);
  }
  const std::string text = a.file.empty() ? a.prompt : read_whole_file(a.file);
  const auto ids = tokenizer->encode(text, /*add_special=*/!a.no_bos, a.parse_special);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace

Command add_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* sub = app.add_subcommand("tokenize", "Print the token ids of a text");
  auto* model = sub->add_option("-m,--model", a->model, "GGUF model (or vocabulary-only) file")
                    ->check(CLI::ExistingFile);
  auto* json = sub->add_option("--tokenizer", a->tokenizer_json,
                               "Hugging Face tokenizer.json (tokenizer_config.json beside it is "
                               "read too), instead of -m")
                   ->check(CLI::ExistingFile);
  model->excludes(json);
  auto* source = sub->add_option_group("vocabulary");
  source->add_option(model);
  source->add_option(json);
  source->require_option(1);
  auto* prompt = sub->add_option("-p,--prompt", a->prompt, "Text to tokenize");
  auto* file =
      sub->add_option("--file", a->file, "Tokenize this file's whole content instead of -p")
          ->check(CLI::ExistingFile);
  auto* text = sub->add_option_group("text");
  text->add_option(prompt);
  text->add_option(file);
  text->require_option(1);
  sub->add_flag("--no-bos", a->no_bos, "Do not add the BOS token (nor other added special tokens)");
  sub->add_flag("--parse-special", a->parse_special, "Recognise special-token text like </s>");
  return [a] { return tokenize(*a); };
}

}  // namespace latent::cli
