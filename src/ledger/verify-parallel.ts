/**
 * `log verify` of a SQLite ledger at speed: raw rows, stored canonical text hashed as stored
 * (verify-fast.ts), and on a large ledger the seq range split over worker threads
 * (verify-worker.ts), each checking its range; the ranges are then joined by their boundary
 * links. Any range that does not hold, does not join, or whose worker failed is re-proved in
 * this thread, one row at a time from the end of the last range that joined, so the verdict
 * is always exactly `verifyChain`'s. The worker is found next to this module: dist/ledger/ in
 * the library build, dist/cli/ in the bundled CLI (.ci/bundle-cli.mjs ships it there),
 * none when run from TypeScript source (one thread then).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { ChainVerdict } from './port.js';
import { LOG_COLUMNS } from './rows.js';
import { joinRanges, verifyRawBatches, type RangeReport, type RawLogRow } from './verify-fast.js';

/** How a SQLite ledger is verified. */
export interface ParallelVerifyOptions {
  /** Worker threads for a large ledger; default: the machine's available parallelism (at most 8). */
  readonly workers?: number;
  /** Ledgers with fewer rows are verified in this thread alone. Default 100,000. */
  readonly parallelFrom?: number;
  /** The worker script; default verify-worker.js next to this module (none when run from source: one thread). */
  readonly workerUrl?: URL;
}

/** Rows per read in the workers: small batches die young in the GC. */
const WORKER_BATCH = 1_000;

/** Re-proves the chain of the SQLite ledger open as `db`; the same verdict as verifyChain. */
export async function verifySqliteChain(db: Database.Database, options: ParallelVerifyOptions = {}): Promise<ChainVerdict> {
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), 8));
  const { n, max } = db.prepare('SELECT count(*) AS n, max(seq) AS max FROM dot_action_log').get() as { n: number; max: number | null };
  const url = options.workerUrl ?? workerUrl();
  const path = db.name;
  const small = n < (options.parallelFrom ?? 100_000) || typeof max !== 'number' || max < workers;
  if (workers < 2 || small || url === null || db.memory || !existsSync(path)) {
    return verifyRawBatches(batchesAfter(db, 0));
  }
  // Ranges (bounds[i], bounds[i+1]] over seq; the first starts where verifyChain starts (seq > 0),
  // the last has no upper bound, so together they hold exactly the rows verifyChain reads.
  const bounds = Array.from({ length: workers }, (_, i) => Math.floor((max * i) / workers));
  const reports = await Promise.all(bounds.map((from, i) => runWorker(url, { path, from, to: i + 1 < workers ? (bounds[i + 1] as number) : null, batch: WORKER_BATCH })));
  const { progress, resumeAt } = joinRanges(reports);
  // Workers that saw fewer rows than are here (another file?) prove nothing: all in this thread.
  if (resumeAt < 0 && progress.rows < n) return verifyRawBatches(batchesAfter(db, 0));
  if (resumeAt < 0) return verifyRawBatches([], progress);
  return verifyRawBatches(batchesAfter(db, bounds[resumeAt] as number), progress);
}

/** Raw rows with seq > `after`, in seq order, batch by batch (keyset, as iterateEvents reads). */
function* batchesAfter(db: Database.Database, after: number, size = 10_000): Generator<readonly RawLogRow[]> {
  const st = db.prepare(`SELECT ${LOG_COLUMNS.join(', ')} FROM dot_action_log WHERE seq > ? ORDER BY seq LIMIT ?`).raw(true);
  let from = after;
  for (;;) {
    const rows = st.all(from, size) as unknown[][];
    yield rows;
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < size) return;
    from = Number(last[0]);
  }
}

/**
 * The built worker script next to this module, or null (run from TypeScript source, where
 * Node 20 cannot start a .ts worker: verify then runs in one thread, with the same verdict).
 */
export function workerUrl(name = 'verify-worker.js'): URL | null {
  const url = new URL(`./${name}`, import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : null;
}

/** A range the worker could not report on counts as not holding: it is re-proved in this thread. */
const UNCHECKED: RangeReport = { clean: false, rows: 0, first: null, last: null };

/** Checks one range in a worker thread; a worker that fails reports the range as unchecked. */
export function runWorker(url: URL, job: object): Promise<RangeReport> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: RangeReport): void => {
      if (!settled) resolve(r);
      settled = true;
    };
    try {
      const w = new Worker(url, { workerData: job });
      w.once('message', (m: RangeReport) => done(m));
      w.once('error', () => done(UNCHECKED));
      w.once('exit', () => done(UNCHECKED));
    } catch {
      done(UNCHECKED);
    }
  });
}
