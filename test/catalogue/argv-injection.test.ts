import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindParams } from '../../src/catalogue/params.js';
import { bindStep } from '../../src/catalogue/steps.js';
import { ParamError } from '../../src/model/errors.js';
import type { Dot, Step } from '../../src/catalogue/schema.js';

const params: Dot['params'] = {
  label: { type: 'text', description: 't', default: 'x' },
  empty: { type: 'text', description: 'e', default: '' },
  dir: { type: 'path', description: 'p', default: '/tmp' },
};
function spec(): Dot {
  return {
    id: 'DOT-T-X',
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
const step = (argv: string[]): Step => ({ kind: 'command', name: 'c', argv }) as Step;
const bind = (argv: string[], raw: Record<string, string>) => bindStep(step(argv), bindParams([spec()], raw));

test('a text value that would start an argv element with "-" is refused, naming the parameter', () => {
  assert.throws(
    () => bind(['ls', '{{label}}'], { label: '--all' }),
    (e: unknown) => {
      assert.ok(e instanceof ParamError);
      assert.match(e.message, /^parameter label value "--all" would start a command argument with "-"/);
      return true;
    },
  );
  // the value after an empty placeholder is the one that starts the element
  assert.throws(() => bind(['ls', '{{empty}}{{label}}'], { label: '-R' }), /parameter label value "-R"/);
});

test('the same values are fine where they cannot be an option', () => {
  const b = bind(['ls', '--color={{label}}', 'x{{label}}', '--', '{{dir}}'], { label: '-never' });
  assert.equal(b.kind, 'command');
  assert.deepEqual(b.kind === 'command' && b.argv, ['ls', '--color=-never', 'x-never', '--', '/tmp']);
  const plain = bind(['ls', '{{label}}'], { label: 'plain' });
  assert.deepEqual(plain.kind === 'command' && plain.argv, ['ls', 'plain']);
});
