import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from '../../src/model/canonical.js';

test('keys are sorted at every depth, undefined members dropped, no whitespace', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: null, y: 'x' }], c: undefined } }), '{"a":{"d":[1,{"y":"x","z":null}]},"b":1}');
});

test('the same value built in another key order encodes to the same bytes', () => {
  assert.equal(canonicalJson({ x: 1, y: [true, 'é'] }), canonicalJson({ y: [true, 'é'], x: 1 }));
});

test('non-finite numbers and functions are refused', () => {
  assert.throws(() => canonicalJson({ a: Number.NaN }), /non-finite/);
  assert.throws(() => canonicalJson({ a: () => 1 }), /cannot encode a function/);
});
