// Times @lenml/tokenizers (transformers.js' tokenizers) encoding the same text as
// bench_tokenizer.cpp, for comparison. Usage:
//   LATENT_BENCH_TEXT=/tmp/text.txt build/bench/bench_bench_tokenizer   # writes the text
//   npm install --prefix build/npm @lenml/tokenizers@3.7.2
//   node bench/bench_tokenizer_lenml.mjs build/npm/node_modules ../shared/testdata /tmp/text.txt
import fs from "fs";
import { pathToFileURL } from "url";

const [modules, testdata, textPath] = process.argv.slice(2);
const { TokenizerLoader } = await import(
  pathToFileURL(`${modules}/@lenml/tokenizers/dist/main.mjs`).href);
const dir = `${testdata}/tokenizers/llama3`;
const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(fs.readFileSync(`${dir}/tokenizer.json`, "utf8")),
  tokenizerConfig: JSON.parse(fs.readFileSync(`${dir}/tokenizer_config.json`, "utf8")),
});
const text = fs.readFileSync(textPath, "utf8");
const bytes = Buffer.byteLength(text, "utf8");
tokenizer.encode(text, { add_special_tokens: false });  // warm-up (JIT, caches)
const runs = 3;
let best = Infinity;
let n = 0;
for (let i = 0; i < runs; ++i) {
  const t0 = process.hrtime.bigint();
  n = tokenizer.encode(text, { add_special_tokens: false }).length;
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
}
console.log(`lenml: ${bytes} bytes, ${n} tokens, best of ${runs}: ${(best * 1000).toFixed(1)} ms, ` +
            `${(bytes / 1e6 / best).toFixed(2)} MB/s`);
