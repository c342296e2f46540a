/**
 * `log verify` of a PostgreSQL ledger at speed: raw rows in array mode (verify-fast.ts), and on
 * a large ledger the seq range split over worker threads (verify-pg-worker.ts), each on its own
 * connection inside one snapshot this connection exports, so they all see exactly the rows this
 * transaction sees. The ranges are joined by their boundary links; any range that does not
 * hold, does not join, or whose worker failed (no connection left, say) is re-proved here, one
 * row at a time from the end of the last range that joined, in the same snapshot, so the
 * verdict is always exactly `verifyChain`'s (the seq of the first bad row, whichever range it
 * is in). The worker is found next to this module (none when run from TypeScript source: one
 * thread then).
 */
import { availableParallelism } from 'node:os';
import type pg from 'pg';
import type { ChainVerdict } from './port.js';
import { LOG_COLUMNS } from './rows.js';
import { joinRanges, verifyRawBatches, type RawLogRow } from './verify-fast.js';
import { runWorker, workerUrl, type ParallelVerifyOptions } from './verify-parallel.js';

const BATCH_SQL = `SELECT ${LOG_COLUMNS.join(', ')} FROM dotctl.dot_action_log WHERE seq > $1 ORDER BY seq LIMIT $2`;

/** Rows per read in the workers. */
const WORKER_BATCH = 5_000;

/**
 * Re-proves the chain of the ledger at `url` on `c` (a connection of it, idle, outside any
 * transaction); the same verdict as verifyChain over iterateEvents.
 */
export async function verifyPostgresChain(c: pg.ClientBase, url: string, batchSize: number, options: ParallelVerifyOptions = {}): Promise<ChainVerdict> {
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const verdict = await verifyInSnapshot(c, url, batchSize, options);
    await c.query('COMMIT');
    return verdict;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function verifyInSnapshot(c: pg.ClientBase, url: string, batchSize: number, options: ParallelVerifyOptions): Promise<ChainVerdict> {
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), 8));
  // max(seq) alone (the primary key's last entry): the ranges below cover every seq > 0, in one snapshot
  const max = Number((await c.query<{ max: string | null }>('SELECT max(seq) AS max FROM dotctl.dot_action_log')).rows[0]?.max ?? 0);
  const script = options.workerUrl ?? workerUrl('verify-pg-worker.js');
  if (workers < 2 || max < (options.parallelFrom ?? 100_000) || script === null) return verifyRawBatches(batchesAfter(c, 0, batchSize));
  const snapshot = (await c.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]?.s as string;
  // Ranges (bounds[i], bounds[i+1]] over seq; the first starts where verifyChain starts (seq > 0),
  // the last has no upper bound, so together they hold exactly the rows verifyChain reads.
  const bounds = Array.from({ length: workers }, (_, i) => Math.floor((max * i) / workers));
  const reports = await Promise.all(bounds.map((from, i) => runWorker(script, { url, snapshot, from, to: i + 1 < workers ? (bounds[i + 1] as number) : null, batch: WORKER_BATCH })));
  const { progress, resumeAt } = joinRanges(reports);
  if (resumeAt < 0) return verifyRawBatches([], progress);
  return verifyRawBatches(batchesAfter(c, bounds[resumeAt] as number, batchSize), progress);
}

/** Raw rows with seq > `after`, in seq order, the next batch read while this one is checked. */
async function* batchesAfter(c: pg.ClientBase, after: number, size: number): AsyncGenerator<readonly RawLogRow[]> {
  const fetch = (from: number): Promise<pg.QueryArrayResult<unknown[]>> => {
    const p = c.query<unknown[]>({ text: BATCH_SQL, values: [from, size], rowMode: 'array' });
    p.catch(() => undefined); // a read left pending by an early verdict must not become an unhandled rejection
    return p;
  };
  let next = fetch(after);
  try {
    for (;;) {
      const { rows } = await next;
      const last = rows[rows.length - 1];
      const more = last !== undefined && rows.length >= size;
      if (more) next = fetch(Number(last[0]));
      yield rows;
      if (!more) return;
    }
  } finally {
    // an early verdict leaves a read in flight: let it finish before the transaction ends
    await next.catch(() => undefined);
  }
}
