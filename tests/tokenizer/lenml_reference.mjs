// Differential-test reference: generates a seeded, varied corpus and tokenizes it with
// @lenml/tokenizers (a dependency-free fork of transformers.js' tokenizers, which no one here wrote).
// Usage: node lenml_reference.mjs <node_modules> <testdata> <n_strings> <seed> <out.json>
// Output: {strings: [...], nfc: [...] (NFC form, for Qwen's NFC normalizer), ids: {name: [[...]]}}.
// Excluded from the corpus: U+0085, U+180E and U+FEFF (JavaScript's \s disagrees with Unicode
// White_Space, which Hugging Face and llama.cpp use, on exactly these), lone surrogates, and code
// points assigned after Unicode 14 (PCRE2 10.42's tables).
import fs from "fs";
import { pathToFileURL } from "url";

const [modules, testdata, nArg, seedArg, outPath] = process.argv.slice(2);
const { TokenizerLoader } = await import(
  pathToFileURL(`${modules}/@lenml/tokenizers/dist/main.mjs`).href);

let state = Number(seedArg) >>> 0;
function random() {  // mulberry32
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (list) => list[Math.floor(random() * list.length)];
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
const repeat = (f, n) => Array.from({ length: n }, f).join("");

const words = ["the", "Hello", "WORLD", "naïve", "café", "Straße", "über", "llama", "tokenizer",
  "İstanbul", "ﬁnance", "Ǆemal", "ſtraight", "x", "I", "a", "OpenAI", "GGUF", "camelCase", "snake_case"];
const contractions = ["don't", "I'm", "we'VE", "they're", "she'll", "it's", "I'D", "can't", "'s",
  "'ll", "'Re", "o'clock", "rock'n'roll", "y'all", "'", "''", "’s", "don’t"];
const code = ["for (int i = 0; i < n; ++i) {", "def f(x):\n    return x**2\n", "<div class=\"a\">",
  "a+=b;//c", "std::vector<int> v{1,2,3};", "if x != nil {\n\treturn err\n}", "$ ls -la ~/", "#include <stdio.h>",
  "SELECT * FROM t WHERE id=42;", "λx.x", "0x7fffffff", "1e-9", "arr[i][j]", "}}}}", "```python", "@decorator"];
const emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸", "🦙", "1️⃣", "❤️", "🏳️‍🌈", "🧑🏿‍💻", "✨", "🤖", "😂😂😂", "👩‍❤️‍💋‍👨"];
const scripts = ["你好世界", "日本語のテキストです", "한국어 문장", "مرحبا بالعالم", "שלום עולם",
  "Привет, мир", "Γειά σου Κόσμε", "नमस्ते दुनिया", "สวัสดีชาวโลก", "ＡＢＣ１２３", "中文，标点。",
  "「引用」", "ᄀᄁ", "Ελληνικά", "Tiếng Việt", "ქართული", "Հայերեն", "አማርኛ", "தமிழ்", "ㄅㄆㄇ"];
const combining = ["e\u0301", "a\u0308\u0304", "Z\u0324\u0354\u0367\u0311\u0313", "n\u0303", "\u0301",
  "o\u0338", "\u0915\u094D\u0937", "A\u030A", "i\u0307\u0301", "\u1100\u1161\u11A8"];
const invalidLooking = ["\\xff\\xfe", "\uFFFD", "Ã©", "\u00C3\u0028", "\\u0000", "\u0000", "\u0001\u0002",
  "\u007F", "\u00A0", "\u200B", "\u200D", "\u2028", "\u2029", "\u3000", "\uE000", "\u{10FFFD}", "%C3%A9", "&#x1F600;"];
const specials = ["<|eot_id|>", "<|im_end|>", "<|im_start|>user", "<s>", "</s>", "<unk>",
  "<|begin_of_text|>", "<|end_of_text|>", "<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>",
  "<|eot_id", "eot_id|>", "< s >", "[INST]", "<|endoftext|>", "<tool_call>", "<think>", "<|reserved_special_token_5|>"];
const punctuation = ["!!!", "...", "?!", "—", "«»", "“quoted”", "(", ")", "---", "...\n", ",", ";;", "''", "\"\"", "¿¡"];
const spaces = [" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n ", "\t\t", "    ", " \t\n", "\u3000", "\u00A0\u00A0", "\r"];

function digits() { return repeat(() => String(int(0, 9)), int(1, 24)); }
function randomCodePoint() {
  const ranges = [[0x20, 0x7e], [0xa1, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x5ff],
    [0x600, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f], [0x3040, 0x30ff], [0x4e00, 0x9fa5],
    [0xac00, 0xd7a3], [0x2000, 0x206f], [0x2190, 0x22ff], [0x1f300, 0x1f5ff], [0xff01, 0xff5e]];
  for (;;) {
    const [lo, hi] = pick(ranges);
    const cp = int(lo, hi);
    if (cp === 0x85 || cp === 0x180e || cp === 0xfeff) continue;
    const s = String.fromCodePoint(cp);
    if (/\p{Cn}/u.test(s)) continue;
    return s;
  }
}
const makers = [
  () => pick(words), () => pick(contractions), () => digits(), () => pick(spaces).repeat(int(1, 4)),
  () => pick(code), () => pick(emoji), () => pick(scripts), () => pick(combining),
  () => pick(invalidLooking), () => pick(specials), () => pick(punctuation),
  () => repeat(randomCodePoint, int(1, 12)), () => pick(words) + pick(contractions),
  () => " ".repeat(int(1, 16)) + pick(words), () => pick(words).toUpperCase() + digits(),
];
const strings = [];
for (let i = 0; i < Number(nArg); ++i) {
  let s = "";
  for (let k = int(1, 8); k > 0; --k) s += pick(makers)() + pick(["", "", " ", "\n", "\t"]);
  strings.push(s);
}
const nfc = strings.map((s) => s.normalize("NFC"));

const ids = {};
for (const name of ["llama3", "qwen3", "deepseek_v3", "mistral"]) {
  const dir = `${testdata}/tokenizers/${name}`;
  const tokenizer = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(fs.readFileSync(`${dir}/tokenizer.json`, "utf8")),
    tokenizerConfig: JSON.parse(fs.readFileSync(`${dir}/tokenizer_config.json`, "utf8")),
  });
  const input = name === "qwen3" ? nfc : strings;
  ids[name] = input.map((s) => tokenizer.encode(s, { add_special_tokens: false }));
}
fs.writeFileSync(outPath, JSON.stringify({ strings, nfc, ids }));
