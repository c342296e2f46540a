/**
 * 32 operators' terminals apply the same approved proposal at the same moment: it is applied
 * exactly once. The others are refused (exit 3): at once when they see the winner's apply running
 * on this host, or after waiting for the target lock (DOTCTL_LOCK_WAIT_MS) when they find it
 * applied. Nobody applies it twice, nobody sees a stack trace, the chain holds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { hasStackTrace } from '../helpers/cli.js';
import { createWalk, privileges, sha256, sleepingBackend, slowA, type Walk } from './harness.js';

const N = 32;

describe(`${N} concurrent applies of one approved proposal`, () => {
  let w: Walk;
  let id = '';
  before(async () => {
    w = await createWalk('x_conc');
    id = await w.propose(['A', 'D']);
    w.approve(id);
  });
  after(async () => w?.inc.cleanup());

  test('exactly one applies; the others are refused with exit 3 saying it is applied', async () => {
    const procs = Array.from({ length: N }, (_, i) => w.spawn(i % 2 === 0 ? w.inc.operator2 : w.inc.operator, ['apply', id], { DOTCTL_LOCK_WAIT_MS: '60000' }, 150_000));
    const results = await Promise.all(procs.map((p) => p.result));
    const winners = results.filter((r) => r.code === 0);
    const losers = results.filter((r) => r.code !== 0);
    assert.equal(winners.length, 1, results.map((r) => `${r.code}: ${r.stderr.trim()}`).join('\n'));
    assert.match(winners[0]!.stdout, new RegExp(`${id} applied: DOT-BACKUP-SCRIPT-HARDEN \\+ DOT-PG-GRANT-SCHEMA`));
    for (const r of losers) {
      assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
      // refused at once while the winner runs on this host, or after waiting for the lock once it is done
      assert.match(r.stderr, new RegExp(`^dotctl: apply of ${id} refused: proposal ${id} (is applied; |is being applied by process \\d+ on this host)`));
      assert.ok(!hasStackTrace(r.stderr));
    }
  });

  test('the target changed once: grants in place, the script patched once', async () => {
    assert.equal(await privileges(w, w.inc.dumpRole), 'usage=true readable=12 default_acls=2');
    assert.equal(await sha256(w.inc.scriptPath), await sha256(resolve('examples/pg-backup.hardened.sh')));
  });

  test('the log holds one apply_started and one applied, every refusal, and its chain verifies', () => {
    const events = w.events(id);
    assert.equal(events.filter((e) => e.event === 'apply_started').length, 1);
    assert.equal(events.filter((e) => e.event === 'applied').length, 1);
    assert.equal(events.filter((e) => e.event === 'refused').length, N - 1);
    const v = w.cli(null, ['log', 'verify']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /dot_action_log intact/);
  });
});

describe('one apply at a time per target', () => {
  let w: Walk;
  before(async () => {
    w = await createWalk('x_lockwait');
    w.dots = await slowA(w, 'dots-slow');
  });
  after(async () => w?.inc.cleanup());

  test('another proposal on the same target waits for the lock, then is refused as busy (exit 9) naming the holder', async () => {
    const ad = await w.propose(['A', 'D']);
    w.approve(ad);
    const note = w.proposeWith(['T1'], ['-p', 'note=later']);
    w.approve(note);
    const slow = w.spawn(w.inc.operator2, ['apply', ad]);
    const holder = await sleepingBackend(w);
    const started = Date.now();
    const r = w.cli(w.inc.operator2, ['apply', note], { DOTCTL_LOCK_WAIT_MS: '300' });
    assert.equal(r.code, 9, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(
        `^dotctl: another apply holds the lock on postgres://127\\.0\\.0\\.1:5432/${w.inc.db.name} \\(pg:\\d+/\\d+/${w.inc.db.name}\\) \\(backend pid ${holder}, dotctl, since .*\\); wait for it to finish and try again\\n$`,
      ),
    );
    assert.ok(Date.now() - started < 5_000);
    assert.equal(w.state(note), 'proposed', 'refused before it started: still applicable');
    assert.equal((await slow.result).code, 0);
    const later = w.cli(w.inc.operator2, ['apply', note]);
    assert.equal(later.code, 0, `${later.stdout}\n${later.stderr}`);
  });
});
