/**
 * The watch end to end, through the built CLI against a real PostgreSQL: A + D applied; the next
 * schema created without grants fails A's standing invariant, so `watch --once` exits 4, pushes
 * DOWN to a loopback Kuma listener and a webhook, logs `invariant_failed` as the automation
 * identity and drafts A for the new schema — once; the gate refuses the automation identity
 * approving or applying it; a reviewer approves, an operator applies, and the next watch pushes
 * UP and logs the recovery. Then the seed's pg-backup.sh edited by hand is named with the
 * proposal that last set it, a database that cannot be reached and an invariant that throws are
 * each one failing sentence, and the log does not grow while nothing changes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasStackTrace, runCliAsync, type CliResult } from '../helpers/cli.js';
import { createWalk, type Walk } from '../exec/harness.js';
import { registerAutomation, startListener, type Listener } from './listener.js';

let w: Walk;
let listener: Listener;
let wally: { name: string; key: string };
let ad = '';

interface Report {
  failing: number;
  exit_code: number;
  checks: { id: string; kind: string; name: string; status: string; observed: string; proposal_id: string | null }[];
  changes: { id: string; event: string; seq: number }[];
  alerts: { ok: boolean; kind: string; status: string; error: string | null }[];
  drafted: { proposal_id: string | null; dot_id: string; params: Record<string, string>; error: string | null }[];
}

async function watch(args: readonly string[] = [], key = wally.key): Promise<CliResult & { report: Report | null }> {
  const r = await runCliAsync([...w.inc.flags, '--key', key, 'watch', '--once', '--json', ...args], { cwd: w.inc.dir });
  let report: Report | null = null;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    report = null;
  }
  return { ...r, report };
}

const invariantEvents = (): number => w.events().filter((e) => e.event === 'invariant_failed' || e.event === 'invariant_recovered').length;

before(async () => {
  w = await createWalk('watch');
  listener = await startListener();
  wally = await registerAutomation(w.inc.flags, [w.inc.reviewer1.key, w.inc.reviewer2.key], w.inc.dir);
  await writeFile(
    join(w.inc.dir, 'dotctl.yaml'),
    ['version: 1', 'watch:', '  alerts:', `    - { kind: kuma_push, url: "${listener.url}/api/push/pg-backup-local" }`, `    - { kind: webhook, url: "${listener.url}/hook" }`, ''].join('\n'),
  );
  ad = await w.propose(['A', 'D']);
  w.approve(ad);
  const r = w.cli(w.inc.operator2, ['apply', ad]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await listener?.close();
  await w?.inc.cleanup();
});

test('after A + D every standing check holds: exit 0, nothing logged, nothing pushed', async () => {
  const r = await watch();
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const names = r.report!.checks.map((c) => `${c.kind}:${c.status}:${c.name}`);
  assert.ok(names.includes('invariant:holding:Dump role has USAGE on every schema the backup dumps'), names.join('\n'));
  assert.ok(names.includes('invariant:holding:Backup script is the hardened one'), names.join('\n'));
  assert.ok(names.includes('invariant:holding:Dump role has USAGE on the schema'), 'the standing post-verify check is watched too');
  assert.ok(names.includes(`governed_file:holding:governed file ${w.inc.scriptPath}`), names.join('\n'));
  assert.equal(invariantEvents(), 0);
  assert.equal(listener.received.length, 0);
});

test('a new schema without grants: exit 4, DOWN pushed, invariant_failed logged, A drafted for it once; automation may not approve or apply it', async () => {
  await w.exec(`CREATE SCHEMA sandbox_next AUTHORIZATION "${w.inc.ownerRole}"; CREATE TABLE sandbox_next.notes (id int); ALTER TABLE sandbox_next.notes OWNER TO "${w.inc.ownerRole}"`);
  const r = await watch();
  assert.equal(r.code, 4, r.stderr + r.stdout);
  assert.equal(hasStackTrace(r.stderr), false);
  const failing = r.report!.checks.filter((c) => c.status === 'failing');
  assert.deepEqual(
    failing.map((c) => c.name),
    ['Dump role has USAGE on every schema the backup dumps'],
  );
  assert.match(failing[0]!.observed, /sandbox_next/);

  const kuma = listener.received.filter((x) => x.path === '/api/push/pg-backup-local');
  assert.equal(kuma.length, 1);
  assert.equal(kuma[0]!.query.status, 'down');
  assert.match(kuma[0]!.query.msg ?? '', /USAGE on every schema/);
  const hook = listener.received.filter((x) => x.path === '/hook');
  assert.equal(hook.length, 1);
  assert.equal((hook[0]!.body as { status: string }).status, 'down');

  const logged = w.events().filter((e) => e.event === 'invariant_failed');
  assert.equal(logged.length, 1);
  assert.equal(logged[0]!.actor, 'wally');
  assert.equal(logged[0]!.outcome, 'failed');

  assert.equal(r.report!.drafted.length, 1);
  const draft = r.report!.drafted[0]!;
  assert.equal(draft.error, null);
  assert.equal(draft.dot_id, 'DOT-PG-GRANT-SCHEMA');
  assert.equal(draft.params.schema, 'sandbox_next');
  assert.equal(draft.params.owner_role, w.inc.ownerRole);
  const id = draft.proposal_id!;
  assert.equal(w.state(id), 'proposed');
  const proposed = w.events(id).find((e) => e.event === 'proposed')!;
  assert.equal(proposed.actor, 'wally');
  assert.match(String((proposed.detail.trigger as { observed: string }).observed), /sandbox_next/, 'the failing check is the evidence');

  // the same failure: no new row, no new draft, no new push
  const before = w.events().length;
  const again = await watch();
  assert.equal(again.code, 4);
  assert.equal(again.report!.drafted.length, 0);
  assert.equal(w.events().length, before, 'the log does not grow while nothing changes');
  assert.equal(listener.received.length, 2);

  // the automation identity drafts; it never approves or applies
  const approve = w.cli({ name: 'wally', key: wally.key }, ['approve', id]);
  assert.equal(approve.code, 3);
  assert.match(approve.stderr, /automation identity/);
  assert.equal(w.cli(w.inc.reviewer1, ['approve', id]).code, 0);
  const apply = w.cli({ name: 'wally', key: wally.key }, ['apply', id]);
  assert.equal(apply.code, 3);
  assert.match(apply.stderr, /automation identity/);

  // an operator applies what the reviewer approved: the next watch pushes UP and logs the recovery
  const applied = w.cli(w.inc.operator2, ['apply', id]);
  assert.equal(applied.code, 0, applied.stderr);
  const up = await watch();
  assert.equal(up.code, 0, up.stdout);
  assert.deepEqual(
    up.report!.changes.map((c) => c.event),
    ['invariant_recovered'],
  );
  const last = listener.received.filter((x) => x.path === '/api/push/pg-backup-local').at(-1)!;
  assert.equal(last.query.status, 'up');
  assert.equal(w.events().filter((e) => e.event === 'invariant_recovered').length, 1);
  assert.equal(w.cli(null, ['log', 'verify']).code, 0);
});

test("the backup script edited by hand: the governed file names the proposal that set it, and D's invariant fails", async () => {
  await appendFile(w.inc.scriptPath, '# a quick fix at 3 a.m.\n');
  const r = await watch();
  assert.equal(r.code, 4);
  const file = r.report!.checks.find((c) => c.kind === 'governed_file')!;
  assert.equal(file.status, 'failing');
  assert.equal(file.proposal_id, ad);
  assert.match(file.observed, new RegExp(`changed outside dotctl.*${ad} \\(DOT-BACKUP-SCRIPT-HARDEN\\)`));
  const inv = r.report!.checks.find((c) => c.name === 'Backup script is the hardened one')!;
  assert.equal(inv.status, 'failing');
  const text = await runCliAsync([...w.inc.flags, '--key', wally.key, 'watch'], { cwd: w.inc.dir });
  assert.equal(text.code, 4);
  assert.match(text.stdout, /FAILING +governed_file/);
});

test('PostgreSQL unreachable and an invariant that throws: one failing sentence each, the watch goes on, no stack trace', async () => {
  const flags = [...w.inc.flags];
  flags[flags.indexOf('--target') + 1] = 'postgres://postgres@127.0.0.1:1/nowhere';
  const down = await runCliAsync([...flags, '--key', wally.key, 'watch', '--once', '--json'], { cwd: w.inc.dir });
  assert.equal(down.code, 4, down.stderr);
  assert.equal(hasStackTrace(down.stderr + down.stdout), false);
  const rep = JSON.parse(down.stdout) as Report;
  const target = rep.checks.find((c) => c.kind === 'target')!;
  assert.equal(target.status, 'failing');
  assert.match(target.observed, /cannot connect to the target/);
  assert.ok(rep.checks.filter((c) => c.kind === 'invariant').every((c) => c.status === 'not_run'));
  assert.ok(
    rep.checks.some((c) => c.kind === 'governed_file'),
    'files are still watched while the database is down',
  );

  // the dump role renamed away: A's invariant queries raise "role does not exist"
  await w.exec(`ALTER ROLE "${w.inc.dumpRole}" RENAME TO "${w.inc.dumpRole}_x"`);
  try {
    const r = await watch();
    assert.equal(r.code, 4);
    assert.equal(hasStackTrace(r.stderr + r.stdout), false);
    const thrown = r.report!.checks.filter((c) => c.kind === 'invariant' && /does not exist/.test(c.observed));
    assert.ok(thrown.length >= 2, JSON.stringify(r.report!.checks, null, 1));
    assert.ok(
      r.report!.checks.some((c) => c.name === 'Backup script is the hardened one'),
      'the other checks still ran',
    );
  } finally {
    await w.exec(`ALTER ROLE "${w.inc.dumpRole}_x" RENAME TO "${w.inc.dumpRole}"`);
  }
});

test('only an automation identity watches', async () => {
  const r = await watch([], w.inc.operator.key);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /not an automation identity/);
});
