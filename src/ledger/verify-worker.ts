/**
 * The worker thread of a parallel `log verify` (see verify-parallel.ts): checks one range of
 * seq of a SQLite ledger, `from < seq <= to` (no upper bound when `to` is null), reading raw
 * rows in small batches, and posts its RangeReport. Opened read-only; writes nothing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { LOG_COLUMNS } from './rows.js';
import { RangeCheck, type RangeReport } from './verify-fast.js';

/** What the worker is asked to check. */
export interface VerifyWorkerData {
  readonly path: string;
  readonly from: number;
  readonly to: number | null;
  readonly batch: number;
}

/** Checks the range in this thread (also what the worker runs). */
export function checkSqliteRange(job: VerifyWorkerData): RangeReport {
  const db = new Database(job.path, { readonly: true, fileMustExist: true });
  try {
    const cols = LOG_COLUMNS.join(', ');
    const upper = job.to === null ? '' : ' AND seq <= ?';
    const st = db.prepare(`SELECT ${cols} FROM dot_action_log WHERE seq > ?${upper} ORDER BY seq LIMIT ?`).raw(true);
    const check = new RangeCheck();
    let after = job.from;
    for (;;) {
      const rows = (job.to === null ? st.all(after, job.batch) : st.all(after, job.to, job.batch)) as unknown[][];
      if (!check.add(rows)) break;
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < job.batch) break;
      after = Number(last[0]);
    }
    return check.report();
  } finally {
    db.close();
  }
}

if (parentPort !== null && workerData !== null && typeof workerData === 'object' && 'path' in workerData) {
  parentPort.postMessage(checkSqliteRange(workerData as VerifyWorkerData));
}
