/**
 * The ledger the verify benches re-prove: as `dotctl ledger init` starts it (a genesis registry
 * of two members, alice and bob, signed by both, and its signed head), then n bench events
 * (verifyBenchEvent) in which every command's rows end with a `head_signed` row its actor
 * signed over the row before it, as withSignedHead writes them: one head after every
 * DOTCTL_BENCH_HEAD_EVERY rows (default 10; 0: no heads). So `log verify` checks realistic
 * numbers of Ed25519 signatures, not only the hash chain. Rows are sealed in memory and handed
 * to `insert` (bulk set-up, not measured).
 */
import { generateKeyPairSync } from 'node:crypto';
import { sealEvent, type ChainHead } from '../src/ledger/chain.js';
import type { LedgerStore, NewLogEvent } from '../src/ledger/port.js';
import { logRowValues } from '../src/ledger/rows.js';
import { encodePublicKey } from '../src/gate/identities.js';
import type { SigningKey } from '../src/gate/keys.js';
import { headSignedEvent } from '../src/engine/signed-head.js';
import { initLedger } from '../src/engine/registry-changes.js';
import { verifyBenchEvent } from './lib.js';

/** Rows between signed heads (env DOTCTL_BENCH_HEAD_EVERY; default 10). */
export const HEAD_EVERY = Number(process.env.DOTCTL_BENCH_HEAD_EVERY ?? 10);

const BENCH_START = new Date(Date.UTC(2024, 0, 1));

/** Two members' keys, made for this run. */
export function benchKeys(): Map<string, SigningKey> {
  const keys = new Map<string, SigningKey>();
  for (const name of ['alice', 'bob']) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    keys.set(name, { privateKey, publicKey: encodePublicKey(publicKey), file: `${name}.key` });
  }
  return keys;
}

/** Gives an empty ledger its genesis registry (dated at the bench's start); returns the rows it wrote. */
export async function initBenchLedger(store: LedgerStore, keys: Map<string, SigningKey>): Promise<number> {
  const identities = [...keys].map(([name, k]) => ({ name, roles: ['operator', 'reviewer'] as const, publicKey: k.publicKey, disabled: false }));
  await initLedger({ ledger: store, identities: identities as never, quorum: 1, keys: [...keys.values()], clock: () => BENCH_START });
  const [last] = await store.readEvents({ limit: 1 });
  return last?.seq ?? 0;
}

/**
 * Seals rows after `head` (the ledger's head, `ledgerId` its id) until the ledger holds `total`
 * rows, a signed head after every HEAD_EVERY bench rows: each row's column values, in order.
 */
export function* signedRows(head: ChainHead, ledgerId: string, total: number, keys: Map<string, SigningKey>): Generator<readonly (string | number | null)[]> {
  let prev: ChainHead = head;
  let i = 0;
  let since = 0;
  let last = { seq: head.seq, hash: head.hash, at: BENCH_START.toISOString(), actor: 'alice' };
  while (prev.seq < total) {
    let e: NewLogEvent;
    if (HEAD_EVERY > 0 && since === HEAD_EVERY) {
      const key = keys.get(last.actor) as SigningKey;
      e = headSignedEvent(ledgerId, last, key);
      since = 0;
    } else {
      i += 1;
      since += 1;
      e = verifyBenchEvent(i);
    }
    const s = sealEvent(prev, e);
    yield logRowValues(s.row, s.detailJson);
    prev = { seq: s.row.seq, hash: s.row.hash };
    if (e.event !== 'head_signed') last = s.row;
  }
}
