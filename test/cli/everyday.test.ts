/**
 * The everyday rough edges a new user meets, through the built CLI: `npx dotctl` in a checkout,
 * keygen's identities entry and `--show`, withdrawing a stale proposal, `status` of an applied
 * proposal, the companion warning at propose time, `render --out`, and subcommand help.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { runCli } from '../helpers/cli.js';
import { paramsFor } from '../helpers/incident.js';
import { createWalk, type Walk } from '../exec/harness.js';

let tmp = '';
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'dotctl-everyday-'));
});
after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('in this checkout, npx dotctl runs the CLI (dotctl itself is not on PATH after npm ci)', () => {
  const r = spawnSync('npx', ['--no-install', 'dotctl', '--version'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
});

test('keygen prints a complete identities file; --show prints the entry of an existing key again', async () => {
  const dir = join(tmp, 'keys');
  const r = runCli(['keygen', 'rita', '--role', 'reviewer', '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  // what it prints is a usable identities file as it stands
  const ids = join(tmp, 'ids.yaml');
  await writeFile(ids, r.stdout);
  const pub = /public_key: (ed25519:\S+)/.exec(r.stdout)?.[1];
  assert.ok(pub, r.stdout);
  assert.match(r.stdout, /^identities:\n {2}- name: rita\n {4}roles: \[reviewer\]\n {4}public_key: ed25519:/m);
  const show = runCli(['keygen', '--show', join(dir, 'rita.key'), '--role', 'reviewer']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`public_key: ${pub.replace(/[+/]/g, '\\$&')}`));
  assert.match(show.stdout, /- name: rita/);
  // the file it printed is accepted: it becomes a ledger's genesis registry, and rita (a reviewer) admits
  const init = runCli(['--identities', ids, '--key', join(dir, 'rita.key'), '--ledger', join(tmp, 'l.db'), 'ledger', 'init', '--quorum', '1']);
  assert.equal(init.code, 0, `${init.stdout}\n${init.stderr}`);
  const st = runCli(['--key', join(dir, 'rita.key'), '--ledger', join(tmp, 'l.db'), 'admit', 'A']);
  assert.equal(st.code, 0, `${st.stdout}\n${st.stderr}`);
  const none = runCli(['keygen']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /name the identity \(dotctl keygen NAME\), or pass --show KEYFILE/);
  const missing = runCli(['keygen', '--show', join(dir, 'nobody.key')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /key file .*nobody\.key does not exist/);
});

test('render --out writes the Markdown and the canonical JSON beside it, and names both', () => {
  for (const [out, json] of [
    [join(tmp, 'p.md'), join(tmp, 'p.json')],
    [join(tmp, 'plain'), join(tmp, 'plain.json')],
  ] as const) {
    const r = runCli(['render', 'D', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`wrote ${out} and ${json}`), r.stdout);
    const hash = /: ([0-9a-f]{64})/.exec(r.stdout)?.[1];
    assert.equal(createHash('sha256').update(readFileSync(json)).digest('hex'), hash);
  }
});

test('every subcommand --help shows the global options, an example and its exit codes', () => {
  for (const cmd of [['propose'], ['apply'], ['withdraw'], ['log', 'verify']]) {
    const r = runCli([...cmd, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Global Options:[\s\S]*--ledger <path\|url>[\s\S]*--key <file>/, cmd.join(' '));
    assert.match(r.stdout, /Example:\n {2}(dotctl|npx dotctl) /, cmd.join(' '));
    assert.match(r.stdout, /Exit codes: 0 ok · .*2 bad input/, cmd.join(' '));
  }
  assert.match(runCli(['apply', '--help']).stdout, /5 failed and rolled back .*6 needs a human/);
});

describe('proposals over their life', () => {
  let w: Walk;
  before(async () => {
    w = await createWalk('x_every');
  });
  after(async () => w?.inc.cleanup());

  test('propose A without its companion D warns now, not after a reviewer signed', async () => {
    const id = await w.propose(['A']);
    const r = w.cli(w.inc.operator, ['propose', 'A', ...(await paramsFor(w.inc, ['A']))]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /warning: DOT-PG-GRANT-SCHEMA \(A\) needs its companion DOT-BACKUP-SCRIPT-HARDEN \(D\), which is neither in this proposal nor applied on this target: the apply will be refused until it is/,
    );
    const together = w.cli(w.inc.operator, ['propose', 'A', 'D', ...(await paramsFor(w.inc, ['A', 'D']))]);
    assert.equal(together.code, 0, together.stderr);
    assert.doesNotMatch(together.stderr, /warning/);
    assert.ok(id);
  });

  test('a stale proposal is withdrawn by an operator (signed, logged) and can never be applied', async () => {
    const old = await w.propose(['A', 'D']);
    const next = await w.propose(['A', 'D']);
    w.approve(old);
    // a reviewer may not withdraw; a reason is required
    const byReviewer = w.cli(w.inc.reviewer1, ['withdraw', old, '--reason', 'stale']);
    assert.equal(byReviewer.code, 3, byReviewer.stderr);
    assert.match(byReviewer.stderr, /is not an operator/);
    const noReason = w.cli(w.inc.operator2, ['withdraw', old]);
    assert.equal(noReason.code, 2);
    // another operator withdraws it, naming the proposal that supersedes it
    const r = w.cli(w.inc.operator2, ['withdraw', old, '--reason', 'superseded by a fresh proposal', '--superseded-by', next]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`withdrew ${old} \\(superseded by ${next}\\): superseded by a fresh proposal`));
    assert.equal(w.state(old), 'withdrawn');
    const ev = w.events(old).at(-1);
    assert.equal(ev?.event, 'withdrawn');
    assert.equal(ev?.detail.superseded_by, next);
    assert.equal(typeof ev?.detail.signature, 'string');
    const apply = w.cli(w.inc.operator2, ['apply', old]);
    assert.equal(apply.code, 3, apply.stderr);
    const again = w.cli(w.inc.operator2, ['withdraw', old, '--reason', 'twice']);
    assert.equal(again.code, 3);
    assert.match(again.stderr, /is withdrawn; only a proposal that was never applied \(state proposed\) can be withdrawn/);
    assert.equal(runCli(['--ledger', w.inc.flags[w.inc.flags.indexOf('--ledger') + 1]!, 'proposals', '--state', 'withdrawn'], { cwd: w.inc.dir }).code, 0);
  });

  test('status of an applied proposal does not read "not ready to apply"', async () => {
    const id = await w.propose(['A', 'D']);
    w.approve(id);
    const a = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(a.code, 0, `${a.stdout}\n${a.stderr}`);
    const s = w.cli(null, ['status', id]);
    assert.equal(s.code, 0, s.stderr);
    assert.doesNotMatch(s.stdout, /not ready to apply/);
    assert.match(s.stdout, new RegExp(`applied: the gate was passed when it was applied; dotctl rollback ${id} undoes it`));
  });
});
