/**
 * The endings table decides, without PostgreSQL, where a proposal goes and how the log and the
 * exit code say it. Exit codes are asserted through the CLI's own table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ending, type Happened, type RunMode } from '../../src/engine/apply/endings.js';
import { exitCodeFor } from '../../src/cli/exit.js';

const row = (mode: RunMode, h: Happened) => {
  const e = ending(mode, h);
  return [e.state, e.event, e.eventOutcome, e.outcome, exitCodeFor(e.outcome)];
};

test('apply: each way it ends, with its state, event and exit code', () => {
  assert.deepEqual(row('apply', { kind: 'completed' }), ['applied', 'applied', 'ok', 'applied', 0]);
  assert.deepEqual(row('apply', { kind: 'checks_failed' }), ['proposed', 'refused', 'check_failed', 'check_failed', 4]);
  assert.deepEqual(row('apply', { kind: 'failed_before_commit', lost: false, undoFailed: false, leftovers: false }), ['failed', 'rolled_back', 'rolled_back', 'reverted', 5]);
  assert.deepEqual(row('apply', { kind: 'failed_before_commit', lost: true, undoFailed: false, leftovers: false }), ['interrupted', 'rolled_back', 'connection_lost', 'interrupted', 5]);
  assert.deepEqual(row('apply', { kind: 'post_verify_failed', rollbackFailed: false }), ['failed', 'rolled_back', 'rolled_back', 'reverted', 5]);
  assert.deepEqual(row('apply', { kind: 'post_verify_failed', rollbackFailed: true }), ['needs_attention', 'rollback_failed', 'rollback_failed', 'needs_attention', 6]);
  // SQL outside the transaction ran or half-ran: "rolled back" (exit 5) only when the DOT's rollback ran and its checks pass again
  assert.deepEqual(row('apply', { kind: 'outside_sql_reversed', proven: true }), ['failed', 'rolled_back', 'rolled_back_checked', 'reverted', 5]);
  assert.deepEqual(row('apply', { kind: 'outside_sql_reversed', proven: false }), ['needs_attention', 'rollback_failed', 'not_proven', 'needs_attention', 6]);
  assert.deepEqual(row('apply', { kind: 'tx_in_doubt' }), ['interrupted', 'interrupted', 'in_doubt', 'in_doubt', 6]);
  assert.deepEqual(row('apply', { kind: 'resume_busy' }), ['interrupted', 'refused', 'in_progress', 'target_busy', 9]);
});

test('"rollback_failed" is said only where a rollback or an undo ran and failed', () => {
  // an undo that failed
  assert.equal(ending('apply', { kind: 'failed_before_commit', lost: false, undoFailed: true, leftovers: true }).event, 'rollback_failed');
  // a command ran and cannot be undone, but nothing failed to undo: a human looks, no rollback failed
  assert.equal(ending('apply', { kind: 'failed_before_commit', lost: false, undoFailed: false, leftovers: true }).event, 'needs_attention');
  assert.equal(ending('apply', { kind: 'resume_unknown' }).event, 'needs_attention');
  assert.equal(ending('apply', { kind: 'stopped_on_error' }).event, 'needs_attention');
  assert.equal(ending('rollback', { kind: 'rollback_incomplete' }).event, 'rollback_failed');
});

test('"rolled back" means the same exit code wherever it is said', () => {
  // an apply that failed and was reverted exits 5; a rollback that succeeded exits 0 — two outcomes, not one
  assert.equal(exitCodeFor(ending('apply', { kind: 'post_verify_failed', rollbackFailed: false }).outcome), 5);
  assert.deepEqual(row('rollback', { kind: 'completed' }), ['rolled_back', 'rolled_back', 'ok', 'rolled_back', 0]);
  assert.equal(exitCodeFor(ending('rollback', { kind: 'rollback_incomplete' }).outcome), 6);
});

test('a rehearsal never moves the proposal and logs one rehearsed event however it ends', () => {
  const all: Happened[] = [
    { kind: 'completed' },
    { kind: 'checks_failed' },
    { kind: 'failed_before_commit', lost: false, undoFailed: false, leftovers: false },
    { kind: 'post_verify_failed', rollbackFailed: false },
    { kind: 'outside_sql_reversed', proven: false },
    { kind: 'stopped_on_error' },
  ];
  for (const h of all) {
    const e = ending('rehearsal', h);
    assert.equal(e.state, null, h.kind);
    assert.equal(e.event, 'rehearsed', h.kind);
  }
  assert.equal(exitCodeFor(ending('rehearsal', { kind: 'completed' }).outcome), 0);
  assert.equal(exitCodeFor(ending('rehearsal', { kind: 'checks_failed' }).outcome), 4);
  assert.equal(exitCodeFor(ending('rehearsal', { kind: 'post_verify_failed', rollbackFailed: false }).outcome), 5);
});
