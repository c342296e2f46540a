/** The one naming convention of JSON output: snake_case keys, converted in one place. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snakeKey, toSnakeKeys } from '../../src/cli/json-out.js';
import { runCli } from '../helpers/cli.js';

test('lower camelCase keys become snake_case; names that are data stay as they are', () => {
  assert.equal(snakeKey('proposalId'), 'proposal_id');
  assert.equal(snakeKey('windowToLatestBrokenHours'), 'window_to_latest_broken_hours');
  for (const k of ['seq', 'left_to_do', 'PGPASSWORD', 'BACKUP_DIR', 'Đ32', 'Đ37§5']) assert.equal(snakeKey(k), k);
  assert.deepEqual(toSnakeKeys({ leftToDo: ['x'], steps: [{ dotId: 'D', ms: 1 }], env: { PGUSER: 'a' }, at: null }), {
    left_to_do: ['x'],
    steps: [{ dot_id: 'D', ms: 1 }],
    env: { PGUSER: 'a' },
    at: null,
  });
});

test('the canonical JSON of a proposal is passed through verbatim (it is what the hash covers)', () => {
  const r = runCli(['render', 'D', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { hash: string; canonical: { steps: { step: Record<string, unknown> }[] } };
  assert.ok(
    j.canonical.steps.some((s) => 'timeoutMs' in s.step),
    'canonical keys are not renamed',
  );
  assert.match(j.hash, /^[0-9a-f]{64}$/);
});

test('list --json speaks snake_case', () => {
  const r = runCli(['list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const keys = Object.keys((JSON.parse(r.stdout) as Record<string, unknown>[])[0] ?? {});
  assert.ok(keys.length > 0 && keys.every((k) => !/[A-Z]/.test(k)), keys.join(', '));
});
