/**
 * A fresh machine has no shellcheck. `dotctl demo` must still pass there — without pretending:
 * D's shellcheck checks (its DOT marks them optional_tool) are reported "not run", never passed,
 * and the demo says how to install the tool. The PATH is a directory of links to every program
 * on the test's PATH except shellcheck.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { runCli } from '../helpers/cli.js';
import { ADMIN_URL } from '../helpers/pg.js';
import { paramsFor } from '../helpers/incident.js';
import { createWalk, type Walk } from '../exec/harness.js';

let bin = '';

/** A PATH directory with links to every program on PATH but `without`. */
async function pathWithout(without: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dotctl-path-'));
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const names = await readdir(d).catch(() => [] as string[]);
    for (const n of names) {
      if (n === without || existsSync(join(dir, n))) continue;
      await symlink(join(d, n), join(dir, n)).catch(() => undefined);
    }
  }
  return dir;
}

before(async () => {
  bin = await pathWithout('shellcheck');
});
after(async () => {
  if (bin) await rm(bin, { recursive: true, force: true });
});

test('the PATH of this test really has no shellcheck (else the test below proves nothing)', () => {
  const r = spawnSync('bash', ['-c', 'command -v shellcheck'], { env: { PATH: bin }, encoding: 'utf8' });
  assert.notEqual(r.status, 0, r.stdout);
});

test('dotctl demo without shellcheck: exit 0, the shellcheck checks reported not run, and how to install it', () => {
  const r = runCli(['demo'], { env: { DOTCTL_TARGET: ADMIN_URL, PATH: bin } });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /note +shellcheck is not installed: D's shellcheck checks will be reported "not run" \(never passed\); to run them, install it \(apt-get install -y shellcheck/);
  assert.match(r.stdout, /DOT-BACKUP-SCRIPT-HARDEN pre-check +3\/4 passed, 1 not run \(tool not installed\)/);
  assert.match(r.stdout, /DOT-BACKUP-SCRIPT-HARDEN post-verify +\d+\/\d+ passed, 1 not run \(tool not installed\)/);
  assert.match(r.stdout, /every stage did what it claims/);
});

describe('the reviewer sees a check that did not run', () => {
  let w: Walk;
  let noFind = '';
  before(async () => {
    w = await createWalk('x_notool');
    noFind = await pathWithout('find');
  });
  after(async () => {
    await w?.inc.cleanup();
    if (noFind) await rm(noFind, { recursive: true, force: true });
  });

  test('propose without shellcheck: the evidence in the proposal says "not_run", never passed', async () => {
    const id = await w.propose(['A', 'D'], {}, { PATH: bin });
    const md = await readFile(join(w.inc.dir, 'proposals', `${id}.md`), 'utf8');
    assert.match(md, /\| DOT-BACKUP-SCRIPT-HARDEN \| pre_check \| Script passes shellcheck today \| not_run \| not run: shellcheck is not installed/);
    assert.match(md, /\| Script syntax is valid today \| passed \|/);
  });

  test('a check not marked optional_tool still refuses when its program is missing (exit 4)', async () => {
    const r = w.cli(w.inc.operator, ['propose', 'A', 'D', ...(await paramsFor(w.inc, ['A', 'D']))], { PATH: noFind });
    assert.equal(r.code, 4, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /pre-check "Broken artefacts in the backup directory" of DOT-BACKUP-SCRIPT-HARDEN failed .*could not start find/);
  });
});
