/**
 * THREAT-MODEL §8: nothing in an installed dotctl lets an environment variable pause, skip or
 * weaken a step. The attack: an insider sets the old kill-point variable (or a guess at one) so
 * that an apply stops after its diff, before its post-verify; the shipped CLI must ignore it and
 * run the apply to its end, while the kill-point suite still pauses through an injected hook.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createWalk, type Walk } from '../exec/harness.js';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.name.endsWith('.js')) out.push(p);
  }
  return out;
}

describe('no test hook in the shipped CLI', () => {
  let w: Walk;
  before(async () => {
    w = await createWalk('x_hook');
  });
  after(async () => w?.inc.cleanup());

  test('the built code reads no pause or skip variable', async () => {
    const files = await filesUnder(resolve('dist'));
    assert.ok(files.length > 10, 'the build is there');
    for (const f of files) {
      const text = await readFile(f, 'utf8');
      assert.doesNotMatch(text, /DOTCTL_(PAUSE|SKIP|TEST)[A-Z_]*/, `${f} reads a test-only variable`);
    }
  });

  test('an apply with the old kill-point variable set runs to its end (legitimate path unchanged)', async () => {
    const id = await w.propose(['A', 'D']);
    w.approve(id);
    const env = { DOTCTL_PAUSE_AT: 'DOT-PG-GRANT-SCHEMA/diff/0', DOTCTL_SKIP: 'post_verify', DOTCTL_TEST_PAUSE_AT: 'DOT-PG-GRANT-SCHEMA/diff/0' };
    const r = w.cli(w.inc.operator2, ['apply', id], env);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /paused/);
    assert.match(r.stdout, /post-verify/);
    assert.equal(w.state(id), 'applied');
  });
});
