/**
 * `log verify` checks head signatures many at once (in the thread pool, alongside the chain),
 * yet names the same head the one-by-one pass named: the first head in seq order that fails any
 * check, whether its signature fails while later heads are still being verified, or a later
 * head is malformed or signed by a stranger while an earlier signature is still in flight.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { openMemoryLedger } from '../../src/ledger/memory.js';
import type { LedgerStore, LogRow, NewLogEvent } from '../../src/ledger/port.js';
import { encodePublicKey } from '../../src/gate/identities.js';
import type { SigningKey } from '../../src/gate/keys.js';
import { signHead } from '../../src/gate/signature.js';
import { initLedger } from '../../src/engine/registry-changes.js';
import { verifySignedLog } from '../../src/engine/signed-history.js';

const key = (name: string): SigningKey => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: encodePublicKey(publicKey), file: `${name}.key` };
};

const START = Date.UTC(2024, 0, 1);
const iso = (i: number): string => new Date(START + i * 1000).toISOString();

type Fault = 'bad_signature' | 'unknown_signer' | 'malformed';

/** A ledger with `heads` commands of one row and its signed head each; faults planted at the given heads (1-based). */
async function ledgerWith(heads: number, faults: Record<number, Fault>): Promise<{ ledger: LedgerStore; seqOf: Map<number, number> }> {
  const alice = key('alice');
  const stranger = key('mallory');
  const ledger = await openMemoryLedger('memory:');
  await initLedger({
    ledger,
    identities: [{ name: 'alice', roles: ['operator', 'reviewer'], publicKey: alice.publicKey, disabled: false }],
    quorum: 1,
    keys: [alice],
    clock: () => new Date(START),
  });
  const [first] = await ledger.readEvents({ seqs: [1] });
  const seqOf = new Map<number, number>();
  for (let h = 1; h <= heads; h += 1) {
    const row: LogRow = await ledger.appendEvent({
      at: iso(h),
      actor: 'alice',
      event: 'step_passed',
      proposalId: null,
      dotId: null,
      actionCode: null,
      proposalHash: null,
      outcome: 'ok',
      detail: { step: h },
    });
    const fault = faults[h];
    const signer = fault === 'unknown_signer' ? stranger : alice;
    const claim = { ledgerId: first?.hash ?? '', seq: row.seq, hash: row.hash, actor: 'alice', at: row.at };
    let signature = signHead(signer.privateKey, claim);
    // a valid signature, but over another row: it does not verify for this head
    if (fault === 'bad_signature') signature = signHead(signer.privateKey, { ...claim, hash: 'f'.repeat(64) });
    const detail = fault === 'malformed' ? { covers_seq: 'x' } : { covers_seq: row.seq, covers_hash: row.hash, key: signer.publicKey, signature };
    const head: NewLogEvent = { at: row.at, actor: 'alice', event: 'head_signed', proposalId: null, dotId: null, actionCode: null, proposalHash: null, outcome: 'ok', detail };
    seqOf.set(h, (await ledger.appendEvent(head)).seq);
  }
  return { ledger, seqOf };
}

describe('signed heads checked concurrently, judged in seq order', () => {
  test('every head good: intact, all of them counted', async () => {
    const { ledger } = await ledgerWith(200, {});
    const v = await verifySignedLog(ledger);
    assert.equal(v.kind, 'intact');
    assert.equal(v.kind === 'intact' && v.heads, 201, 'the genesis head and 200 more');
  });

  const cases: [string, Record<number, Fault>, number, string][] = [
    ['a bad signature early, every later head good', { 3: 'bad_signature' }, 3, 'bad_signature'],
    ['a bad signature, then a stranger’s head while it is still in flight', { 40: 'bad_signature', 41: 'unknown_signer' }, 40, 'bad_signature'],
    ['a bad signature, then a malformed head far later', { 10: 'bad_signature', 150: 'malformed' }, 10, 'bad_signature'],
    ['a stranger’s head, then a bad signature', { 20: 'unknown_signer', 21: 'bad_signature' }, 20, 'unknown_signer'],
    ['two bad signatures: the first is named', { 120: 'bad_signature', 90: 'bad_signature' }, 90, 'bad_signature'],
    ['a bad signature on the last head', { 200: 'bad_signature' }, 200, 'bad_signature'],
  ];
  for (const [name, faults, at, reason] of cases) {
    test(name, async () => {
      const { ledger, seqOf } = await ledgerWith(200, faults);
      const v = await verifySignedLog(ledger);
      assert.equal(v.kind, 'broken', name);
      assert.equal(v.kind === 'broken' && v.reason, reason, JSON.stringify(v));
      assert.equal(v.kind === 'broken' && v.seq, seqOf.get(at));
      const [last] = await ledger.readEvents({ limit: 1 });
      assert.equal(v.rows, last?.seq, 'the chain itself holds: every row counted');
    });
  }
});
