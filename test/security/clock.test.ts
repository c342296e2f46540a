/**
 * The applier's clock (threat model point 6), attacked as an insider would: the process clock
 * set back or forward with faketime, through the built CLI, against a real PostgreSQL target
 * (and a PostgreSQL ledger). Expiry is judged, and rows are stamped, by a clock the applier does
 * not control; a signature dated in the future is refused; time running backwards in the log
 * breaks `log verify`. Beside each attack, the legitimate path without faketime.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWalk, type Walk } from '../exec/harness.js';
import { BIN, type CliResult } from '../helpers/cli.js';
import { paramsFor, type Person } from '../helpers/incident.js';
import { createScratchDb, type ScratchDb } from '../helpers/pg.js';

/** Runs `dotctl` as `who` under `faketime -f offset`, with the walk's flags (and `extra` global flags). */
function faked(w: Walk, offset: string, who: Person, args: readonly string[], extra: readonly string[] = []): CliResult {
  const f = [...w.inc.flags];
  f[f.indexOf('--dots') + 1] = w.dots;
  const r = spawnSync('faketime', ['-f', offset, process.execPath, BIN, ...f, ...extra, '--key', who.key, ...args], {
    cwd: w.inc.dir,
    env: { ...process.env, DOTCTL_DEBUG: undefined } as NodeJS.ProcessEnv,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The gate's verdict as `dotctl status --json` prints it. */
function gateOf(w: Walk, id: string): { discounted: { reason: string }[] } {
  return (JSON.parse(w.cli(null, ['status', id, '--json']).stdout) as { gate: { discounted: { reason: string }[] } }).gate;
}

const minutesFromNow = (iso: string): number => Math.abs(Date.parse(iso) - Date.now()) / 60_000;

describe('time the applier does not control (SQLite ledger, real target)', () => {
  let w: Walk;
  let first = '';
  before(async () => {
    w = await createWalk('sec_clock');
  });
  after(async () => {
    await w?.inc.cleanup();
  });

  test('faketime is there (the attacks below need it)', () => {
    const r = spawnSync('faketime', ['-f', '-3h', process.execPath, '-e', 'process.stdout.write(String(Date.now()))'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `faketime is missing: apt-get install -y faketime (${r.stderr})`);
    assert.ok(Date.now() - Number(r.stdout) > 2.9 * 3_600_000, 'faketime did not move the clock of node');
  });

  test('an approval that expired is refused when the applier sets the clock back 3 h (exit 3); a fresh approval applies', async () => {
    const id = await w.propose(['A', 'D']);
    first = id;
    // a reviewer's approval made 25 h ago (the approve command stamps the reviewer's clock: the SQLite limit)
    const old = faked(w, '-25h', w.inc.reviewer1, ['approve', id]);
    assert.equal(old.code, 0, old.stderr);
    const plain = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(plain.code, 3, plain.stderr);
    assert.match(plain.stderr, /0 valid \(1 missing\)/);
    const attack = faked(w, '-3h', w.inc.operator2, ['apply', id]);
    assert.equal(attack.code, 3, `the applier's clock decided expiry: ${attack.stdout}${attack.stderr}`);
    assert.match(attack.stderr, /0 valid \(1 missing\)/);
    assert.match(JSON.stringify(gateOf(w, id).discounted), /rita's approval expired at/);
    assert.equal(w.state(id), 'proposed');
    // the backdated approval keeps its claimed time, but its log row is never dated before the
    // head: the log's time does not run backwards and the ledger still verifies (the gate checks it)
    const verify = w.cli(null, ['log', 'verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    // the legitimate path: a reviewer approves now, the apply goes through
    w.cli(w.inc.reviewer2, ['approve', id]);
    const ok = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('a proposal made under a clock ten days ahead carries the target’s time; an approval signed 60 h ahead does not count (exit 3)', async () => {
    const back = w.cli(w.inc.operator, ['rollback', first]);
    assert.equal(back.code, 0, back.stderr);
    const res = faked(w, '+240h', w.inc.operator, ['propose', 'A', 'D', ...(await paramsFor(w.inc, ['A', 'D'])), '--json']);
    assert.equal(res.code, 0, res.stderr);
    const id = (JSON.parse(res.stdout) as { id: string }).id;
    const status = JSON.parse(w.cli(null, ['status', id, '--json']).stdout) as { proposal: { created_at: string } };
    assert.ok(minutesFromNow(status.proposal.created_at) < 5, `the proposal is dated by the proposer's clock: ${status.proposal.created_at}`);
    // ten days ahead, the reviewer's own command finds the proposal expired; 60 h ahead it signs
    const tenDays = faked(w, '+240h', w.inc.reviewer1, ['approve', id]);
    assert.equal(tenDays.code, 3, tenDays.stderr);
    assert.match(tenDays.stderr, /expired at/);
    const ahead = faked(w, '+60h', w.inc.reviewer1, ['approve', id]);
    assert.equal(ahead.code, 0, ahead.stderr);
    const attack = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(attack.code, 3, `a future-dated approval counted: ${attack.stdout}${attack.stderr}`);
    assert.match(attack.stderr, /0 valid \(1 missing\)/);
    assert.match(JSON.stringify(gateOf(w, id).discounted), /rita's approval is dated .* in the future/);
    assert.equal(w.state(id), 'proposed');
    // the legitimate path: an approval signed now counts
    assert.equal(w.cli(w.inc.reviewer2, ['approve', id]).code, 0);
    const ok = w.cli(w.inc.operator2, ['apply', id]);
    assert.equal(ok.code, 0, ok.stderr);
  });
});

describe('the ledger server’s clock (PostgreSQL ledger)', () => {
  let w: Walk;
  let ledger: ScratchDb;
  before(async () => {
    w = await createWalk('sec_clock_pg');
    ledger = await createScratchDb('clock_ledger');
    const f = w.inc.flags as string[];
    f[f.indexOf('--ledger') + 1] = ledger.url;
  });
  after(async () => {
    await w?.inc.cleanup();
    await ledger?.drop();
  });

  test('an approval made under a clock 25 h back is stamped with the ledger server’s time; an apply under -3 h is judged by it; the log verifies', async () => {
    const id = await w.propose(['A', 'D']);
    const approved = faked(w, '-25h', w.inc.reviewer1, ['approve', id]);
    assert.equal(approved.code, 0, approved.stderr);
    const status = JSON.parse(w.cli(null, ['status', id, '--json']).stdout) as { decisions: { at: string }[] };
    assert.ok(minutesFromNow(status.decisions[0]!.at) < 5, `the approval is dated by the reviewer's clock: ${status.decisions[0]!.at}`);
    const applied = faked(w, '-3h', w.inc.operator2, ['apply', id]);
    assert.equal(applied.code, 0, applied.stderr);
    const rows = w.events(id);
    assert.ok(rows.length > 3);
    const verify = w.cli(null, ['log', 'verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });
});
