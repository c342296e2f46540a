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
    // No upper bound in the SQL: with one (and no statistics yet, as right after a bulk load)
    // the planner sorts the whole rest of the range for every batch. The LIMIT stops at `to` on
    // a gapless log; rows past it (after gaps) are cut off here.
    const text = `SELECT ${LOG_COLUMNS.join(', ')} FROM dotctl.dot_action_log WHERE seq > $1 ORDER BY seq LIMIT $2`;
    const to = job.to;
    const fetch = (after: number): { p: Promise<pg.QueryArrayResult<unknown[]>>; limit: number } => {
      const limit = to === null ? job.batch : Math.max(1, Math.min(job.batch, to - after));
      const p = c.query<unknown[]>({ text, values: [after, limit], rowMode: 'array' });
      p.catch(() => undefined); // a read left pending by a range that broke early must not go unhandled
      return { p, limit };
    };
    const check = new RangeCheck();
    let next = fetch(job.from);
    for (;;) {
      const got = (await next.p).rows;
      let rows = got;
      let more = got.length >= next.limit;
      if (to !== null) {
        const cut = got.findIndex((r) => Number(r[0]) > to);
        if (cut >= 0) rows = got.slice(0, cut);
        if (cut >= 0 || Number(got[got.length - 1]?.[0]) >= to) more = false;
      }
      const last = rows[rows.length - 1];
      if (more && last !== undefined) next = fetch(Number(last[0]));
      if (!check.add(rows) || !more || last === undefined) break;
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
