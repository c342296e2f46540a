/**
 * The worker thread of a parallel `log verify` of a PostgreSQL ledger (verify-pg-parallel.ts):
 * on its own connection, inside the snapshot the caller exported (so every worker sees the same
 * rows the caller does), checks one range of seq, `from < seq <= to` (no upper bound when `to`
 * is null), reading raw rows batch by batch with the next batch in flight while this one is
 * hashed, and posts its RangeReport. Read-only; writes nothing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { LOG_COLUMNS } from './rows.js';
import { RangeCheck, type RangeReport } from './verify-fast.js';

/** What the worker is asked to check. */
export interface PgVerifyWorkerData {
  readonly url: string;
  /** the caller's exported snapshot (pg_export_snapshot()) */
  readonly snapshot: string;
  readonly from: number;
  readonly to: number | null;
  readonly batch: number;
}

/** Checks the range on a connection of its own (also what the worker runs). */
export async function checkPostgresRange(job: PgVerifyWorkerData): Promise<RangeReport> {
  // a snapshot id is hex groups and dashes; SET TRANSACTION SNAPSHOT takes no parameters
  if (!/^[0-9A-F-]+$/i.test(job.snapshot)) throw new Error('not a snapshot id');
  const c = new pg.Client({ connectionString: job.url, application_name: 'dotctl-verify' });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await c.query(`SET TRANSACTION SNAPSHOT '${job.snapshot}'`);
    const upper = job.to === null ? '' : ' AND seq <= $3';
    const text = `SELECT ${LOG_COLUMNS.join(', ')} FROM dotctl.dot_action_log WHERE seq > $1${upper} ORDER BY seq LIMIT $2`;
    const fetch = (after: number): Promise<pg.QueryArrayResult<unknown[]>> => {
      const p = c.query<unknown[]>({ text, values: job.to === null ? [after, job.batch] : [after, job.batch, job.to], rowMode: 'array' });
      p.catch(() => undefined); // a read left pending by a range that broke early must not go unhandled
      return p;
    };
    const check = new RangeCheck();
    let next = fetch(job.from);
    for (;;) {
      const { rows } = await next;
      const last = rows[rows.length - 1];
      const more = last !== undefined && rows.length >= job.batch;
      if (more) next = fetch(Number(last[0]));
      if (!check.add(rows) || !more) break;
    }
    return check.report();
  } finally {
    await c.end().catch(() => undefined);
  }
}

if (parentPort !== null && workerData !== null && typeof workerData === 'object' && 'snapshot' in workerData) {
  const port = parentPort;
  checkPostgresRange(workerData as PgVerifyWorkerData).then(
    (r) => port.postMessage(r),
    // no report: the caller counts the range as unchecked and re-proves it itself
    () => process.exit(1),
  );
}
