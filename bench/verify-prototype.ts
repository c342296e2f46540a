/**
 * A prototype of the `log verify` fast path recommended in bench/README.md, measured by
 * bench/profile-verify.ts against what ships. Not product code: it shows the rate the fix reaches.
 *
 * Per row it does only what the chain needs: rows read as arrays (`.raw()`) in batches of 1,000
 * (small batches die young in the GC), the hash input built from the stored text (the stored
 * detail *is* the canonical JSON that was hashed, so it is hashed as stored instead of parsed and
 * re-encoded), and one-shot `crypto.hash`. A row whose fast hash does not match would, in the real
 * fix, be re-checked by today's `checkRow` (so verdicts stay exactly as they are); here it only
 * counts. `verifyParallel` splits the seq range over worker threads, each checking its range, and
 * joins the ranges by their boundary links.
 */
import { Worker } from 'node:worker_threads';
// @ts-expect-error plain JavaScript (runs in worker threads without a TypeScript loader)
import { verifyRange as verifyRangeJs } from './verify-range.mjs';

/** What one range's check found. */
export interface RangeResult {
  readonly rows: number;
  readonly firstPrev: string | null;
  readonly lastHash: string | null;
  readonly bad: number;
}

/** Checks rows with from < seq <= to of the SQLite ledger at `path` (links inside the range, seq, hashes). */
export const verifyRange = verifyRangeJs as (path: string, from: number, to: number, batch?: number) => RangeResult;

/** Checks seq 1..n in `workers` worker threads; true when every range and every boundary holds. */
export async function verifyParallel(path: string, n: number, workers: number, genesis: string): Promise<{ ok: boolean; rows: number }> {
  const parts = await Promise.all(
    Array.from(
      { length: workers },
      (_, w) =>
        new Promise<RangeResult>((resolve, reject) => {
          const wk = new Worker(new URL('./verify-range.mjs', import.meta.url), {
            workerData: { path, from: Math.floor((n * w) / workers), to: Math.floor((n * (w + 1)) / workers) },
          });
          wk.once('message', resolve);
          wk.once('error', reject);
        }),
    ),
  );
  let ok = parts.every((p) => p.bad === 0) && parts[0]?.firstPrev === genesis;
  for (let i = 1; i < parts.length; i += 1) ok &&= parts[i]?.firstPrev === parts[i - 1]?.lastHash;
  return { ok, rows: parts.reduce((k, p) => k + p.rows, 0) };
}
