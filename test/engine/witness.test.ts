/**
 * `judgeWitness` compares the target's witness with the ledger without either: each way they can
 * disagree is named, and a ledger and target that agree (a run still in progress included) give
 * nothing. The attacks through the CLI are in test/security/witness.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeWitness, type ProposalFacts, type WitnessFacts } from '../../src/engine/witness.js';
import type { WitnessRow } from '../../src/exec/witness.js';

const L = 'a'.repeat(64);
const h = (n: number): string => n.toString(16).padStart(64, '0');

const row = (over: Partial<WitnessRow> = {}): WitnessRow => ({
  ledgerId: L,
  proposalId: 'P-1',
  proposalHash: 'ph',
  event: 'apply',
  headSeq: 10,
  headHash: h(10),
  actor: 'omar',
  xid: '700',
  at: '2026-05-01T10:00:00.000Z',
  ...over,
});

const applied: ProposalFacts = { state: 'applied', witnessed: [{ seq: 10, hash: h(10), event: 'apply', row: 12 }] };

const facts = (over: Partial<WitnessFacts> = {}): WitnessFacts => ({
  ledgerId: L,
  ledgerHead: { seq: 20, hash: h(20) },
  rows: [row()],
  hashesAt: new Map([[10, h(10)]]),
  proposals: new Map([['P-1', applied]]),
  scope: 'all',
  ...over,
});

const kinds = (f: WitnessFacts): string[] => judgeWitness(f).map((p) => p.kind);

test('a target and a ledger that agree give no problem; an apply still running or interrupted has no outcome yet', () => {
  assert.deepEqual(kinds(facts()), []);
  assert.deepEqual(kinds(facts({ rows: [] })), []);
  for (const state of ['applying', 'interrupted'] as const) {
    assert.deepEqual(kinds(facts({ proposals: new Map([['P-1', { state, witnessed: [] }]]) })), []);
  }
  assert.deepEqual(kinds(facts({ claimed: [{ proposalId: 'P-1', seq: 10, hash: h(10), event: 'apply', row: 12 }] })), []);
  // an interrupted run witnessed, then run again from the start and witnessed again: the later outcome answers for both
  const rerun = { state: 'applied' as const, witnessed: [{ seq: 14, hash: h(14), event: 'apply' as const, row: 16 }] };
  assert.deepEqual(
    kinds(
      facts({
        rows: [row(), row({ headSeq: 14, headHash: h(14) })],
        hashesAt: new Map([
          [10, h(10)],
          [14, h(14)],
        ]),
        proposals: new Map([['P-1', rerun]]),
      }),
    ),
    [],
  );
});

test('each disagreement is named, with the proposal and the head', () => {
  assert.deepEqual(kinds(facts({ rows: [row({ ledgerId: 'b'.repeat(64) })] })), ['bound_elsewhere']);
  assert.deepEqual(kinds(facts({ hashesAt: new Map(), ledgerHead: { seq: 9, hash: h(9) } })), ['head_missing']);
  assert.match(judgeWitness(facts({ hashesAt: new Map(), ledgerHead: { seq: 9, hash: h(9) } }))[0]!.message, /ledger ends at seq 9: .*tail truncation/);
  assert.deepEqual(kinds(facts({ hashesAt: new Map([[10, h(99)]]) })), ['head_differs']);
  assert.deepEqual(kinds(facts({ proposals: new Map([['P-1', null]]) })), ['proposal_missing']);
  assert.deepEqual(kinds(facts({ proposals: new Map([['P-1', { state: 'proposed', witnessed: [] }]]) })), ['outcome_missing']);
  const lost = judgeWitness(facts({ claimed: [{ proposalId: 'P-2', seq: 15, hash: h(15), event: 'rollback', row: 16 }] }));
  assert.deepEqual(
    lost.map((p) => [p.kind, p.proposalId, p.headSeq]),
    [['witness_missing', 'P-2', 15]],
  );
});

test('before a run only the newest witnessed run is checked for its proposal and outcome; every head always is', () => {
  const old = row({ proposalId: 'P-0', headSeq: 5, headHash: h(5) });
  const f = facts({
    rows: [old, row()],
    hashesAt: new Map([
      [5, h(5)],
      [10, h(10)],
    ]),
    proposals: new Map([['P-1', applied]]),
    scope: 'newest',
  });
  assert.deepEqual(kinds(f), []);
  assert.deepEqual(kinds({ ...f, hashesAt: new Map([[10, h(10)]]) }), ['head_missing']);
});
