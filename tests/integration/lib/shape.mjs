// Compares clawgate's answers with the real gateway's recorded ones
// (tests/fixtures/real-gateway/) by shape, for what the schema does not define: the same
// keys with the same JSON types, recursively; array elements against the recording's
// first element. Keys that appear only sometimes (in the recording or in clawgate's
// answer) are listed in `optional` by key name; any other key must be in both.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'real-gateway');

/** A recorded fixture file, parsed. */
export function fixture(name) {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8'));
}

function kind(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function problems(actual, expected, where, optional, out) {
  const ka = kind(actual), ke = kind(expected);
  if (ka !== ke) {
    out.push(`${where}: ${ka} where the real gateway has ${ke}`);
    return;
  }
  if (ka === 'array') {
    if (expected.length === 0) return;
    actual.forEach((v, i) => problems(v, expected[0], `${where}[${i}]`, optional, out));
  } else if (ka === 'object') {
    for (const k of Object.keys(actual)) {
      if (!(k in expected)) {
        if (!optional.includes(k)) out.push(`${where}.${k}: not in the real gateway's answer`);
      }
      else problems(actual[k], expected[k], `${where}.${k}`, optional, out);
    }
    for (const k of Object.keys(expected)) {
      if (!(k in actual) && !optional.includes(k)) out.push(`${where}.${k}: missing`);
    }
  }
}

/** Asserts `actual` has the recorded answer's shape. */
export function assertShape(actual, expected, what, { optional = [] } = {}) {
  const out = [];
  problems(actual, expected, what, optional, out);
  assert.deepEqual(out, [], `${what} differs from the real gateway's shape:\n${out.join('\n')}\nclawgate: ${JSON.stringify(actual)}\nreal: ${JSON.stringify(expected)}`);
}
