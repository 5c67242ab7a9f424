// The fixed character vocabulary and its GGUF keys.
#include "train/arith_vocab.h"

#include "gguf/gguf_writer.h"
#include "train/arith_task.h"

namespace latent::train {

VocabData arith_vocab() {
  VocabData v;
  v.source = "arith_vocab";
  v.model = "llama";
  v.tokens = {"<unk>",       "<s>", "</s>", std::string(kThinkOpen), std::string(kThinkClose),
              "\xE2\x96\x81"};  // U+2581, SentencePiece's escaped space
  v.types = {TokenType::kUnknown,     TokenType::kControl,     TokenType::kControl,
             TokenType::kUserDefined, TokenType::kUserDefined, TokenType::kNormal};
  for (char c = 33; c < 127; ++c) {
    v.tokens.push_back(std::string(1, c));
    v.types.push_back(TokenType::kNormal);
  }
  v.tokens.push_back("\n");
  v.types.push_back(TokenType::kNormal);
  v.scores.assign(v.tokens.size(), 0.0f);
  v.bos = kArithBos;
  v.eos = kArithEos;
  v.unk = 0;
  v.add_bos = true;
  v.add_eos = false;
  v.add_space_prefix = false;
  return v;
}

void write_arith_vocab(GgufWriter& w) {
  const VocabData v = arith_vocab();
  std::vector<int32_t> types;
  for (TokenType t : v.types) types.push_back(static_cast<int32_t>(t));
  w.set_str("tokenizer.ggml.model", v.model);
  w.set_str_array("tokenizer.ggml.tokens", v.tokens);
  w.set_f32_array("tokenizer.ggml.scores", v.scores);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos));
  w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos));
  w.set_u32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(v.unk));
  w.set_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  w.set_bool("tokenizer.ggml.add_eos_token", v.add_eos);
  w.set_bool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
  w.set_str("tokenizer.chat_template", kArithChatTemplate);
}

}  // namespace latent::train
