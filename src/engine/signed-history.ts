/**
 * `log verify` beyond the hash chain: every signed head and every registry event is checked
 * against the registry in force at its seq, in a separate pass over those few rows (the chain
 * itself is re-proven by the store's fast verify). Rows re-hashed without the keys no longer
 * match the heads that covered them; a head signed by a key the registry did not hold then, or
 * a signature that does not verify, breaks the ledger. Rows after the last signed head (commands
 * still running, or one that died before it signed) are reported as an unsigned tail.
 */
import { LedgerError } from '../model/errors.js';
import type { LogRow } from '../model/records.js';
import { verifyLedger } from '../ledger/states.js';
import type { ChainVerdict, LedgerStore } from '../ledger/port.js';
import { verifyHeadAsync } from '../gate/signature.js';
import { readRegistry, registryAt, RegistryBrokenError, type RegistryView } from './registry.js';
import { ledgerIdOf, rowHashesAt } from '../ledger/ledger-id.js';

/** How much of an intact log is signed. */
export interface Signing {
  /** the last row a verified head covers (0: none) */
  readonly signedThrough: number;
  /** rows after it, head rows aside: what a command wrote before it died unsigned */
  readonly unsignedTail: number;
  /** who wrote the unsigned tail */
  readonly tailActors: readonly string[];
  /** rows of an earlier dotctl before `ledger_upgraded` (or every row of a ledger with no registry): legacy, unsigned */
  readonly legacyRows: number;
  /** signed heads verified */
  readonly heads: number;
  /** whether the ledger has an identity registry */
  readonly registry: boolean;
}

type ChainBroken = Extract<ChainVerdict, { kind: 'broken' }>;

/** The verdict of `log verify`: the chain's, and then its signatures'. */
export type LogVerdict =
  | (Extract<ChainVerdict, { kind: 'intact' }> & Signing)
  | ChainBroken
  | {
      readonly kind: 'broken';
      readonly rows: number;
      readonly seq: number;
      readonly reason: 'bad_registry' | 'bad_head' | 'unknown_signer' | 'bad_signature';
      readonly message: string;
    };

type Broken = Extract<LogVerdict, { kind: 'broken' }>;

/**
 * Re-proves the chain, then every head signature and registry event; never writes. The
 * signature pass runs alongside the chain's (its reads and Ed25519 verifications overlap the
 * hashing), but the verdict is the sequential one: a broken chain (or forged state) first,
 * and a failure of the signature pass counts only when the chain holds.
 */
export async function verifySignedLog(ledger: LedgerStore): Promise<LogVerdict> {
  const stop = { chainBroken: false };
  const signing = checkSignatures(ledger, stop).then(
    (v) => ({ ok: true as const, v }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  let chain: ChainVerdict;
  try {
    chain = await verifyLedger(ledger);
  } catch (err) {
    stop.chainBroken = true;
    await signing;
    throw err;
  }
  if (chain.kind === 'broken') {
    stop.chainBroken = true;
    await signing; // nothing left running on the ledger when the caller closes it
    return chain;
  }
  const s = await signing;
  if (!s.ok) throw s.err;
  if ('reason' in s.v) return { ...s.v, rows: chain.rows };
  // without a registry every row is legacy, unsigned
  return { ...chain, ...s.v, ...(s.v.registry ? {} : { legacyRows: chain.rows }) };
}

/**
 * The ledger verified before the gate decides on it (approve, apply, rollback, a registry
 * change): a LedgerError (exit 7) naming the seq when it does not verify.
 */
export async function requireVerified(ledger: LedgerStore, name: string, action: string): Promise<void> {
  const v = await verifySignedLog(ledger);
  if (v.kind === 'broken') {
    throw new LedgerError(
      `the ledger ${name} does not verify at seq ${v.seq} (${v.message}); dotctl will not ${action} on an unverifiable ledger: run dotctl log verify and restore it from a backup`,
      {
        code: 'LEDGER_BROKEN',
        context: { seq: v.seq, reason: v.reason },
      },
    );
  }
}

/** Head verifications kept in flight: enough to keep every core of the thread pool busy. */
const IN_FLIGHT = 64;

async function checkSignatures(ledger: LedgerStore, stop: { readonly chainBroken: boolean }): Promise<Signing | Broken> {
  const broken = (seq: number, reason: Broken['reason'], message: string): Broken => ({ kind: 'broken', rows: 0, seq, reason, message });
  let view: RegistryView;
  try {
    view = await readRegistry(ledger);
  } catch (err) {
    if (err instanceof RegistryBrokenError) return broken(err.seq, 'bad_registry', err.message.replace(/; restore the ledger.*$/, ''));
    throw err;
  }
  if (view.entries.length === 0) return { signedThrough: 0, unsignedTail: 0, tailActors: [], legacyRows: 0, heads: 0, registry: false };
  const legacyRows = view.upgradedSeq === null ? 0 : view.upgradedSeq - 1;
  const heads = await ledger.readEvents({ event: 'head_signed' });
  const ledgerId = await ledgerIdOf(ledger);
  // the rows heads cover that are not their own predecessor, read in one query
  const far = await rowHashesAt(
    ledger,
    heads.map((h) => (h.detail as { covers_seq?: unknown }).covers_seq).filter((c, i): c is number => typeof c === 'number' && Number.isSafeInteger(c) && c !== (heads[i] as LogRow).seq - 1),
  );
  // Signatures are verified in the thread pool, a window of them at once, and judged in seq
  // order: the first head that fails a check (structural here, or its signature) is the verdict.
  const pending: { seq: number; actor: string; ok: Promise<boolean> }[] = [];
  const badSignature = (p: { seq: number; actor: string }): Broken => broken(p.seq, 'bad_signature', `the signature of the head at seq ${p.seq} by ${p.actor} does not verify`);
  /** Waits for the pending verifications in order; the first that failed, or null. */
  const settle = async (keep: number): Promise<Broken | null> => {
    while (pending.length > keep) {
      const p = pending.shift() as (typeof pending)[number];
      if (!(await p.ok)) return badSignature(p);
    }
    return null;
  };
  let signedThrough = 0;
  for (const h of heads) {
    // the chain's verdict wins: stop spending the cores on heads nobody will hear of
    if (stop.chainBroken) return broken(h.seq, 'bad_head', 'not checked: the chain does not hold');
    const problem = checkHead(h, far, view);
    if (problem !== null) return (await settle(0)) ?? broken(h.seq, problem.reason, problem.message);
    const d = h.detail as { covers_seq: number; covers_hash: string; key: string; signature: string };
    pending.push({ seq: h.seq, actor: h.actor, ok: verifyHeadAsync(d.key, d.signature, { ledgerId: ledgerId ?? '', seq: d.covers_seq, hash: d.covers_hash, actor: h.actor, at: claimedAt(h) }) });
    const bad = await settle(IN_FLIGHT);
    if (bad) return bad;
    signedThrough = Math.max(signedThrough, d.covers_seq);
  }
  const bad = await settle(0);
  if (bad) return bad;
  // rows of commands still running (or that died) are not signed yet: reported, never an error,
  // since concurrent commands of several actors leave such a tail at any moment
  const tail = await unsignedTail(ledger, Math.max(signedThrough, legacyRows));
  const tailActors = [...new Set(tail.map((r) => r.actor))];
  return { signedThrough, unsignedTail: tail.length, tailActors, legacyRows, heads: heads.length, registry: true };
}

/** A head's checks short of its signature (its form, the row it covers, its signer's key): what fails, or null. */
function checkHead(h: LogRow, far: ReadonlyMap<number, string>, view: RegistryView): { reason: Broken['reason']; message: string } | null {
  const d = h.detail as Record<string, unknown>;
  const covers = d.covers_seq;
  const hash = d.covers_hash;
  const key = d.key;
  const signature = d.signature;
  if (typeof covers !== 'number' || !Number.isSafeInteger(covers) || covers < 1 || covers >= h.seq || typeof hash !== 'string' || typeof key !== 'string' || typeof signature !== 'string') {
    return { reason: 'bad_head', message: `the signed head at seq ${h.seq} is malformed` };
  }
  const coveredHash = covers === h.seq - 1 ? h.prevHash : far.get(covers);
  if (coveredHash !== hash) {
    return {
      reason: 'bad_head',
      message: `the head ${h.actor} signed at seq ${h.seq} covers row ${covers} as ${hash.slice(0, 12)}…, but that row now hashes to ${String(coveredHash).slice(0, 12)}…: rows up to ${covers} were rewritten and re-hashed`,
    };
  }
  // judged by the registry before the covered row: a command that rotates its signer's own key signs with the key it acted with
  const member = registryAt(view, covers - 1)?.members.find((m) => m.name === h.actor);
  if (!member || member.publicKey !== key || member.disabled) {
    const why = !member ? `${h.actor} was not a member` : member.disabled ? `${h.actor} was disabled` : `the key is not ${h.actor}'s`;
    return { reason: 'unknown_signer', message: `the head at seq ${h.seq} is signed by a key the identity registry did not hold for ${h.actor} at seq ${covers} (${why})` };
  }
  return null;
}

/** Rows after `seq`, head rows aside. */
async function unsignedTail(ledger: LedgerStore, seq: number): Promise<LogRow[]> {
  return (await ledger.readEvents({ fromSeq: seq + 1 })).filter((r) => r.event !== 'head_signed');
}

/** The time a head's signer signed: the row's `at`, or the `claimed_at` kept when the ledger dated the row at its head's time. */
function claimedAt(h: LogRow): string {
  const claimed = (h.detail as { claimed_at?: unknown }).claimed_at;
  return typeof claimed === 'string' ? claimed : h.at;
}
