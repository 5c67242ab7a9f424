// tokenizer.json -> VocabData. Token ids come from model.vocab and added_tokens (added tokens win;
// special ones become control tokens, the others user-defined, as llama.cpp's convert_hf_to_gguf.py
// types them). BOS/EOS and add_bos/add_eos come from tokenizer_config.json, else from the
// TemplateProcessing post-processor, else llama.cpp's defaults for the pre-tokenizer.
#include "tokenizer/tokenizer_json.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "base/error.h"
#include "base/mapped_file.h"
#include "tokenizer/pretokenizer.h"

namespace latent {
namespace {

using nlohmann::json;

json parse_json_file(const std::string& path) {
  MappedFile file(path);
  const char* begin = reinterpret_cast<const char*>(file.data());
  json parsed = json::parse(begin, begin + file.size(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) throw Error(path + ": not valid JSON");
  return parsed;
}

// A token given as "text" or as {"content": "text", ...} (tokenizer_config.json); "" for null.
std::string token_content(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return "";
}

// The Split regexes of a pre_tokenizer (a Split, a ByteLevel or a Sequence of them), and whether
// it has a ByteLevel step and whether that step runs GPT-2's regex itself.
struct HfPreTokenizer {
  std::vector<std::string> split_regexes;
  bool byte_level = false;
  bool byte_level_use_regex = false;
  std::string unsupported;  // type of the first step that is neither Split nor ByteLevel
};

void collect_pre_tokenizer(const json& node, HfPreTokenizer& out) {
  if (!node.is_object()) return;
  const std::string type = node.value("type", "");
  if (type == "Sequence") {
    for (const json& child : node.value("pretokenizers", json::array())) {
      collect_pre_tokenizer(child, out);
    }
  } else if (type == "Split" && node.contains("pattern") && node["pattern"].contains("Regex") &&
             node.value("behavior", "") == "Isolated" && !node.value("invert", false)) {
    out.split_regexes.push_back(node["pattern"]["Regex"].get<std::string>());
  } else if (type == "ByteLevel") {
    out.byte_level = true;
    out.byte_level_use_regex = node.value("use_regex", true);
    if (node.value("add_prefix_space", false)) out.unsupported = "ByteLevel with add_prefix_space";
  } else if (out.unsupported.empty()) {
    out.unsupported = type.empty() ? "unknown" : type;
  }
}

// The TemplateProcessing "single" template: whether it starts / ends with a special token, and
// which.
struct Template {
  std::string first_special;
  std::string last_special;
};

void find_template(const json& node, Template& out) {
  if (!node.is_object()) return;
  if (node.value("type", "") == "Sequence") {
    for (const json& child : node.value("processors", json::array())) find_template(child, out);
    return;
  }
  if (node.value("type", "") != "TemplateProcessing") return;
  const json& single = node.value("single", json::array());
  if (single.empty()) return;
  if (single.front().contains("SpecialToken")) {
    out.first_special = single.front()["SpecialToken"].value("id", "");
  }
  if (single.size() > 1 && single.back().contains("SpecialToken")) {
    out.last_special = single.back()["SpecialToken"].value("id", "");
  }
}

bool is_spm_style(const json& root, const json& model) {
  if (model.value("byte_fallback", false)) return true;
  const std::string dump =
      root.value("normalizer", json()).dump() + root.value("pre_tokenizer", json()).dump();
  return dump.find("\"Metaspace\"") != std::string::npos ||
         dump.find("\"prepend\":\"\xE2\x96\x81\"") != std::string::npos;
}

bool has_space_prefix(const json& root) {
  const std::string dump =
      root.value("normalizer", json()).dump() + root.value("pre_tokenizer", json()).dump();
  if (dump.find("\"prepend\":\"\xE2\x96\x81\"") != std::string::npos) return true;
  return dump.find("\"Metaspace\"") != std::string::npos &&
         dump.find("\"prepend_scheme\":\"never\"") == std::string::npos &&
         dump.find("\"add_prefix_space\":false") == std::string::npos;
}

}  // namespace

VocabData read_tokenizer_json(const std::string& path) {
  const json root = parse_json_file(path);
  VocabData data;
  data.source = path;
  if (!root.is_object() || !root.contains("model") || !root["model"].is_object()) {
    throw Error::field(path, "model", "an object", "missing");
  }
  const json& model = root["model"];
  const std::string type = model.value("type", "");
  if (type != "BPE") {
    throw Error::field(path, "model.type", "\"BPE\" (byte-level or SentencePiece-style)",
                       "\"" + type + "\"");
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    throw Error::field(path, "model.vocab", "an object of token -> id", "missing");
  }

  // Token table: model.vocab, then added_tokens over it.
  const json& added = root.value("added_tokens", json::array());
  int64_t max_id = -1;
  for (const auto& [text, id] : model["vocab"].items())
    max_id = std::max(max_id, id.get<int64_t>());
  for (const json& token : added) max_id = std::max(max_id, token.value("id", int64_t{-1}));
  if (max_id < 0 || max_id >= INT32_MAX) {
    throw Error::field(path, "model.vocab", "token ids in [0, 2^31-1)", std::to_string(max_id));
  }
  data.tokens.assign(static_cast<size_t>(max_id + 1), "");
  data.types.assign(data.tokens.size(), TokenType::kUnused);
  for (const auto& [text, id] : model["vocab"].items()) {
    const int64_t i = id.get<int64_t>();
    if (i < 0)
      throw Error::field(path, "model.vocab[\"" + text + "\"]", "an id >= 0", std::to_string(i));
    data.tokens[static_cast<size_t>(i)] = text;
    data.types[static_cast<size_t>(i)] = TokenType::kNormal;
  }
  const std::string unk_text = token_content(model.value("unk_token", json()));
  for (const json& token : added) {
    const int64_t i = token.value("id", int64_t{-1});
    if (i < 0) throw Error::field(path, "added_tokens[].id", "an id >= 0", std::to_string(i));
    const std::string content = token.value("content", "");
    data.tokens[static_cast<size_t>(i)] = content;
    data.types[static_cast<size_t>(i)] = content == unk_text             ? TokenType::kUnknown
                                         : token.value("special", false) ? TokenType::kControl
                                                                         : TokenType::kUserDefined;
  }

  if (is_spm_style(root, model)) {
    // SentencePiece BPE on the SPM path, which merges the adjacent pair whose concatenation scores
    // highest: a token's score is minus the rank of the first merge that makes it, so the order
    // of merges is the order of model.merges (tokens no merge makes, like SentencePiece's
    // whitespace pieces "▁▁" with score -1e9, come last).
    data.model = "llama";
    data.add_space_prefix = has_space_prefix(root);
    data.scores.assign(data.tokens.size(), -1e9f);
    std::unordered_map<std::string_view, size_t> ids;
    for (size_t i = 0; i < data.tokens.size(); ++i) ids.emplace(data.tokens[i], i);
    const json& merges = model.value("merges", json::array());
    for (size_t rank = merges.size(); rank-- > 0;) {
      const json& merge = merges[rank];
      std::string joined;
      if (merge.is_string()) {
        joined = merge.get<std::string>();
        const size_t space = joined.find(' ', 1);
        if (space != std::string::npos) joined.erase(space, 1);
      } else if (merge.is_array() && merge.size() == 2) {
        joined = merge[0].get<std::string>() + merge[1].get<std::string>();
      }
      auto it = ids.find(joined);
      if (it != ids.end()) data.scores[it->second] = -static_cast<float>(rank);
    }
    for (size_t i = 0; i < data.tokens.size(); ++i) {
      const std::string& text = data.tokens[i];
      if (data.types[i] == TokenType::kNormal && text.size() == 6 && text.rfind("<0x", 0) == 0 &&
          text.back() == '>') {
        data.types[i] = TokenType::kByte;
      }
    }
  } else {
    HfPreTokenizer pre;
    collect_pre_tokenizer(root.value("pre_tokenizer", json()), pre);
    if (!pre.byte_level || !pre.unsupported.empty()) {
      throw Error::field(
          path, "pre_tokenizer", "a byte-level pre-tokenizer (Split regexes + ByteLevel)",
          pre.unsupported.empty() ? "no ByteLevel step" : "\"" + pre.unsupported + "\"");
    }
    data.model = "gpt2";
    data.pre = pre_name_for_hf_pre_tokenizer(pre.split_regexes, pre.byte_level_use_regex);
    if (data.pre.empty()) {
      std::string found;
      for (const std::string& regex : pre.split_regexes)
        found += (found.empty() ? "" : " + ") + regex;
      throw Error::field(path, "pre_tokenizer",
                         "the Split regexes of a known pre-tokenizer (llama-bpe, qwen2, "
                         "deepseek-v3, gpt-2; GGUF also accepts " +
                             PreTokenizer::known_names() + ")",
                         found.empty() ? "ByteLevel without use_regex" : found);
    }
    data.ignore_merges = model.value("ignore_merges", false);
    data.add_space_prefix = false;
    const json& merges = model.value("merges", json::array());
    data.merges.reserve(merges.size());
    for (const json& merge : merges) {
      if (merge.is_string()) {
        data.merges.push_back(merge.get<std::string>());
      } else if (merge.is_array() && merge.size() == 2) {
        data.merges.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
      } else {
        throw Error::field(path, "model.merges[]", "\"left right\" or [left, right]", merge.dump());
      }
    }
  }

  // Special ids and flags: tokenizer_config.json, else the post-processor, else defaults.
  const std::filesystem::path config_path =
      std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  json config = json::object();
  if (std::filesystem::exists(config_path)) config = parse_json_file(config_path.string());
  Template post;
  find_template(root.value("post_processor", json()), post);
  auto id_of = [&](const std::string& text) -> TokenId {
    if (text.empty()) return -1;
    for (size_t i = 0; i < data.tokens.size(); ++i) {
      if (data.tokens[i] == text) return static_cast<TokenId>(i);
    }
    return -1;
  };
  const std::string bos_text =
      config.contains("bos_token") ? token_content(config["bos_token"]) : post.first_special;
  const std::string eos_text = token_content(config.value("eos_token", json()));
  data.bos = id_of(bos_text);
  data.eos = id_of(eos_text);
  data.unk = id_of(unk_text);
  data.pad = id_of(token_content(config.value("pad_token", json())));
  const bool default_add_bos =
      data.model == "llama" || data.pre == "llama-bpe" || !post.first_special.empty();
  data.add_bos = config.value("add_bos_token", default_add_bos) && data.bos >= 0;
  data.add_eos = config.value("add_eos_token", !post.last_special.empty()) && data.eos >= 0;
  return data;
}

}  // namespace latent
