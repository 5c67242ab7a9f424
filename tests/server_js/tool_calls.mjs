// Tool calls through OpenAI's official Node SDK, for each tool-call format (one `latent serve`
// per format, each a random-weight model carrying a real chat template): a call forced by
// tool_choice, non-streamed and streamed (deltas assembled per index as OpenAI frames them), its
// arguments validated by ajv against the function's schema, then the call and a `tool` result fed
// back for a reply. Run by tests/server/test_structured_output.cpp with:
//   LATENT_NPM_DIR  folder whose node_modules holds openai, ajv
//   LATENT_SERVERS  JSON {"<format>": "http://127.0.0.1:PORT", ...}
// Prints "ok <format> <check>" per check; exits 1 at the first failure.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.LATENT_NPM_DIR, 'package.json'));
const sdk = require('openai');
const OpenAI = sdk.OpenAI ?? sdk.default ?? sdk;
const Ajv = require('ajv').default ?? require('ajv');

const weather = {
  type: 'object',
  properties: {
    city: { type: 'string', enum: ['Paris', 'Oslo', 'Lima'] },
    days: { type: 'integer', minimum: 1, maximum: 7 },
  },
  required: ['city', 'days'],
  additionalProperties: false,
};
const clock = {
  type: 'object',
  properties: { tz: { enum: ['UTC', 'CET'] } },
  required: ['tz'],
  additionalProperties: false,
};
const tools = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather forecast', parameters: weather } },
  { type: 'function', function: { name: 'get_time', description: 'Current time', parameters: clock } },
];
const ajv = new Ajv({ strict: false });
const validators = { get_weather: ajv.compile(weather), get_time: ajv.compile(clock) };
const messages = [{ role: 'user', content: 'What is the weather in Paris for 3 days?' }];

function checkCall(call, name) {
  assert.match(call.id, /^call_[A-Za-z0-9]+$/);
  assert.equal(call.type, 'function');
  if (name) assert.equal(call.function.name, name);
  assert.ok(validators[call.function.name], `unknown function ${call.function.name}`);
  const args = JSON.parse(call.function.arguments);
  assert.ok(validators[call.function.name](args), `${call.function.arguments}: ${ajv.errorsText(validators[call.function.name].errors)}`);
}

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok ${name}`);
  } catch (e) {
    console.error(`FAILED ${name}: ${e?.stack ?? e}`);
    process.exit(1);
  }
}

for (const [format, url] of Object.entries(JSON.parse(process.env.LATENT_SERVERS))) {
  const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'unused', maxRetries: 0 });
  const base = { model: 'tiny', messages, tools, temperature: 1.0, max_tokens: 400 };
  let first;
  await check(`${format} named tool_choice, not streamed`, async () => {
    const r = await client.chat.completions.create({
      ...base, seed: 7, tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'tool_calls', JSON.stringify(c));
    assert.equal(c.message.content, null, JSON.stringify(c.message));
    assert.equal(c.message.tool_calls.length, 1, JSON.stringify(c.message));
    checkCall(c.message.tool_calls[0], 'get_weather');
    if (format === 'deepseek') assert.equal(typeof c.message.reasoning_content, 'string');
    first = c.message;
  });
  await check(`${format} required tool_choice, streamed`, async () => {
    const stream = await client.chat.completions.create({
      ...base, seed: 8, tool_choice: 'required', parallel_tool_calls: false, stream: true,
    });
    const calls = [];
    let finish = null;
    let content = '';
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        content += c.delta.content ?? '';
        for (const d of c.delta.tool_calls ?? []) {
          if (!calls[d.index]) {
            // OpenAI's first delta of a call carries id, type and name.
            assert.ok(d.id && d.type === 'function' && d.function?.name, JSON.stringify(d));
            calls[d.index] = { id: d.id, type: d.type, function: { name: d.function.name, arguments: '' } };
          }
          calls[d.index].function.arguments += d.function?.arguments ?? '';
        }
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(content, '');
    assert.equal(calls.length, 1);
    checkCall(calls[0]);
  });
  await check(`${format} tool result fed back`, async () => {
    const r = await client.chat.completions.create({
      model: 'tiny', tools, temperature: 1.0, max_tokens: 8, seed: 9,
      messages: [...messages, first, { role: 'tool', tool_call_id: first.tool_calls[0].id, content: '{"forecast": "sunny"}' }],
    });
    const c = r.choices[0];
    assert.ok(['stop', 'length', 'tool_calls'].includes(c.finish_reason), c.finish_reason);
    assert.ok(r.usage.prompt_tokens > 20, JSON.stringify(r.usage));
  });
}
