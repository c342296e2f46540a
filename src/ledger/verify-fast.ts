/**
 * The fast path of chain verification, over raw rows (arrays in LOG_COLUMNS order, as the
 * drivers return them) rather than materialised LogRows. A row is accepted on the fast path
 * only when it provably passes `checkRow`: its seq and link are the expected ones, its
 * envelope is plain text, its stored detail is already canonical JSON (so hashing it as
 * stored hashes the very bytes `hashRow` would build) and that hash matches. Any other row,
 * tampered or merely unusual, goes through `checkRow` itself, so verdicts (row, reason,
 * message, counts) are exactly those of `verifyChain`. Pure.
 */
import { sha256Hex } from '../model/canonical.js';
import { CLOCK_SKEW_MS } from '../model/time.js';
import { CHAIN_START, GENESIS, checkRow, finishChain, type ChainHead, type ChainProgress, type ChainStep } from './chain.js';
import { isCanonicalObjectText } from './canonical-text.js';
import type { ChainVerdict } from './port.js';
import { LOG_COLUMNS, toLogRow, type StoredLogRow } from './rows.js';

/** A dot_action_log row as a driver returns it in array mode, in LOG_COLUMNS order. */
export type RawLogRow = readonly unknown[];

/** Maps a raw row to the stored-row record `toLogRow` reads. */
export function rawToStored(r: RawLogRow): StoredLogRow {
  const o: Record<string, unknown> = {};
  LOG_COLUMNS.forEach((c, i) => {
    o[c] = r[i];
  });
  return o as unknown as StoredLogRow;
}

const text = (v: unknown): string | null => (v === null ? 'null' : typeof v === 'string' ? JSON.stringify(v) : null);

/**
 * The JSON text of each envelope column (at … outcome), remembering the last value seen per
 * column: most of them repeat from row to row (actor, event, DOT, proposal), and comparing a
 * short string costs less than encoding it again.
 */
class EnvelopeText {
  private readonly raw: unknown[] = new Array(9).fill(undefined);
  private readonly json: (string | null)[] = new Array(9).fill(null);

  of(r: RawLogRow, i: number): string | null {
    const v = r[i];
    if (v === this.raw[i] && v !== undefined) return this.json[i] as string | null;
    const j = text(v);
    this.raw[i] = v;
    this.json[i] = j;
    return j;
  }
}

/** True when the row's hash over its stored text matches and that text is what hashRow would hash. */
function fastHashHolds(r: RawLogRow, seq: number, prev: string, env: EnvelopeText): boolean {
  const detail = r[9];
  if (typeof detail !== 'string' || !isCanonicalObjectText(detail)) return false;
  const at = env.of(r, 1);
  const actor = env.of(r, 2);
  const event = env.of(r, 3);
  const pid = env.of(r, 4);
  const did = env.of(r, 5);
  const ac = env.of(r, 6);
  const ph = env.of(r, 7);
  const outcome = env.of(r, 8);
  if (at === null || actor === null || event === null || pid === null || did === null || ac === null || ph === null || outcome === null) {
    return false;
  }
  const input =
    `${prev}\n{"action_code":${ac},"actor":${actor},"at":${at},"detail":${detail},"dot_id":${did},"event":${event},` + `"outcome":${outcome},"proposal_hash":${ph},"proposal_id":${pid},"seq":${seq}}`;
  return sha256Hex(input) === r[11];
}

/**
 * Checks raw rows (the next ones in seq order) against the progress so far, exactly as
 * `checkRow` would row by row: the progress after them, or the verdict of the first broken one.
 */
export function checkRawRows(progress: ChainProgress, rows: readonly RawLogRow[]): ChainStep {
  let count = progress.rows;
  let last = progress.last;
  let lastAtMs = progress.lastAtMs;
  let lastAtSeq = progress.lastAtSeq;
  const env = new EnvelopeText();
  for (const r of rows) {
    const seq = Number(r[0]);
    const expectedPrev = last === null ? GENESIS : last.hash;
    const atMs = typeof r[1] === 'string' ? Date.parse(r[1]) : Number.NaN;
    // time may not run backwards (checkRow's rule); anything doubtful goes to checkRow itself
    const timeHolds = !Number.isNaN(atMs) && (last === null || lastAtMs === undefined || atMs >= lastAtMs - CLOCK_SKEW_MS);
    if (timeHolds && seq === (last === null ? 1 : last.seq + 1) && r[10] === expectedPrev && fastHashHolds(r, seq, expectedPrev, env)) {
      count += 1;
      last = { seq, hash: r[11] as string };
      if (lastAtMs === undefined || atMs > lastAtMs) {
        lastAtMs = atMs;
        lastAtSeq = seq;
      }
      continue;
    }
    const step = checkRow({ rows: count, last, lastAtMs, lastAtSeq }, toLogRow(rawToStored(r)));
    if (step.kind === 'broken') return step;
    count = step.progress.rows;
    last = step.progress.last;
    lastAtMs = step.progress.lastAtMs;
    lastAtSeq = step.progress.lastAtSeq;
  }
  return { kind: 'ok', progress: { rows: count, last, lastAtMs, lastAtSeq } };
}

/** Re-proves a whole chain from batches of raw rows in seq order (the single-thread path). */
export async function verifyRawBatches(batches: AsyncIterable<readonly RawLogRow[]> | Iterable<readonly RawLogRow[]>, from: ChainProgress = CHAIN_START): Promise<ChainVerdict> {
  let progress = from;
  for await (const rows of batches) {
    const step = checkRawRows(progress, rows);
    if (step.kind === 'broken') return step.verdict;
    progress = step.progress;
  }
  return finishChain(progress);
}

/**
 * What a worker found in its range of rows, checked without knowing the row before it: the
 * range's first row (its seq and prev_hash, to be joined to the previous range), its last,
 * and whether every row held. `clean: false` means some row did not (or its first row is not
 * even checkable); the caller then re-proves from that range on, one row at a time.
 */
export interface RangeReport {
  readonly clean: boolean;
  readonly rows: number;
  readonly first: { readonly seq: number; readonly prev: string } | null;
  readonly last: ChainHead | null;
  /** the earliest time in the range (checked against the ranges before it when joining), in ms */
  readonly minAtMs?: number;
  /** the latest time in the range and the row that carries it */
  readonly maxAtMs?: number;
  readonly maxAtSeq?: number;
}

/** Accumulates a range's report batch by batch (what a worker runs). */
export class RangeCheck {
  private progress: ChainProgress | null = null;
  private first: RangeReport['first'] = null;
  private clean = true;

  /** Checks the next batch; false once the range is known not to hold (stop reading). */
  add(rows: readonly RawLogRow[]): boolean {
    if (!this.clean || rows.length === 0) return this.clean;
    if (this.progress === null) {
      const r = rows[0] as RawLogRow;
      const seq = Number(r[0]);
      if (!Number.isSafeInteger(seq) || typeof r[10] !== 'string') {
        this.clean = false;
        return false;
      }
      this.first = { seq, prev: r[10] };
      // A stand-in predecessor that the first row links to: its own hash is what is checked here.
      this.progress = { rows: 0, last: { seq: seq - 1, hash: r[10] } };
    }
    const step = checkRawRows(this.progress, rows);
    if (step.kind === 'broken') {
      this.clean = false;
      return false;
    }
    this.progress = step.progress;
    for (const r of rows) {
      const atMs = typeof r[1] === 'string' ? Date.parse(r[1]) : Number.NaN;
      if (this.minAtMs === undefined || !(atMs >= this.minAtMs)) this.minAtMs = atMs;
    }
    return true;
  }

  private minAtMs: number | undefined = undefined;

  report(): RangeReport {
    const p = this.progress;
    return { clean: this.clean, rows: p?.rows ?? 0, first: this.first, last: p?.last ?? null, minAtMs: this.minAtMs, maxAtMs: p?.lastAtMs, maxAtSeq: p?.lastAtSeq };
  }
}

/**
 * Joins range reports in seq order into the progress of the chain so far. Stops at the first
 * range that is not clean or does not link to the one before: its index is where the caller
 * must re-prove from (with the progress returned), or -1 when every range joined.
 */
export function joinRanges(reports: readonly RangeReport[]): { progress: ChainProgress; resumeAt: number } {
  let progress = CHAIN_START;
  for (let i = 0; i < reports.length; i += 1) {
    const r = reports[i] as RangeReport;
    if (!r.clean) return { progress, resumeAt: i };
    if (r.first === null || r.last === null) continue;
    const last = progress.last;
    if (r.first.seq !== (last === null ? 1 : last.seq + 1) || r.first.prev !== (last === null ? GENESIS : last.hash)) {
      return { progress, resumeAt: i };
    }
    // time may not run backwards across the join either: a doubt re-proves this range row by row
    const before = progress.lastAtMs;
    if (before !== undefined && !(r.minAtMs !== undefined && r.minAtMs >= before - CLOCK_SKEW_MS)) return { progress, resumeAt: i };
    const later = before === undefined || (r.maxAtMs !== undefined && r.maxAtMs > before);
    progress = { rows: progress.rows + r.rows, last: r.last, lastAtMs: later ? r.maxAtMs : before, lastAtSeq: later ? r.maxAtSeq : progress.lastAtSeq };
  }
  return { progress, resumeAt: -1 };
}
