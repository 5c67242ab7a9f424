// Constrained sampling checked by a JSON-schema validator no one here wrote (ajv + ajv-formats).
// Two modes, run by tests/server/test_structured_output.cpp and tests/cli/test_json_schema_cli.cpp:
//   LATENT_URL set: for every schema below, LATENT_REQUESTS requests to LATENT_URL/v1/completions
//     with response_format json_schema, n = LATENT_N, temperature 1.0; every choice must finish
//     with "stop" and validate.
//   LATENT_VALIDATE_FILE set: a JSON array of {"schema": NAME, "output": TEXT} (from `latent run
//     --json-schema`), each validated against the named schema.
//   LATENT_SCHEMAS=a,b limits the server mode to those schemas.
//   LATENT_PRINT_SCHEMA=NAME: print that schema as JSON and exit.
// Prints "validated N samples, F failures"; exits 1 on any failure.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.LATENT_NPM_DIR, 'package.json'));
const Ajv = require('ajv').default ?? require('ajv');
const addFormats = require('ajv-formats').default ?? require('ajv-formats');

export const schemas = {
  // required and optional properties, no others
  record: {
    type: 'object',
    properties: {
      id: { type: 'integer', minimum: 1, maximum: 999 },
      name: { type: 'string', maxLength: 12 },
      active: { type: 'boolean' },
      score: { type: 'number' },
    },
    required: ['id', 'name'],
    additionalProperties: false,
  },
  // enum and const
  choice: {
    type: 'object',
    properties: {
      color: { enum: ['red', 'green', 'blue'] },
      kind: { const: 'point' },
      size: { enum: [1, 2, 3, null] },
    },
    required: ['color', 'kind', 'size'],
  },
  // arrays with bounds and integer ranges
  list: {
    type: 'array',
    items: { type: 'integer', minimum: -5, maximum: 50 },
    minItems: 2,
    maxItems: 4,
  },
  // nested $ref
  segment: {
    $defs: {
      point: {
        type: 'object',
        properties: { x: { type: 'integer', minimum: 0, maximum: 99 }, y: { $ref: '#/$defs/coord' } },
        required: ['x', 'y'],
      },
      coord: { type: 'integer', exclusiveMinimum: -10, exclusiveMaximum: 10 },
    },
    type: 'object',
    properties: { from: { $ref: '#/$defs/point' }, to: { $ref: '#/$defs/point' } },
    required: ['from', 'to'],
  },
  // string patterns and formats
  formats: {
    type: 'object',
    properties: {
      code: { type: 'string', pattern: '^[A-Z]{2}-[0-9]{3}$' },
      uid: { type: 'string', format: 'uuid' },
      tag: { type: 'string', minLength: 2, maxLength: 4 },
    },
    required: ['code', 'uid', 'tag'],
  },
  // RFC 3339 full-date: days per month and leap years (ajv-formats checks both)
  dates: {
    type: 'object',
    properties: { day: { type: 'string', format: 'date' } },
    required: ['day'],
  },
  // alternatives
  either: {
    anyOf: [
      { type: 'string', minLength: 1, maxLength: 5 },
      { type: 'integer', minimum: 10, maximum: 20 },
      { type: 'array', items: { type: 'boolean' }, maxItems: 2 },
    ],
  },
};

if (process.env.LATENT_PRINT_SCHEMA) {
  console.log(JSON.stringify(schemas[process.env.LATENT_PRINT_SCHEMA]));
  process.exit(0);
}

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validators = Object.fromEntries(Object.entries(schemas).map(([k, s]) => [k, ajv.compile(s)]));

let total = 0;
const failures = [];
function check(name, text, finish) {
  ++total;
  if (finish !== undefined && finish !== 'stop') {
    failures.push(`${name}: finish_reason ${finish}: ${JSON.stringify(text)}`);
    return;
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    failures.push(`${name}: not JSON (${e.message}): ${JSON.stringify(text)}`);
    return;
  }
  if (!validators[name](value))
    failures.push(`${name}: ${ajv.errorsText(validators[name].errors)}: ${JSON.stringify(text)}`);
}

if (process.env.LATENT_URL) {
  const requests = Number(process.env.LATENT_REQUESTS ?? 2);
  const n = Number(process.env.LATENT_N ?? 16);
  const jobs = [];
  const only = process.env.LATENT_SCHEMAS ? process.env.LATENT_SCHEMAS.split(',') : null;
  for (const [name, schema] of Object.entries(schemas)) {
    if (only && !only.includes(name)) continue;
    for (let r = 0; r < requests; ++r) {
      jobs.push((async () => {
        const res = await fetch(process.env.LATENT_URL + '/v1/completions', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({
            prompt: process.env.LATENT_PROMPT ?? 'Once upon a time',
            max_tokens: Number(process.env.LATENT_MAX_TOKENS ?? 400),
            temperature: 1.0,
            n,
            seed: 1000 * r + name.length,
            response_format: { type: 'json_schema', json_schema: { name, schema, strict: true } },
          }),
        });
        const body = await res.json();
        if (res.status !== 200) {
          failures.push(`${name}: HTTP ${res.status}: ${JSON.stringify(body)}`);
          return;
        }
        for (const c of body.choices) check(name, c.text, c.finish_reason);
      })());
    }
  }
  await Promise.all(jobs);
} else {
  const items = JSON.parse(fs.readFileSync(process.env.LATENT_VALIDATE_FILE, 'utf8'));
  for (const it of items) check(it.schema, it.output);
}

console.log(`validated ${total} samples, ${failures.length} failures`);
for (const f of failures.slice(0, 20)) console.log(`FAILED ${f}`);
process.exit(failures.length ? 1 : 0);
