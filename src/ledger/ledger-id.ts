/**
 * A ledger's identity and its head, as the witness in a target and a checkpoint name them. The
 * id is the hash of the log's first row (seq 1): fixed when the ledger was made, shared by every
 * copy of it, different for any other ledger (its genesis row carries a random nonce).
 */
import type { LedgerStore, LogRow } from './port.js';

/** The ledger's id: the hash of its row with seq 1, or null while the log is empty. */
export async function ledgerIdOf(store: LedgerStore): Promise<string | null> {
  const [first] = await store.readEvents({ seqs: [1] });
  return first?.hash ?? null;
}

/** The ledger's head: its newest row's seq and hash, or null while the log is empty. */
export async function ledgerHeadOf(store: LedgerStore): Promise<{ readonly seq: number; readonly hash: string } | null> {
  const [last] = await store.readEvents({ limit: 1 });
  return last ? { seq: last.seq, hash: last.hash } : null;
}

/** The hashes of the rows at `seqs` (a seq the ledger does not hold is absent from the map). */
export async function rowHashesAt(store: LedgerStore, seqs: Iterable<number>): Promise<ReadonlyMap<number, string>> {
  const wanted = [...new Set(seqs)];
  const found = new Map<number, string>();
  // a few hundred at a time, well under every driver's bound on bind parameters
  for (let i = 0; i < wanted.length; i += 500) {
    const rows: readonly LogRow[] = await store.readEvents({ seqs: wanted.slice(i, i + 500) });
    for (const r of rows) found.set(r.seq, r.hash);
  }
  return found;
}
