// PreTokenizer: the regex sets of llama.cpp's llm_tokenizer_bpe (src/llama-vocab.cpp; the strings
// are copied from there, where they are adapted from each model's tokenizer.json so that they need
// no case-insensitive groups), compiled with PCRE2. \s is matched as Unicode White_Space, the set
// that Hugging Face (Oniguruma) and llama.cpp's unicode tables use.
#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/error.h"

namespace latent {
namespace {

// Llama 3 (also dbrx, smaug): Meta's regex with the (?i:'s|...) group spelled out.
const std::vector<std::string_view> kLlama3 = {
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"};
// Qwen2 (also the DeepSeek-R1 Qwen distills, stablelm2): as Llama 3 but one digit per word.
const std::vector<std::string_view> kQwen2 = {
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"};
// GPT-2's own pattern (gpt-2, mpt, phi-2, olmo, jais).
constexpr std::string_view kGpt2Regex =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re";
const std::vector<std::string_view> kGpt2 = {kGpt2Regex};
const std::vector<std::string_view> kStarcoder = {R"re(\p{N})re", kGpt2Regex};
const std::vector<std::string_view> kFalcon = {R"re([\p{P}\$\+<=>\^~\|`]+)re", kGpt2Regex,
                                               R"re([0-9][0-9][0-9])re"};
const std::vector<std::string_view> kDefault = {R"re([\p{P}\$\+<=>\^~\|]+)re", kGpt2Regex,
                                                R"re(\p{N}+)re", R"re([0-9][0-9][0-9])re"};
// clang-format off
const std::vector<std::string_view> kDeepseekLlm = {
    R"re([\r\n])re",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    R"re(\s+$)re",
    "[一-龥ࠀ-一가-퟿]+",
    R"re(\p{N}+)re"};
// clang-format on
const std::vector<std::string_view> kDeepseekCoder = {R"re([\r\n])re", R"re(\s?\p{L}+)re",
                                                      R"re(\s?\p{P}+)re",
                                                      "[一-龥ࠀ-一가-퟿]+", R"re(\p{N})re"};
const std::vector<std::string_view> kDeepseekV3 = {
    R"re(\p{N}{1,3})re", "[一-龥぀-ゟ゠-ヿ]+",
    R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"};

struct KnownPre {
  std::string_view name;       // tokenizer.ggml.pre value
  std::string_view canonical;  // the set's name
  const std::vector<std::string_view>* regexes;
  bool ignore_merges;
};

// Names and flags as llama.cpp's llama_vocab::impl::load maps them.
const KnownPre kKnownPres[] = {
    {"llama-bpe", "llama-bpe", &kLlama3, true},
    {"llama3", "llama-bpe", &kLlama3, true},
    {"llama-v3", "llama-bpe", &kLlama3, true},
    {"falcon3", "llama-bpe", &kLlama3, true},
    {"dbrx", "dbrx", &kLlama3, false},
    {"smaug-bpe", "dbrx", &kLlama3, false},
    {"qwen2", "qwen2", &kQwen2, false},
    {"deepseek-r1-qwen", "qwen2", &kQwen2, false},
    {"stablelm2", "qwen2", &kQwen2, false},
    {"deepseek-llm", "deepseek-llm", &kDeepseekLlm, false},
    {"deepseek-coder", "deepseek-coder", &kDeepseekCoder, false},
    {"deepseek-v3", "deepseek-v3", &kDeepseekV3, false},
    {"gpt-2", "gpt-2", &kGpt2, false},
    {"mpt", "gpt-2", &kGpt2, false},
    {"phi-2", "gpt-2", &kGpt2, false},
    {"olmo", "gpt-2", &kGpt2, false},
    {"jais", "gpt-2", &kGpt2, false},
    {"falcon", "falcon", &kFalcon, false},
    {"starcoder", "starcoder", &kStarcoder, false},
    {"refact", "starcoder", &kStarcoder, false},
    {"command-r", "starcoder", &kStarcoder, false},
    {"smollm", "starcoder", &kStarcoder, false},
    {"codeshell", "starcoder", &kStarcoder, false},
    {"exaone", "starcoder", &kStarcoder, false},
    {"default", "default", &kDefault, false},
};

// \s and \S -> \p{White_Space} and \P{White_Space} (also inside classes); other escapes untouched.
std::string with_unicode_white_space(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 32);
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      if (next == 's') {
        out += "\\p{White_Space}";
      } else if (next == 'S') {
        out += "\\P{White_Space}";
      } else {
        out += '\\';
        out += next;
      }
      continue;
    }
    out += pattern[i];
  }
  return out;
}

// Per-thread match state: match data and a JIT stack that may grow to 16 MiB (the 32 KiB default
// can run out on long backtracking runs), shared by all regexes used on this thread.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  MatchState() { pcre2_jit_stack_assign(context, nullptr, jit_stack); }
  ~MatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_data_free(data);
  }
};

}  // namespace

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(std::string_view pre, const std::string& source) {
  if (pre.empty()) pre = "default";
  const KnownPre* known = nullptr;
  for (const KnownPre& k : kKnownPres) {
    if (k.name == pre) known = &k;
  }
  if (known == nullptr) {
    throw Error::field(source, "tokenizer.ggml.pre",
                       "one of the supported pre-tokenizers (" + known_names() + ")",
                       "\"" + std::string(pre) + "\"");
  }
  name_ = known->canonical;
  ignore_merges_ = known->ignore_merges;
  for (std::string_view pattern : *known->regexes) {
    const std::string rewritten = with_unicode_white_space(pattern);
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    auto regex = std::make_unique<Regex>();
    regex->code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()), rewritten.size(),
                      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY,
                      &error_code, &error_offset, nullptr);
    if (regex->code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error_code, message, sizeof(message));
      throw Error(source + ": pre-tokenizer \"" + name_ + "\": PCRE2 cannot compile its regex at " +
                  std::to_string(error_offset) + ": " + reinterpret_cast<const char*>(message));
    }
    pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if absent
    regexes_.push_back(std::move(regex));
  }
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

void PreTokenizer::split(std::string_view text,
                         std::vector<std::pair<size_t, size_t>>& words) const {
  if (text.empty()) return;
  std::vector<std::pair<size_t, size_t>> current = {{0, text.size()}};
  std::vector<std::pair<size_t, size_t>> next;
  thread_local MatchState state;
  for (const auto& regex : regexes_) {
    next.clear();
    next.reserve(current.size() * 2);
    for (const auto& [begin, end] : current) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + begin);
      const size_t length = end - begin;
      size_t gap = 0;  // start of the not-yet-emitted text, relative to begin
      while (gap < length) {
        const int rc = pcre2_match(regex->code, subject, length, gap, PCRE2_NOTEMPTY, state.data,
                                   state.context);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          PCRE2_UCHAR message[256];
          pcre2_get_error_message(rc, message, sizeof(message));
          throw Error("pre-tokenizer \"" + name_ + "\": PCRE2 could not match a " +
                      std::to_string(length) +
                      "-byte text: " + reinterpret_cast<const char*>(message));
        }
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
        if (ovector[0] > gap) next.emplace_back(begin + gap, begin + ovector[0]);
        next.emplace_back(begin + ovector[0], begin + ovector[1]);
        gap = ovector[1];
      }
      if (gap < length) next.emplace_back(begin + gap, end);
    }
    current.swap(next);
  }
  words.insert(words.end(), current.begin(), current.end());
}

std::string PreTokenizer::known_names() {
  std::string names;
  for (const KnownPre& k : kKnownPres) {
    if (!names.empty()) names += ", ";
    names += k.name;
  }
  return names;
}

std::string pre_name_for_hf_pre_tokenizer(const std::vector<std::string>& split_regexes,
                                          bool byte_level_use_regex) {
  // The tokenizer.json regexes (Meta's, Qwen's, DeepSeek's originals) for each set.
  static const std::string kHfLlama3 =
      R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
  static const std::string kHfQwen2 =
      R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
  static const std::vector<std::string> kHfDeepseekV3 = {
      R"re(\p{N}{1,3})re", "[一-龥぀-ゟ゠-ヿ]+",
      "[!\"#$%&'()*+,\\-./"
      ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
      "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"};
  if (split_regexes.empty() && byte_level_use_regex) return "gpt-2";
  if (byte_level_use_regex) return "";
  if (split_regexes.size() == 1 && split_regexes[0] == kHfLlama3) return "llama-bpe";
  if (split_regexes.size() == 1 && split_regexes[0] == kHfQwen2) return "qwen2";
  if (split_regexes == kHfDeepseekV3) return "deepseek-v3";
  return "";
}

}  // namespace latent
