/**
 * An apply that does not end normally: the PostgreSQL connection is cut mid-transaction or
 * during COMMIT (pg_terminate_backend on dotctl's backend — the shared server keeps running),
 * or the dotctl process is SIGKILLed inside the transaction, after COMMIT, or inside a
 * rollback. The target stays consistent, the proposal is never left stuck in `applying`, status
 * says `interrupted`, and running the same command again finishes the job.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { hasStackTrace } from '../helpers/cli.js';
import { adminClient } from '../helpers/pg.js';
import { createWalk, privileges, replaceIn, sha256, sleepingBackend, slowA, testCatalogue, waitFor, type Spawned, type Walk } from './harness.js';

const NOTHING = 'usage=false readable=0 default_acls=0';
const GRANTED = 'usage=true readable=12 default_acls=2';
const SMOKE = `  - kind: command\n    name: Smoke pg_dump of the schema as the dump role\n`;

async function terminate(pid: number): Promise<void> {
  const c = await adminClient();
  try {
    await c.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await c.end();
  }
}

/** Whether process `pid` has a child running `name` (any of its threads may have forked it). */
async function hasChild(pid: number, name: string): Promise<boolean> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  for (const t of tasks) {
    const kids = (await readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean);
    for (const k of kids) if ((await readFile(`/proc/${k}/comm`, 'utf8').catch(() => '')).trim() === name) return true;
  }
  return false;
}

async function killed(p: Spawned): Promise<void> {
  p.kill();
  const r = await p.result;
  assert.equal(r.code, 137, `expected the apply to be killed, it ended: ${r.stdout}\n${r.stderr}`);
}

function noStack(...texts: string[]): void {
  for (const t of texts) assert.ok(!hasStackTrace(t), t);
}

describe('the PostgreSQL connection is lost mid-apply', () => {
  let w: Walk;
  let original = '';
  before(async () => {
    w = await createWalk('x_lost');
    original = await sha256(w.inc.scriptPath);
  });
  after(async () => w?.inc.cleanup());

  test('during the pre-checks ⇒ exit 4, nothing changed, the proposal can still be applied', async () => {
    w.dots = await testCatalogue(w, 'dots-slow-check', (dir) =>
      replaceIn(
        join(dir, 'DOT-PG-GRANT-SCHEMA.yaml'),
        '  # seed §4.1 pre-check; also the drift guard',
        `  - kind: sql\n    name: A slow look at the schema\n    sql: SELECT pg_sleep(1.5)::text AS slept\n    expect: { kind: rows, count: 1 }\n  # seed §4.1 pre-check; also the drift guard`,
      ),
    );
    const id = await w.propose(['A', 'D']);
    w.approve(id);
    const p = w.spawn(w.inc.operator2, ['apply', id]);
    await terminate(await sleepingBackend(w));
    const r = await p.result;
    assert.equal(r.code, 4, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stdout,
      /the connection to the target .* was lost \(terminating connection due to administrator command\) during the hard stops and pre-checks; nothing was changed; apply again once the target is reachable\n$/,
    );
    noStack(r.stdout, r.stderr);
    assert.equal(await privileges(w, w.inc.dumpRole), NOTHING);
    assert.equal(await sha256(w.inc.scriptPath), original);
    assert.equal(w.state(id), 'proposed');
  });

  test('inside the transaction ⇒ exit 5, one clear sentence, nothing changed, the patch undone, state interrupted', async () => {
    w.dots = await slowA(w, 'dots-slow');
    const id = await w.propose(['A', 'D']);
    w.approve(id);
    const p = w.spawn(w.inc.operator2, ['apply', id]);
    await terminate(await sleepingBackend(w));
    const r = await p.result;
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stdout,
      new RegExp(
        `the connection to the target postgres://127\\.0\\.0\\.1:5432/${w.inc.db.name} was lost \\(terminating connection due to administrator command\\) before COMMIT: PostgreSQL rolled the transaction back and the file changes were undone, nothing changed; apply ${id} again once the target is reachable\\n$`,
      ),
    );
    noStack(r.stdout, r.stderr);
    assert.equal(await privileges(w, w.inc.dumpRole), NOTHING);
    assert.equal(await sha256(w.inc.scriptPath), original);
    assert.equal(w.state(id), 'interrupted');
    const events = w.events(id);
    assert.ok(events.some((e) => e.event === 'step_failed' && e.detail.step === 'Hold the transaction open' && /administrator command/.test(String(e.detail.observed))));
    assert.deepEqual([events.at(-1)?.event, events.at(-1)?.outcome], ['rolled_back', 'connection_lost']);

    // the approved change never reached its verdict, so it may be applied again as it is
    const again = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
    assert.equal(await privileges(w, w.inc.dumpRole), GRANTED);
    assert.equal(w.state(id), 'applied');
  });

  test('during COMMIT ⇒ PostgreSQL is asked how the transaction ended (aborted) ⇒ exit 5, nothing changed', async () => {
    await w.exec(`CREATE TABLE public.commit_probe (id int)`);
    await w.exec(`CREATE FUNCTION public.slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM pg_sleep(2); RETURN NULL; END$$`);
    await w.exec(`CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON public.commit_probe DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.slow_commit()`);
    const id = w.proposeWith(['T3'], []);
    w.approve(id);
    const p = w.spawn(w.inc.operator2, ['apply', id]);
    await terminate(await sleepingBackend(w, /^COMMIT/));
    const r = await p.result;
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stdout,
      /transaction · COMMIT — the connection to the target .* was lost \(terminating connection due to administrator command\) during COMMIT; PostgreSQL reports transaction \d+ aborted/,
    );
    assert.match(r.stdout, /before COMMIT: PostgreSQL rolled the transaction back, nothing changed; apply .* again once the target is reachable\n$/);
    noStack(r.stdout, r.stderr);
    assert.equal(await w.scalar('SELECT count(*)::int FROM public.commit_probe'), 0);
    assert.equal(w.state(id), 'interrupted');
  });
});

describe('dotctl is SIGKILLed mid-apply', () => {
  let w: Walk;
  let original = '';
  let hardened = '';
  before(async () => {
    w = await createWalk('x_kill');
    original = await sha256(w.inc.scriptPath);
    hardened = await sha256(resolve('examples/pg-backup.hardened.sh'));
  });
  after(async () => w?.inc.cleanup());

  let id = '';
  test('killed inside the transaction: the target is consistent, status says interrupted', async () => {
    w.dots = await slowA(w, 'dots-slow');
    id = await w.propose(['A', 'D']);
    w.approve(id);
    const p = w.spawn(w.inc.operator2, ['apply', id]);
    await sleepingBackend(w);
    await killed(p);
    // the GRANT ran inside a transaction that never committed; the patch was written whole (or not at all)
    assert.equal(await privileges(w, w.inc.dumpRole), NOTHING);
    assert.ok([original, hardened].includes(await sha256(w.inc.scriptPath)), 'the script is old or new, never half-written');
    assert.deepEqual(await readdir(join(w.inc.dir, 'scripts')), ['pg-backup.sh']);
    const st = w.cli(null, ['status', id]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, new RegExp(`interrupted: the apply \\(pid ${p.pid}, started .*\\) is gone; dotctl apply ${id} again re-checks and completes it`));
  });

  test('apply again: the interrupted patch is reverted, everything re-runs, applied once', async () => {
    const r = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /undo · undo \(interrupted apply\): Add error trap, pg_dump isolation and USAGE pre-flight — reverted /);
    assert.equal(await privileges(w, w.inc.dumpRole), GRANTED);
    assert.equal(await sha256(w.inc.scriptPath), hardened);
    assert.equal(w.state(id), 'applied');
    const events = w.events(id);
    assert.equal(events.filter((e) => e.event === 'interrupted').length, 1);
    assert.equal(events.filter((e) => e.event === 'applied').length, 1);
    assert.equal(w.cli(null, ['log', 'verify']).code, 0);
  });

  test('a rollback killed midway must be finished by rollback, not by apply', async () => {
    const p = w.spawn(w.inc.operator2, ['rollback', id]);
    await sleepingBackend(w);
    await killed(p);
    assert.equal(await privileges(w, w.inc.dumpRole), GRANTED, 'the rollback transaction never committed');
    assert.match(w.cli(null, ['status', id]).stdout, new RegExp(`interrupted: the rollback \\(pid ${p.pid}, started .*\\) is gone; dotctl rollback ${id} again`));
    const apply = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(apply.code, 3, `${apply.stdout}\n${apply.stderr}`);
    assert.match(apply.stderr, new RegExp(`the rollback of ${id} was interrupted; run dotctl rollback ${id} again to finish it`));
    const r = w.cli(w.inc.operator2, ['rollback', id]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(await privileges(w, w.inc.dumpRole), NOTHING);
    assert.equal(await sha256(w.inc.scriptPath), original);
    assert.equal(w.state(id), 'rolled_back');
  });

  test('killed after COMMIT, during the post-verify: apply again finds the transaction committed and finishes', async () => {
    w.dots = await testCatalogue(w, 'dots-slow-verify', (dir) =>
      replaceIn(join(dir, 'DOT-PG-GRANT-SCHEMA.yaml'), SMOKE, `  - kind: command\n    name: A slow check\n    argv: [sleep, "3"]\n    expect: { exit_code: 0 }\n${SMOKE}`),
    );
    const id2 = await w.propose(['A', 'D']);
    w.approve(id2);
    const p = w.spawn(w.inc.operator2, ['apply', id2]);
    await waitFor(() => hasChild(p.pid, 'sleep'), 30_000, 'the slow post-verify to start');
    await killed(p);
    assert.equal(await privileges(w, w.inc.dumpRole), GRANTED, 'committed before the kill');
    assert.match(w.cli(null, ['status', id2]).stdout, /interrupted: the apply \(pid \d+, started .*\) is gone/);
    const r = w.cli(w.inc.operator2, ['apply', id2]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /transaction · resume — the interrupted apply committed transaction \d+; finishing it with the post-verify/);
    assert.doesNotMatch(r.stdout, /undo|diff ·/);
    assert.equal(await sha256(w.inc.scriptPath), hardened);
    assert.equal(w.state(id2), 'applied');
  });
});
