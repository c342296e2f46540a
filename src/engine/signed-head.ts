/**
 * Every act signed by its actor: a command's writes to the ledger end with one `head_signed` row,
 * the acting identity's Ed25519 signature over the chain head after the last row the command
 * appended (`{ ledger_id, seq, hash, actor, at }`). It is done in one place — a wrapper around the
 * ledger store that remembers the last row appended through it — so no command can forget it, and
 * it is also done when the command fails after writing (a refusal, a failed apply). A process
 * killed before it signs leaves an unsigned tail, which the next command's head covers.
 */
import type { SigningKey } from '../gate/keys.js';
import { signHead } from '../gate/signature.js';
import { ledgerIdOf } from '../ledger/ledger-id.js';
import type { LedgerStore, LogRow, NewLogEvent } from '../ledger/port.js';

const isRow = (x: unknown): x is LogRow =>
  typeof x === 'object' && x !== null && typeof (x as LogRow).seq === 'number' && typeof (x as LogRow).hash === 'string' && typeof (x as LogRow).prevHash === 'string';

/**
 * Runs `fn` with a view of `ledger` that remembers the last row appended through it, then appends
 * the `head_signed` row covering that row, signed by `signer()` (none when it gives no key: the
 * rows stay an unsigned tail). A failure to sign after `fn` failed is swallowed (the first error
 * is the one to report); after `fn` succeeded it is thrown (the ledger fails closed).
 */
export async function withSignedHead<T>(ledger: LedgerStore, signer: () => Promise<SigningKey | null>, fn: (ledger: LedgerStore) => Promise<T>): Promise<T> {
  const seen: { last: LogRow | null } = { last: null };
  const note = (x: unknown): void => {
    if (isRow(x) && (seen.last === null || x.seq > seen.last.seq)) seen.last = x;
  };
  const tracked = new Proxy(ledger, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]): unknown => {
        const r: unknown = (v as (...a: unknown[]) => unknown).apply(target, args);
        // rows appended: one from appendEvent, putProposal…; several from appendEvents (rows
        // that reads return are not appended by this command and are never noted)
        const appended = (x: unknown): void => (prop === 'appendEvents' && Array.isArray(x) ? x.forEach(note) : note(x));
        return r instanceof Promise
          ? r.then((x: unknown) => {
              appended(x);
              return x;
            })
          : r;
      };
    },
  });
  let result: T;
  try {
    result = await fn(tracked);
  } catch (err) {
    if (seen.last) await appendHead(ledger, seen.last, signer).catch(() => undefined);
    throw err;
  }
  if (seen.last) await appendHead(ledger, seen.last, signer);
  return result;
}

/** Appends the signed head covering `last`. */
async function appendHead(ledger: LedgerStore, last: LogRow, signer: () => Promise<SigningKey | null>): Promise<LogRow | null> {
  const key = await signer().catch(() => null);
  if (!key) return null;
  return ledger.appendEvent(headSignedEvent((await ledgerIdOf(ledger)) ?? last.hash, last, key));
}

/**
 * The `head_signed` event covering row `last` of ledger `ledgerId`, signed with `key`: Ed25519
 * over `{ ledger_id, seq, hash, actor, at }`. It is dated as the row it covers: that time came
 * from the trusted clock (the local one could run backwards).
 */
export function headSignedEvent(ledgerId: string, last: Pick<LogRow, 'seq' | 'hash' | 'actor' | 'at'>, key: SigningKey): NewLogEvent {
  const claim = { ledgerId, seq: last.seq, hash: last.hash, actor: last.actor, at: last.at };
  return {
    at: last.at,
    actor: last.actor,
    event: 'head_signed',
    proposalId: null,
    dotId: null,
    actionCode: null,
    proposalHash: null,
    outcome: 'ok',
    detail: { covers_seq: last.seq, covers_hash: last.hash, key: key.publicKey, signature: signHead(key.privateKey, claim) },
  };
}
