/**
 * The hash chain of `dot_action_log`, as pure functions: how a row is sealed onto the head
 * and how a sequence of stored rows is re-proved. Adapters store what `sealEvent` returns and
 * hand what they read back to `verifyChain`; neither knows how the other stores bytes.
 *
 * Each row's hash is `sha256Hex(prevHash + "\n" + canonicalJson(fields))` over the row's own
 * fields (seq included, so renumbering is an edit), and `prev_hash` is the previous row's hash
 * (GENESIS for row 1). The chain alone proves that no row was edited, inserted, reordered or
 * removed *before the head*; removing the newest rows leaves a shorter chain that still
 * verifies, so tail truncation is only detectable against a head recorded elsewhere.
 */
import { canonicalJson, sha256Hex } from '../model/canonical.js';
import { LedgerError } from '../model/errors.js';
import { CLOCK_SKEW_MS } from '../model/time.js';
import { LOG_EVENT_KINDS, type ChainVerdict, type LogEventKind, type LogRow, type NewLogEvent } from './port.js';

/** The prev_hash of row 1: a fixed, domain-separated value rather than 64 zeros. */
export const GENESIS: string = sha256Hex('dotctl-genesis-v1');

/** The fields of a row that its hash covers (everything but prev_hash and hash). */
export type ChainFields = Omit<LogRow, 'prevHash' | 'hash'>;

/** The stored head of the chain: its last seq and hash, or null for an empty log. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
  /** the time of the head row, when the adapter read it: a new row is never dated before it */
  readonly at?: string;
}

/** Hash of one row chained onto `prevHash`. */
export function hashRow(prevHash: string, row: ChainFields): string {
  return sha256Hex(`${prevHash}\n${canonicalRowFields(row)}`);
}

/**
 * The canonical JSON a row's hash is computed over: `canonicalJson` of the row's fields under
 * their stored snake_case names. The fixed envelope is written out directly (keys already in
 * canonical order) because verify runs this once per row over millions of rows; anything
 * unusual in it falls back to the generic encoder, so the bytes are always canonicalJson's.
 */
export function canonicalRowFields(row: ChainFields): string {
  const envelope = [row.actionCode, row.actor, row.at, row.dotId, row.event, row.outcome, row.proposalHash, row.proposalId];
  if (!Number.isSafeInteger(row.seq) || !envelope.every((v) => v === null || typeof v === 'string')) {
    return canonicalJson(snakeFields(row));
  }
  const s = (v: string | null): string => (v === null ? 'null' : JSON.stringify(v));
  return (
    `{"action_code":${s(row.actionCode)},"actor":${s(row.actor)},"at":${s(row.at)},` +
    `"detail":${canonicalJson(row.detail)},"dot_id":${s(row.dotId)},"event":${s(row.event)},` +
    `"outcome":${s(row.outcome)},"proposal_hash":${s(row.proposalHash)},"proposal_id":${s(row.proposalId)},` +
    `"seq":${row.seq}}`
  );
}

/** The hashed fields of a row under their stored names (the definition the fast path above follows). */
export function snakeFields(row: ChainFields): Record<string, unknown> {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    event: row.event,
    proposal_id: row.proposalId,
    dot_id: row.dotId,
    action_code: row.actionCode,
    proposal_hash: row.proposalHash,
    outcome: row.outcome,
    detail: row.detail,
  };
}

/** A row ready to insert: the LogRow and its detail as the canonical JSON text to store. */
export interface SealedRow {
  readonly row: LogRow;
  readonly detailJson: string;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Normalises an ISO-8601 time with an explicit zone to `Date#toISOString()` form (UTC,
 * milliseconds), so stored times compare correctly as text; null when it is not one.
 */
export function normalizeIsoTime(text: string): string | null {
  if (!ISO_UTC.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** True when `value` names a LogEventKind. */
export function isLogEventKind(value: string): value is LogEventKind {
  return (LOG_EVENT_KINDS as readonly string[]).includes(value);
}

/**
 * Seals an event onto `head`: validates it, normalises its time, canonicalises its detail
 * (what is read back re-hashes to the same bytes) and computes seq, prev_hash and hash.
 * Throws a LedgerError naming the field when the event cannot be written as given.
 */
export function sealEvent(head: ChainHead | null, event: NewLogEvent): SealedRow {
  const refuse = (why: string): never => {
    throw new LedgerError(`cannot append to dot_action_log: ${why}; fix the event the engine writes`, {
      code: 'LEDGER_BAD_EVENT',
      context: { event: event.event },
    });
  };
  const given = normalizeIsoTime(event.at) ?? refuse(`its time ${JSON.stringify(event.at)} is not ISO-8601 with a zone`);
  const at = notBeforeHead(head, given);
  if (!isLogEventKind(event.event)) refuse(`${JSON.stringify(event.event)} is not a log event kind`);
  if (typeof event.actor !== 'string' || event.actor.length === 0) refuse('its actor is empty');
  // a clamped row keeps the time its writer's clock claimed (the act's own record carries it too)
  const detail = at !== given && event.detail !== null && typeof event.detail === 'object' && !Array.isArray(event.detail) ? { ...event.detail, claimed_at: given } : event.detail;
  if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) refuse('its detail is not a JSON object');
  let detailJson = '';
  try {
    detailJson = canonicalJson(detail);
  } catch (err) {
    refuse(`its detail is not JSON (${(err as Error).message})`);
  }
  const fields: ChainFields = {
    seq: head === null ? 1 : head.seq + 1,
    at,
    actor: event.actor,
    event: event.event,
    proposalId: event.proposalId ?? null,
    dotId: event.dotId ?? null,
    actionCode: event.actionCode ?? null,
    proposalHash: event.proposalHash ?? null,
    outcome: event.outcome ?? null,
    // What the adapters read back: the parsed canonical text, not the caller's object.
    detail: JSON.parse(detailJson) as Record<string, unknown>,
  };
  const prevHash = head === null ? GENESIS : head.hash;
  return { row: { ...fields, prevHash, hash: hashRow(prevHash, fields) }, detailJson };
}

/**
 * Time in the log never runs backwards: a row whose clock reads before the head's time is dated
 * at the head's time (its detail keeps the time it claimed as `claimed_at`). The act keeps its own claimed time where it has one (a decision's `at`,
 * judged by the gate on a trusted clock: a backdated approval only expires sooner, a future-dated
 * one is refused); the chain stays verifiable whatever clock a writer had.
 */
function notBeforeHead(head: ChainHead | null, at: string): string {
  const headAt = head?.at === undefined ? null : normalizeIsoTime(head.at);
  return headAt !== null && at < headAt ? headAt : at;
}

/** Where a verification stands after the rows seen so far. */
export interface ChainProgress {
  readonly rows: number;
  readonly last: ChainHead | null;
  /** the time of the last row, in ms (time may not run backwards beyond CLOCK_SKEW_MS) */
  readonly lastAtMs?: number;
  /** the row that carries that time (the latest time seen so far) */
  readonly lastAtSeq?: number;
}

/** The start of a verification. */
export const CHAIN_START: ChainProgress = { rows: 0, last: null };

/** One step of verification: the progress after `row`, or the verdict naming why it breaks the chain. */
export type ChainStep = { readonly kind: 'ok'; readonly progress: ChainProgress } | { readonly kind: 'broken'; readonly verdict: Extract<ChainVerdict, { kind: 'broken' }> };

/**
 * Checks one row against the progress so far. Order matters: a seq gap (deleted row) is
 * reported before the link it also breaks, and a broken link before the row's own hash, so
 * each tampering is named by the row where the evidence starts.
 */
export function checkRow(progress: ChainProgress, row: LogRow): ChainStep {
  const broken = (seq: number, reason: Extract<ChainVerdict, { kind: 'broken' }>['reason'], message: string): ChainStep => ({
    kind: 'broken',
    verdict: { kind: 'broken', rows: progress.rows, seq, reason, message },
  });
  const last = progress.last;
  const expected = last === null ? 1 : last.seq + 1;
  if (!Number.isSafeInteger(row.seq) || row.seq > expected) {
    const one = row.seq === expected + 1;
    const what = one ? `row ${expected} is missing` : `rows ${expected} to ${row.seq - 1} are missing`;
    const where = last === null ? `the log starts at seq ${row.seq}` : `seq jumps from ${last.seq} to ${row.seq}`;
    return broken(expected, 'seq_gap', `${what} (${where}), so ${one ? 'it was' : 'they were'} deleted`);
  }
  if (row.seq < expected) {
    return broken(row.seq, 'broken_link', `row ${row.seq} comes after row ${expected - 1}, so rows are out of order or duplicated`);
  }
  if (last === null) {
    if (row.prevHash !== GENESIS) {
      return broken(row.seq, 'bad_genesis', `row 1 does not start from the genesis hash, so the front of the log was replaced`);
    }
  } else if (row.prevHash !== last.hash) {
    return broken(row.seq, 'broken_link', `row ${row.seq} does not link to row ${last.seq} (its prev_hash is not row ${last.seq}'s hash), so a row was inserted, reordered or rewritten there`);
  }
  if (hashRow(row.prevHash, row) !== row.hash) {
    return broken(row.seq, 'hash_mismatch', `row ${row.seq} was edited after it was written (its content no longer matches its hash)`);
  }
  const atMs = Date.parse(row.at);
  if (last !== null && progress.lastAtMs !== undefined && !(atMs >= progress.lastAtMs - CLOCK_SKEW_MS)) {
    const back = Number.isNaN(atMs) ? 'not a time' : `${Math.round((progress.lastAtMs - atMs) / 60_000)} min`;
    return broken(
      row.seq,
      'time_backwards',
      `row ${row.seq} is dated ${row.at}, ${back} before row ${progress.lastAtSeq ?? last.seq} (${new Date(progress.lastAtMs).toISOString()}): time ran backwards in the log, so a clock was set back or rows were forged there`,
    );
  }
  const later = progress.lastAtMs === undefined || atMs > progress.lastAtMs;
  const lastAtMs = later ? atMs : progress.lastAtMs;
  const lastAtSeq = later ? row.seq : progress.lastAtSeq;
  return { kind: 'ok', progress: { rows: progress.rows + 1, last: { seq: row.seq, hash: row.hash }, lastAtMs, lastAtSeq } };
}

/** The verdict for a verification that read every row without a break. */
export function finishChain(progress: ChainProgress): ChainVerdict {
  return { kind: 'intact', rows: progress.rows, headHash: progress.last?.hash ?? GENESIS };
}

/**
 * Re-proves a chain from rows in seq order, in constant memory, stopping at the first broken
 * row. A sync iterable gives a verdict, an async one a promise of it. In a broken verdict,
 * `rows` counts the rows that verified before the break and `seq` names the first broken row
 * (for a gap, the first missing seq).
 */
export function verifyChain(rows: Iterable<LogRow>): ChainVerdict;
export function verifyChain(rows: AsyncIterable<LogRow>): Promise<ChainVerdict>;
export function verifyChain(rows: Iterable<LogRow> | AsyncIterable<LogRow>): ChainVerdict | Promise<ChainVerdict> {
  if (Symbol.asyncIterator in rows) return verifyAsync(rows);
  let progress = CHAIN_START;
  for (const row of rows) {
    const step = checkRow(progress, row);
    if (step.kind === 'broken') return step.verdict;
    progress = step.progress;
  }
  return finishChain(progress);
}

async function verifyAsync(rows: AsyncIterable<LogRow>): Promise<ChainVerdict> {
  let progress = CHAIN_START;
  for await (const row of rows) {
    const step = checkRow(progress, row);
    if (step.kind === 'broken') return step.verdict;
    progress = step.progress;
  }
  return finishChain(progress);
}
