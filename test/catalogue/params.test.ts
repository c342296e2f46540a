import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindParams, parseParamPairs, checkParamValue } from '../../src/catalogue/params.js';
import { ParamError } from '../../src/model/errors.js';
import type { Dot } from '../../src/catalogue/schema.js';

function dot(params: Dot['params'], id = 'DOT-T-X'): Dot {
  return {
    id,
    version: 1,
    option: 'A',
    title: 't',
    summary: 's',
    applies_when: 'w',
    risk: 'reversible',
    action_code: 'DOT-T-X',
    laws: ['L1'],
    companions: [],
    params,
    hard_stops: [],
    pre_check: [],
    diff: [],
    rollback: [],
    post_verify: [],
  };
}

const spec = dot({
  schema: { type: 'identifier', description: 'schema', default: 'sandbox_tac' },
  limit: { type: 'integer', description: 'n', default: 7 },
  flag: { type: 'boolean', description: 'b', default: false },
  dir: { type: 'path', description: 'p', default: '/opt/backups' },
  password: { type: 'secret', description: 'pw', env: 'MY_PW' },
  note: { type: 'text', description: 'required text' },
});

test('defaults, overrides and types are bound; secrets bind to their env var only', () => {
  const b = bindParams([spec], { note: 'hello', limit: '9' });
  assert.deepEqual(b.schema, { kind: 'identifier', value: 'sandbox_tac' });
  assert.deepEqual(b.limit, { kind: 'integer', value: 9 });
  assert.deepEqual(b.flag, { kind: 'boolean', value: false });
  assert.deepEqual(b.password, { kind: 'secret', env: 'MY_PW' });
});

for (const bad of [`a"b`, 'a;b', 'a b', "a'b", '1abc', '', 'x'.repeat(64), 'é']) {
  test(`identifier ${JSON.stringify(bad)} is refused naming the parameter`, () => {
    assert.throws(
      () => bindParams([spec], { note: 'n', schema: bad }),
      (e: unknown) => e instanceof ParamError && e.param === 'schema' && /parameter schema/.test(e.message) && e.exitCode === 2,
    );
  });
}

test('a 63-byte identifier is accepted, 64 is not', () => {
  assert.equal(checkParamValue('identifier', 'a'.repeat(63)), null);
  assert.match(checkParamValue('identifier', 'a'.repeat(64)) ?? '', /63 bytes/);
});

test('paths with .. segments, NUL or newlines are refused', () => {
  for (const p of ['/opt/../etc/passwd', '../x', 'a\0b', 'a\nb']) {
    assert.throws(
      () => bindParams([spec], { note: 'n', dir: p }),
      (e: unknown) => e instanceof ParamError && e.param === 'dir',
    );
  }
  assert.doesNotThrow(() => bindParams([spec], { note: 'n', dir: '/opt/a..b/c' }));
});

test('missing required, unknown, secret on the command line and bad integers are refused', () => {
  assert.throws(() => bindParams([spec], {}), /parameter note .* is required/);
  assert.throws(() => bindParams([spec], { note: 'n', nope: '1' }), /parameter nope is not declared by DOT-T-X/);
  assert.throws(
    () => bindParams([spec], { note: 'n', password: 'hunter2' }),
    (e: unknown) => e instanceof ParamError && /MY_PW/.test(e.message) && !/hunter2/.test(e.message),
  );
  assert.throws(() => bindParams([spec], { note: 'n', limit: '7; DROP' }), /parameter limit \(integer\)/);
  assert.throws(() => bindParams([spec], { note: 'n', flag: 'yes' }), /true or false/);
  assert.throws(() => bindParams([spec], { note: 'a\u0007b' }), /control character/);
});

test('bundles share a name only when the type agrees', () => {
  const other = dot({ schema: { type: 'text', description: 'x', default: 'y' } }, 'DOT-T-Y');
  assert.throws(() => bindParams([spec, other], { note: 'n' }), /declared as identifier by DOT-T-X but as text by DOT-T-Y/);
});

test('name=value pairs split on the first =, and duplicates are refused', () => {
  assert.deepEqual(parseParamPairs(['a=b=c', 'd=']), { a: 'b=c', d: '' });
  assert.throws(() => parseParamPairs(['novalue']), /name=value/);
  assert.throws(() => parseParamPairs(['a=1', 'a=2']), /given twice/);
});

test('a path starting with "-" is refused with the way out; ./-name is accepted', () => {
  assert.throws(
    () => bindParams([spec], { note: 'n', dir: '-delete' }),
    (e: unknown) => {
      assert.ok(e instanceof ParamError);
      assert.match(e.message, /parameter dir \(path\) value "-delete" starts with "-", which a command would read as an option; write it as \.\/-delete/);
      return true;
    },
  );
  assert.deepEqual(bindParams([spec], { note: 'n', dir: './-delete' }).dir, { kind: 'path', value: './-delete' });
});

test('line breaks are refused in paths (every kind of line break); text keeps line feeds but not C1 controls', () => {
  for (const br of ['\n', '\r', '\u0085', '\u2028', '\u2029']) assert.match(checkParamValue('path', `/a${br}b`) ?? '', /line break/);
  assert.match(checkParamValue('identifier', 'a\nb') ?? '', /not a valid identifier/);
  assert.equal(checkParamValue('text', 'two\nlines'), null);
  assert.match(checkParamValue('text', 'csi\u009b2J') ?? '', /control character/);
});
