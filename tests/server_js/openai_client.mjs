// Drives `latent serve` with OpenAI's official Node SDK (a client no one here wrote): chat,
// completions, streaming, n=2, stop sequences, and errors surfacing as the SDK's typed exceptions.
// Run by tests/server/test_openai_js.cpp, which starts the servers and passes:
//   LATENT_NPM_DIR  folder whose node_modules holds `openai` (setup.sh: build/npm)
//   LATENT_URL      server without an API key, serving model id LATENT_MODEL
//   LATENT_KEY_URL  server started with --api-key sekret
// Prints "ok <check>" per check; exits 1 at the first failure.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.LATENT_NPM_DIR, 'package.json'));
const sdk = require('openai');
const OpenAI = sdk.OpenAI ?? sdk.default ?? sdk;
const { BadRequestError, AuthenticationError, NotFoundError } = OpenAI;

const model = process.env.LATENT_MODEL;
const client = new OpenAI({ baseURL: process.env.LATENT_URL + '/v1', apiKey: 'unused', maxRetries: 0 });
const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Tell me a story.' },
];

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok ${name}`);
  } catch (e) {
    console.error(`FAILED ${name}: ${e?.stack ?? e}`);
    process.exit(1);
  }
}

async function expectError(cls, fn) {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e?.constructor?.name}: ${e?.message}`);
    return e;
  }
  assert.fail(`expected ${cls.name}, got success`);
}

async function collectChat(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  const text = {};
  const finish = {};
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    ++chunks;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text[c.index] = (text[c.index] ?? '') + (c.delta.content ?? '');
      if (c.finish_reason) finish[c.index] = c.finish_reason;
    }
  }
  return { text, finish, usage, chunks };
}

await check('models.list', async () => {
  const list = await client.models.list();
  assert.ok(list.data.some((m) => m.id === model), JSON.stringify(list.data));
});

let greedy;
await check('chat non-streaming', async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  greedy = r.choices[0].message.content;
});

await check('chat streaming equals non-streaming (greedy), with usage', async () => {
  const s = await collectChat({ model, messages, max_tokens: 16, temperature: 0,
                                stream_options: { include_usage: true } });
  assert.equal(s.text[0], greedy);
  assert.ok(s.finish[0]);
  assert.ok(s.usage && s.usage.completion_tokens > 0, JSON.stringify(s.usage));
});

await check('completions', async () => {
  const r = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8,
                                              temperature: 0, logprobs: 2 });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  assert.equal(r.choices[0].logprobs.tokens.length, r.usage.completion_tokens);
});

await check('completions streaming', async () => {
  const whole = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8,
                                                  temperature: 0 });
  const stream = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8,
                                                   temperature: 0, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  assert.equal(text, whole.choices[0].text);
});

await check('n=2', async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 6, n: 2, seed: 7 });
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
  const s = await collectChat({ model, messages, max_tokens: 6, n: 2, seed: 7 });
  assert.deepEqual(Object.keys(s.text).sort(), ['0', '1']);
  assert.ok(s.finish[0] && s.finish[1]);
});

await check('stop sequences', async () => {
  const base = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 24,
                                                 temperature: 0 });
  const text = base.choices[0].text;
  assert.ok(text.length >= 8, `greedy text too short for the check: ${JSON.stringify(text)}`);
  const stop = text.slice(5, 7);
  const expected = text.slice(0, text.indexOf(stop));
  const r = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 24,
                                              temperature: 0, stop: [stop, 'zzzz-never'] });
  assert.equal(r.choices[0].text, expected);
  assert.equal(r.choices[0].finish_reason, 'stop');
  const stream = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 24,
                                                   temperature: 0, stop, stream: true });
  let streamed = '';
  for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? '';
  assert.equal(streamed, expected);
});

await check('BadRequestError names the field', async () => {
  const e = await expectError(BadRequestError, () =>
    client.chat.completions.create({ model, messages, temperature: 5 }));
  assert.equal(e.status, 400);
  assert.equal(e.param, 'temperature');
  assert.match(e.message, /temperature/);
  await expectError(BadRequestError, () =>
    client.completions.create({ model, prompt: 'x', max_tokens: 1000000 }));
});

await check('NotFoundError for an unknown model', async () => {
  const e = await expectError(NotFoundError, () =>
    client.chat.completions.create({ model: 'no-such-model', messages }));
  assert.equal(e.code, 'model_not_found');
});

await check('AuthenticationError without the key', async () => {
  const bad = new OpenAI({ baseURL: process.env.LATENT_KEY_URL + '/v1', apiKey: 'wrong', maxRetries: 0 });
  const e = await expectError(AuthenticationError, () =>
    bad.chat.completions.create({ model, messages, max_tokens: 2 }));
  assert.equal(e.status, 401);
  const good = new OpenAI({ baseURL: process.env.LATENT_KEY_URL + '/v1', apiKey: 'sekret', maxRetries: 0 });
  const r = await good.chat.completions.create({ model, messages, max_tokens: 2 });
  assert.equal(r.choices.length, 1);
});
